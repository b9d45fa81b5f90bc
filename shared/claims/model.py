"""The compiled claim mapping (`Rules`) and what applying it yields (`ClaimSet`, `Denial`).

Every Struct here is frozen and keyword-only: built once at init by `shared.claims.compile`
(or by hand for the built-in mapping), read per event by `shared.claims.engine`. Pure data with a
few derived facts, computed once: whether a section needs a condition context, whether it has
anything besides claims, and which attributes each source must project.
"""

from functools import cached_property
from typing import Final

import msgspec

from shared.claims.conditions import Condition
from shared.claims.file import Groups, Scopes, Suppress
from shared.claims.from_event import AttributeGroups, EventRead
from shared.claims.guard import ClaimType, Token
from shared.lookup import PRIMARY, LookupSpec
from shared.values import JSONValue

__all__ = (
    "DEFAULT_RULES",
    "EMPTY_CLAIMS",
    "ClaimRule",
    "ClaimSet",
    "Denial",
    "Grant",
    "GroupOverride",
    "Rules",
    "Section",
    "Trace",
)

Trace = list[tuple[str, str]]
"""What an explained invocation's mapping did: `(position, code)` pairs in the order it was
applied (`shared.claims.explain` writes them)."""


class ClaimRule(msgspec.Struct, frozen=True, kw_only=True):
    """Copy one attribute of a source into a claim.

    Parameters
    ----------
    path
        Attribute path: the top-level attribute, then keys into nested maps.
    claim
        Claim name in the token(s).
    tokens
        `id`, `access` or both.
    type
        The value type the claim must have; any other value is dropped and counted.
    default
        Value used when the attribute is absent or null (None: no default).
    required
        A profile without this attribute is handled as a missing profile (`ON_MISSING`).
    priority
        Past a token budget (`ID_TOKEN_MAX_BYTES`), the lowest is shed first; a `required`
        rule's claim never is.
    source
        What it reads: the primary item (`item`), a related item, a query (one value per
        item, folded into a list), or the event (`event`, `identity`: see `event`).
    when
        The rule applies only when this condition holds (None: always).
    event
        For `source = "event"` or `"identity"`: what it reads of the event, and how.
    where
        Its position in the file, e.g. `user.claims[3]`: what an explanation names.
    """

    path: tuple[str, ...]
    claim: str
    tokens: tuple[Token, ...]
    type: ClaimType = "any"
    default: JSONValue = None
    required: bool = False
    priority: int = 0
    source: str = PRIMARY
    when: Condition | None = None
    event: EventRead | None = None
    where: str = ""


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """A conditional change to the tokens, applied after the mapping when `when` holds.

    Parameters
    ----------
    where
        Its position in the file, e.g. `user.grants[2]`: what a denial logs.
    when
        The condition.
    deny
        Fail the sign-in with the fixed message (alone: the loader refuses other actions).
    scopes_add, scopes_suppress
        Access-token scopes; a suppressed scope is never added, whichever grant adds it.
    id_claims, access_claims
        Static claims per token, checked at load like `[user.static]`.
    groups_add, groups_remove
        Edits of the group override; roles and preferred role are kept; removal wins.
    """

    where: str
    when: Condition
    deny: bool = False
    scopes_add: tuple[str, ...] = ()
    scopes_suppress: tuple[str, ...] = ()
    id_claims: tuple[tuple[str, JSONValue], ...] = ()
    access_claims: tuple[tuple[str, JSONValue], ...] = ()
    groups_add: tuple[str, ...] = ()
    groups_remove: tuple[str, ...] = ()


def _attributes_of(part: Suppress | Scopes | Groups) -> list[str]:
    """The item attributes a `*_from` field of `part` names."""
    names = (getattr(part, field) for field in part.__struct_fields__ if field.endswith("_from"))
    return [name for name in names if name is not None]


def _holds_float(values: list[JSONValue]) -> bool:
    for value in values:
        if isinstance(value, float):
            return True
        if isinstance(value, list) and _holds_float(value):
            return True
        if isinstance(value, dict) and _holds_float(list(value.values())):
            return True
    return False


class Section(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    """Everything applied to one kind of principal (users, or machine clients).

    Parameters
    ----------
    rules
        Attribute rules.
    static_id, static_access
        Constant claims per token.
    suppress, scopes, groups
        The file's `[user.suppress]`, `[user.scopes]` and `[user.groups]`, as written.
    lookup
        What the section reads besides the primary item, and the primary item's key when the
        file gives one.
    grants
        Conditional changes applied after the mapping, in file order.
    event_groups
        `[user.groups] from_attribute`: the groups a user attribute names, or None.
    reads_items
        Whether this principal's items are read at all. False when the section reads the event
        and no item (or the whole mapping reads no item): no table is read, and `ON_MISSING`
        never applies for want of a profile.
    """

    rules: tuple[ClaimRule, ...] = ()
    static_id: tuple[tuple[str, JSONValue], ...] = ()
    static_access: tuple[tuple[str, JSONValue], ...] = ()
    suppress: Suppress = Suppress()
    scopes: Scopes = Scopes()
    groups: Groups = Groups()
    lookup: LookupSpec = LookupSpec()
    grants: tuple[Grant, ...] = ()
    event_groups: AttributeGroups | None = None
    reads_items: bool = True

    @cached_property
    def conditional(self) -> bool:
        """Whether a rule or grant has a condition, so a condition context is needed."""
        return bool(self.grants) or any(rule.when is not None for rule in self.rules)

    @cached_property
    def context_parts(self) -> frozenset[str]:
        """The parts of the condition context some rule or grant reads (the rest is never
        gathered): a group edit reads the groups too."""
        conditions = [rule.when for rule in self.rules if rule.when is not None]
        conditions += [grant.when for grant in self.grants]
        parts = frozenset().union(*(condition.parts for condition in conditions))
        if any(grant.groups_add or grant.groups_remove for grant in self.grants):
            parts |= {"groups"}
        return parts

    @cached_property
    def has_extras(self) -> bool:
        """Whether anything but claims applies: suppressions, scopes or a group override."""
        parts = (self.suppress, self.scopes, self.groups)
        return self.event_groups is not None or any(
            any(msgspec.structs.astuple(part)) for part in parts
        )

    @cached_property
    def overrides_groups(self) -> bool:
        """Whether `[user.groups]` names any attribute (of the item, or `from_attribute`)."""
        return self.event_groups is not None or any(msgspec.structs.astuple(self.groups))

    @cached_property
    def reads_event(self) -> bool:
        """Whether a rule, a condition or the group rule reads the user's attributes."""
        conditions = [rule.when for rule in self.rules] + [grant.when for grant in self.grants]
        return (
            self.event_groups is not None
            or any(rule.event is not None for rule in self.rules)
            or any(when is not None and when.user is not None for when in conditions)
        )

    @cached_property
    def uses_items(self) -> bool:
        """Whether anything in it reads an item: a rule, a condition, a `*_from`, a source."""
        spec = self.lookup
        return bool(self.attributes or spec.related or spec.queries or spec.item is not None)

    @cached_property
    def names_bound(self) -> int:
        """Upper bound of the JSON bytes the rules' claim names (and the syntax) take."""
        return sum(12 * len(rule.claim) + 12 for rule in self.rules) + 4

    @cached_property
    def holds_floats(self) -> bool:
        """Whether a constant claim (static, a grant's, a rule's default) holds a float, nested
        too: the only way a claim gets one (items' numbers are exact ints and Decimals)."""
        constants: list[JSONValue] = [value for _, value in self.static_id + self.static_access]
        constants += [rule.default for rule in self.rules]
        for grant in self.grants:
            constants += [value for _, value in grant.id_claims + grant.access_claims]
        return _holds_float(constants)

    @property
    def reads(self) -> dict[str, tuple[str, ...]]:
        """Source -> the top-level attributes its rules read, in first-use order (projections)."""
        reads: dict[str, dict[str, None]] = {PRIMARY: dict.fromkeys(self.attributes)}
        for rule in self.rules:
            if rule.source != PRIMARY and rule.event is None:
                reads.setdefault(rule.source, {})[rule.path[0]] = None
        return {source: tuple(names) for source, names in reads.items()}

    @property
    def attributes(self) -> tuple[str, ...]:
        """Top-level primary-item attributes this section reads, in first-use order."""
        names = [rule.path[0] for rule in self.rules if rule.source == PRIMARY]
        # Conditions read attributes too (`attribute_equals`), whether or not a claim does.
        names += [name for rule in self.rules if rule.when for name in rule.when.attributes]
        names += [name for grant in self.grants for name in grant.when.attributes]
        for part in (self.suppress, self.scopes, self.groups):
            names += _attributes_of(part)
        return tuple(dict.fromkeys(names))


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """The compiled claim mapping: one section for users, one for machine clients.

    `client_metadata` lists the `clientMetadata` keys key templates and conditions may read,
    `user_attributes` the user attributes the mapping trusts (`[request]`): every attribute a
    rule, condition or group rule reads is one of them, which `make audit-pool` checks no app
    client can write.
    """

    user: Section
    client: Section = Section()
    client_metadata: tuple[str, ...] = ()
    user_attributes: tuple[str, ...] = ()

    @property
    def reads_items(self) -> bool:
        """Whether any principal reads an item: False needs no table and no connection."""
        return self.user.reads_items or self.client.reads_items


def _copy(attribute: str, token: Token, where: str) -> ClaimRule:
    return ClaimRule(path=(attribute,), claim=attribute, tokens=(token,), where=where)


DEFAULT_RULES: Final = Rules(
    user=Section(
        rules=(
            _copy("first_name", "id", "user.claims[0]"),
            _copy("last_name", "id", "user.claims[1]"),
            _copy("interesting_value", "access", "user.claims[2]"),
        )
    ),
    client=Section(rules=(_copy("interesting_value", "access", "client.claims[0]"),)),
)
"""The reference mapping: `first_name`, `last_name` to the ID token, `interesting_value` to the
access token (machine clients: `interesting_value` to the access token)."""


class GroupOverride(msgspec.Struct, frozen=True, kw_only=True):
    """Group fields taken from the item; None fields keep the request's value."""

    groups: list[str] | None = None
    iam_roles: list[str] | None = None
    preferred_role: str | None = None


class ClaimSet(msgspec.Struct, frozen=True, kw_only=True):
    """What to change in the tokens, and what was dropped.

    Parameters
    ----------
    id_claims, access_claims
        Claims to add or override: name -> plain JSON value.
    id_suppress, access_suppress
        Claims to suppress (Cognito applies suppression after additions: suppress wins).
    scopes_add, scopes_suppress
        Access-token scopes.
    groups
        Group override from the item, or None to keep the request's groups.
    missing_required
        The first required claim the item lacked, or None.
    dropped
        What was not emitted, with the reason: `null`, `wrong_type`, `reserved`,
        `object_not_allowed`, `invalid_scope`, `not_a_list`, `over_budget`. Named by claim,
        attribute or mapping setting (all from the mapping); a name read from an item list is
        named by its position (`suppress.id_from[3]`), never by what it says.
    """

    id_claims: dict[str, JSONValue]
    access_claims: dict[str, JSONValue]
    id_suppress: tuple[str, ...] = ()
    access_suppress: tuple[str, ...] = ()
    scopes_add: tuple[str, ...] = ()
    scopes_suppress: tuple[str, ...] = ()
    groups: GroupOverride | None = None
    missing_required: str | None = None
    dropped: tuple[tuple[str, str], ...] = ()


EMPTY_CLAIMS: Final = ClaimSet(id_claims={}, access_claims={})
"""No change to either token."""


class Denial(msgspec.Struct, frozen=True):
    """A grant denied the sign-in; `grant` is its position (`user.grants[2]`), never a value."""

    grant: str
