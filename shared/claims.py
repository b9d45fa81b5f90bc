"""The compiled claim mapping and its pure application to a profile item.

A `Mapping` holds one `Section` for users and one for machine clients: typed attribute rules,
static claims, suppressions, scopes and group overrides, all checked once at init
(`shared.mapping` builds them from a file). `apply_mapping` walks a section over a decoded item
and returns a `ClaimSet`: what to add, suppress and override per token, plus what was dropped
and why. The Cognito guard lives here too, used at load time and again on every value the data
could smuggle in at run time. Pure: no I/O, no logging (counts are returned, `trigger` logs).
"""

from collections.abc import Mapping as Mapping_
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from shared.config import DEFAULT_CLAIMS_BUDGET_BYTES
from shared.item import ABSENT, Item, lookup_path
from shared.lookup import PRIMARY, LookupSpec
from shared.models import JSONValue, encode_json

if TYPE_CHECKING:
    # Only for annotations: `shared.policy` imports this module.
    from shared.policy import Condition, Context, Grant

__all__ = (
    "DEFAULT_MAPPING",
    "EMPTY_CLAIMS",
    "NO_OBJECT_ID_CLAIMS",
    "RESERVED_CLAIMS",
    "ClaimRule",
    "ClaimSet",
    "ClaimType",
    "GroupOverride",
    "Mapping",
    "Section",
    "Token",
    "apply_mapping",
    "fits_type",
    "override_groups",
    "place_claim",
    "reserved_reason",
    "scope_reason",
    "suppress_reason",
)

Token = Literal["id", "access"]
ClaimType = Literal["string", "number", "integer", "boolean", "string_list", "json", "any"]

RESERVED_CLAIMS: Final = frozenset(
    {
        "sub", "username", "cognito:username", "identities", "aud", "client_id", "event_id",
        "version", "device_key", "acr", "amr", "at_hash", "auth_time", "azp", "exp", "iat",
        "iss", "jti", "nbf", "nonce", "origin_jti", "token_use", "scope",
    }
)  # fmt: skip
"""Claims Cognito never lets a trigger set (`scope` changes only through scopesToAdd/Suppress;
`aud` only in the access token, and only equal to the app client id)."""

NO_OBJECT_ID_CLAIMS: Final = frozenset(
    {"phone_number_verified", "email_verified", "updated_at", "address"}
)
"""ID-token claims Cognito does not let take an object or array value."""


def reserved_reason(claim: str, token: Token = "id") -> str | None:
    """Say why `claim` may not be added or overridden in `token`, or None when it may.

    `aud` passes in the access token; its value must then equal the client id (checked when
    the claim is applied).
    """
    if not claim or claim != claim.strip():
        return "claim names must be non-empty and have no surrounding whitespace"
    if claim == "aud" and token == "access":
        return None
    if claim in RESERVED_CLAIMS:
        return f"`{claim}` is reserved by Cognito"
    if claim.startswith("cognito:"):
        return "`cognito:` claims change only through the group override"
    if claim.startswith("dev:"):
        return "`dev:` claims may only be suppressed"
    return None


def suppress_reason(claim: str) -> str | None:
    """Say why `claim` may not be suppressed, or None when it may (`dev:` claims may)."""
    if claim.startswith("dev:") and claim != "dev:":
        return None
    if claim == "aud":
        return "`aud` is reserved by Cognito"
    return reserved_reason(claim)


def scope_reason(scope: str) -> str | None:
    """Say why `scope` is not a valid scope value, or None when it is."""
    if not scope or any(ch.isspace() for ch in scope):
        return "scopes must be non-empty and contain no whitespace"
    return None


def fits_type(value: JSONValue, claim_type: ClaimType) -> bool:
    """Whether a plain JSON `value` is of `claim_type` (null never is)."""
    if value is None:
        return False
    if claim_type == "any":
        return True
    if claim_type == "string":
        return isinstance(value, str)
    if claim_type == "boolean":
        return isinstance(value, bool)
    if claim_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if claim_type == "number":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if claim_type == "string_list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict | list)  # json: an object or an array


class ClaimRule(msgspec.Struct, frozen=True):
    """Copy one item attribute into a claim.

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
    source
        What it reads: the primary item (`item`), a related item, or a query (one value per
        item, folded into a list).
    when
        A `shared.policy.Condition`: the rule applies only when it holds (None: always).
    """

    path: tuple[str, ...]
    claim: str
    tokens: tuple[Token, ...]
    type: ClaimType = "any"
    default: JSONValue = None
    required: bool = False
    source: str = PRIMARY
    when: "Condition | None" = None


class Section(msgspec.Struct, frozen=True, dict=True):
    """Everything applied to one kind of item (users, or machine clients).

    Parameters
    ----------
    rules
        Attribute rules.
    static_id, static_access
        Constant claims per token.
    suppress_id, suppress_access
        Claims to suppress per token; `*_from` name list attributes holding more.
    scopes_add, scopes_suppress
        Access-token scopes to add and suppress; `*_from` name list attributes holding more.
    groups_from, iam_roles_from, preferred_role_from
        Attributes overriding the user's groups, IAM roles and preferred role.
    lookup
        What the section reads besides the primary item, and the primary item's key when the
        file gives one.
    grants
        `shared.policy.Grant`s applied after the mapping, in file order.
    conditional
        Computed: whether a rule or grant has a condition, so a `Context` is needed.
    """

    rules: tuple[ClaimRule, ...] = ()
    static_id: tuple[tuple[str, JSONValue], ...] = ()
    static_access: tuple[tuple[str, JSONValue], ...] = ()
    suppress_id: tuple[str, ...] = ()
    suppress_access: tuple[str, ...] = ()
    suppress_id_from: str | None = None
    suppress_access_from: str | None = None
    scopes_add: tuple[str, ...] = ()
    scopes_add_from: str | None = None
    scopes_suppress: tuple[str, ...] = ()
    scopes_suppress_from: str | None = None
    groups_from: str | None = None
    iam_roles_from: str | None = None
    preferred_role_from: str | None = None
    lookup: LookupSpec = LookupSpec()
    grants: "tuple[Grant, ...]" = ()
    conditional: bool = False

    def __post_init__(self) -> None:
        conditional = bool(self.grants) or any(rule.when is not None for rule in self.rules)
        msgspec.structs.force_setattr(self, "conditional", conditional)

    @property
    def reads(self) -> dict[str, tuple[str, ...]]:
        """Source -> the top-level attributes its rules read, in first-use order (projections)."""
        reads: dict[str, dict[str, None]] = {PRIMARY: dict.fromkeys(self.attributes)}
        for rule in self.rules:
            if rule.source != PRIMARY:
                reads.setdefault(rule.source, {})[rule.path[0]] = None
        return {source: tuple(names) for source, names in reads.items()}

    @cached_property
    def names_bound(self) -> int:
        """Upper bound of the JSON bytes the rules' claim names (and the syntax) take."""
        return sum(12 * len(rule.claim) + 12 for rule in self.rules) + 4

    @property
    def attributes(self) -> tuple[str, ...]:
        """Top-level primary-item attributes this section reads, in first-use order."""
        names = [rule.path[0] for rule in self.rules if rule.source == PRIMARY]
        # Conditions read attributes too (`attribute_equals`), whether or not a claim does.
        names += [name for rule in self.rules if rule.when for name in rule.when.attributes]
        names += [name for grant in self.grants for name in grant.when.attributes]
        names += [
            name
            for name in (
                self.suppress_id_from, self.suppress_access_from, self.scopes_add_from,
                self.scopes_suppress_from, self.groups_from, self.iam_roles_from,
                self.preferred_role_from,
            )
            if name is not None
        ]  # fmt: skip
        return tuple(dict.fromkeys(names))


class Mapping(msgspec.Struct, frozen=True):
    """The claim mapping: one section for users, one for machine clients (access token only).

    `client_metadata` lists the `clientMetadata` keys key templates may read (`[request]`).
    """

    user: Section
    client: Section = Section()
    client_metadata: tuple[str, ...] = ()


DEFAULT_MAPPING: Final = Mapping(
    user=Section(
        rules=(
            ClaimRule(("first_name",), "first_name", ("id",)),
            ClaimRule(("last_name",), "last_name", ("id",)),
            ClaimRule(("interesting_value",), "interesting_value", ("access",)),
        )
    ),
    client=Section(rules=(ClaimRule(("interesting_value",), "interesting_value", ("access",)),)),
)
"""The reference mapping: `first_name`, `last_name` to the ID token, `interesting_value` to the
access token (machine clients: `interesting_value` to the access token)."""


class GroupOverride(msgspec.Struct, frozen=True):
    """Group fields taken from the item; None fields keep the request's value."""

    groups: list[str] | None = None
    iam_roles: list[str] | None = None
    preferred_role: str | None = None


class ClaimSet(msgspec.Struct, frozen=True):
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


EMPTY_CLAIMS: Final = ClaimSet({}, {})


def _from_source(
    sources: Mapping_[str, Item | list[Item] | None] | None, rule: ClaimRule
) -> object:
    read = sources.get(rule.source) if sources is not None else None
    if isinstance(read, list):
        values = [lookup_path(entry, rule.path) for entry in read]
        folded = [v for v in values if v is not ABSENT and v is not None]
        return ABSENT if rule.required and not folded else folded
    if read is None:
        return ABSENT
    return lookup_path(read, rule.path)


def _attribute(item: Item, attribute: str | None) -> object:
    if attribute is None:
        return ABSENT
    return item.get(attribute, ABSENT)


def _strings(item: Item, attribute: str | None, dropped: list[tuple[str, str]]) -> list[str]:
    """A list-of-strings attribute; anything else is dropped and counted under its name."""
    value = _attribute(item, attribute)
    if value is ABSENT or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        dropped.append((attribute or "", "not_a_list"))
        return []
    return value


def place_claim(
    claims: dict[str, JSONValue],
    token: Token,
    name: str,
    value: JSONValue,
    *,
    client_id: str | None,
    dropped: list[tuple[str, str]],
) -> None:
    """Set `name` in `claims` unless the run-time guard refuses the value (dropped and counted).

    The guard: `aud` in the access token only equal to `client_id`; no object or array in the
    ID-token claims Cognito refuses them for.
    """
    if name == "aud" and token == "access" and value != client_id:
        dropped.append((name, "reserved"))
        return
    if token == "id" and name in NO_OBJECT_ID_CLAIMS and isinstance(value, dict | list):
        dropped.append((name, "object_not_allowed"))
        return
    claims[name] = value


def override_groups(section: Section, item: Item) -> list[str] | None:
    """The groups the section's `[user.groups]` override sets from `item`, or None to keep them.

    As `apply_mapping` does: only a `groups_from` attribute holding a list of strings (possibly
    empty) sets the groups; absent, null or malformed, the request's groups are kept.
    """
    attribute = section.groups_from
    value = item.get(attribute) if attribute is not None else None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


_GUARDED: Final = NO_OBJECT_ID_CLAIMS | {"aud"}
"""Claim names whose value `place_claim` must check; every other name is placed directly."""


def _size_bound(value: JSONValue) -> int:
    """An upper bound of the bytes of a non-string `value`'s compact JSON, cheap when scalar."""
    if type(value) is str:
        return 6 * len(value) + 2  # at worst every character is a `\uXXXX` escape
    if type(value) is int:
        return value.bit_length() // 3 + 2  # log10(2) < 1/3; one more for the sign
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, Decimal):
        return len(str(value))
    return len(encode_json(value))


def _fit_budget(
    claims: dict[str, JSONValue],
    names: list[str],
    budget: int,
    dropped: list[tuple[str, str]],
) -> None:
    """Drop the largest of `names` from `claims` until their compact JSON fits `budget` bytes."""
    sizes = {
        name: len(encode_json(name)) + 1 + len(encode_json(claims[name]))
        for name in names
        if name in claims
    }
    # The size of `{"a":1,"b":2}`: every entry, a comma between two, the braces.
    total = sum(sizes.values()) + len(sizes) + 1
    if total <= budget:
        return
    # Largest first, then by name: the same item always gives the same answer (Cognito retries).
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        del claims[name]
        dropped.append((name, "over_budget"))
        total -= sizes[name] + 1
        if total <= budget:
            return


def apply_mapping(
    section: Section,
    item: Item,
    client_id: str | None = None,
    *,
    sources: Mapping_[str, Item | list[Item] | None] | None = None,
    context: "Context | None" = None,
    budget: int = DEFAULT_CLAIMS_BUDGET_BYTES,
) -> ClaimSet:
    """Walk `section` over `item`: typed claims, static claims, suppressions, scopes, groups.

    `sources` holds what the other sources read: a related item (None: not found or not read)
    or a query's items. A rule on a related item reads it like the primary item; a rule on a
    query yields a list, one value per item that has the attribute (none: an empty list). A
    source that was not read leaves its rules absent. A value of the wrong type, or one the
    Cognito guard refuses, is dropped and reported in `dropped`; it is never sent. A rule with a
    condition (`when`) applies only when it holds for `context`; without a context (None), no
    conditional rule applies. Per token,
    the claims the rules take from the data (defaults included) may fill at most `budget` bytes
    of compact JSON (`CLAIMS_BUDGET_BYTES`): past it the largest are dropped (`over_budget`)
    until the rest fit. Static claims are never dropped: they are the mapping's own, bounded
    when it is loaded.
    """
    dropped: list[tuple[str, str]] = []
    id_claims: dict[str, JSONValue] = {}
    access_claims: dict[str, JSONValue] = {}
    for name, value in section.static_id:
        place_claim(id_claims, "id", name, value, client_id=client_id, dropped=dropped)
    for name, value in section.static_access:
        place_claim(access_claims, "access", name, value, client_id=client_id, dropped=dropped)
    missing_required = None
    # What the rules placed, for an upper bound of its JSON size: characters of names and
    # string values (at worst 6 bytes each, a `\uXXXX` escape), other values' bounds.
    chars = other = 0
    for rule in section.rules:
        if rule.when is not None and (context is None or not rule.when.holds(context)):
            continue
        path = rule.path
        if rule.source != PRIMARY:
            value = _from_source(sources, rule)
        elif len(path) == 1:
            value = item.get(path[0], ABSENT)
        else:
            value = lookup_path(item, path)
        if value is ABSENT or value is None:
            if rule.default is not None:
                value = rule.default
            elif rule.required:
                missing_required = missing_required or rule.claim
                continue
            else:
                if value is None:
                    dropped.append((rule.claim, "null"))
                continue
        if rule.type != "any" and not fits_type(value, rule.type):
            dropped.append((rule.claim, "wrong_type"))
            continue
        claim = rule.claim
        for token in rule.tokens:
            into = id_claims if token == "id" else access_claims
            if claim in _GUARDED:
                place_claim(into, token, claim, value, client_id=client_id, dropped=dropped)
            else:
                into[claim] = value
        if type(value) is str:
            chars += len(value)
        else:
            other += _size_bound(value)
    # Per rule and token, `"name":value,` takes at most 6 bytes a character plus 6 for quotes,
    # colon and comma; a rule reaches at most two tokens; then the braces.
    if 12 * chars + 2 * other + section.names_bound > budget:
        # Rarely reached: only then measure each token's claims exactly.
        for token, into in (("id", id_claims), ("access", access_claims)):
            names = [rule.claim for rule in section.rules if token in rule.tokens]
            _fit_budget(into, names, budget, dropped)
    if not (
        section.suppress_id or section.suppress_access or section.suppress_id_from
        or section.suppress_access_from or section.scopes_add or section.scopes_add_from
        or section.scopes_suppress or section.scopes_suppress_from or section.groups_from
        or section.iam_roles_from or section.preferred_role_from
    ):  # fmt: skip
        # The common case (the reference mapping): claims only, nothing else to walk.
        return ClaimSet(
            id_claims, access_claims, missing_required=missing_required, dropped=tuple(dropped)
        )
    return _with_extras(
        section,
        item,
        id_claims=id_claims,
        access_claims=access_claims,
        missing_required=missing_required,
        dropped=dropped,
    )


def _group_list(
    item: Item, attribute: str | None, dropped: list[tuple[str, str]]
) -> list[str] | None:
    """A valid list of strings overriding one group field, or None to keep the request's."""
    if attribute is None:
        return None
    value = item.get(attribute, ABSENT)
    if value is ABSENT:
        return None
    if value is None:
        dropped.append((attribute, "null"))
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        dropped.append((attribute, "not_a_list"))
        return None
    return value


def _group_override(
    section: Section, item: Item, dropped: list[tuple[str, str]]
) -> GroupOverride | None:
    """The group fields the item validly overrides; a malformed one keeps the request's value.

    Cognito removes the user's groups when `groupsToOverride` is empty, so only a list of
    strings (possibly empty, by the data's explicit choice) may override: null, a string or a
    list holding anything else is dropped and named by its attribute.
    """
    groups = _group_list(item, section.groups_from, dropped)
    roles = _group_list(item, section.iam_roles_from, dropped)
    preferred: str | None = None
    attribute = section.preferred_role_from
    if attribute is not None:
        value = item.get(attribute, ABSENT)
        if isinstance(value, str):
            preferred = value
        elif value is None:
            dropped.append((attribute, "null"))
        elif value is not ABSENT:
            dropped.append((attribute, "wrong_type"))
    if groups is None and roles is None and preferred is None:
        return None
    return GroupOverride(groups, roles, preferred)


def _with_extras(
    section: Section,
    item: Item,
    *,
    id_claims: dict[str, JSONValue],
    access_claims: dict[str, JSONValue],
    missing_required: str | None,
    dropped: list[tuple[str, str]],
) -> ClaimSet:
    id_suppress = list(section.suppress_id)
    access_suppress = list(section.suppress_access)
    for where, source, target in (
        ("suppress.id_from", section.suppress_id_from, id_suppress),
        ("suppress.access_from", section.suppress_access_from, access_suppress),
    ):
        for position, name in enumerate(_strings(item, source, dropped)):
            if suppress_reason(name) is None:
                target.append(name)
            else:
                # The name came from the item: log where it was, never what it says.
                dropped.append((f"{where}[{position}]", "reserved"))
    scopes: list[list[str]] = [list(section.scopes_add), list(section.scopes_suppress)]
    for where, source, target in (
        ("scopes.add_from", section.scopes_add_from, scopes[0]),
        ("scopes.suppress_from", section.scopes_suppress_from, scopes[1]),
    ):
        for position, scope in enumerate(_strings(item, source, dropped)):
            if scope_reason(scope) is None:
                target.append(scope)
            else:
                dropped.append((f"{where}[{position}]", "invalid_scope"))
    groups = None
    if section.groups_from or section.iam_roles_from or section.preferred_role_from:
        groups = _group_override(section, item, dropped)
    return ClaimSet(
        id_claims,
        access_claims,
        tuple(id_suppress),
        tuple(access_suppress),
        tuple(scopes[0]),
        tuple(scopes[1]),
        groups,
        missing_required,
        tuple(dropped),
    )
