"""Applying the compiled mapping to what was read: rules, group override, grants, in one entry.

`apply` walks a `Section` over the primary item and the other sources: typed claims, static
claims, suppressions, scopes and the group override (computed once, and handed both to the
condition context and to the claim set), then the grants whose condition holds. It returns the
`ClaimSet` (what to add, suppress and override per token, plus what was dropped and why) or the
`Denial` of a `deny` grant. `denial` answers only "does a deny grant hold?", for tokens issued
without a profile. Pure: no I/O, no logging (counts are returned; the trigger logs).
"""

from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from shared.claims.budget import fit_budget, size_bound
from shared.claims.conditions import Context, build_context
from shared.claims.from_event import UserFacts
from shared.claims.groups import edited_groups, section_groups
from shared.claims.guard import (
    GUARDED_CLAIMS,
    fits_type,
    place_claim,
    scope_reason,
    suppress_reason,
)
from shared.claims.model import ClaimRule, ClaimSet, Denial, Grant, GroupOverride, Section
from shared.config import DEFAULT_CLAIMS_BUDGET_BYTES
from shared.event import Event
from shared.lookup import PRIMARY
from shared.values import ABSENT, Item, JSONValue, lookup_path

__all__ = ("NO_METADATA", "apply", "apply_grants", "denial")

Sources = Mapping[str, Item | list[Item] | None]
"""What the other sources read, by name: a related item (None: not found or not read), or a
query's items."""

NO_METADATA: Final[tuple[dict[str, str], int]] = ({}, 0)
"""No allowlisted `clientMetadata` value, none ignored."""


def apply(
    section: Section,
    event: Event,
    item: Item,
    *,
    sources: Sources | None = None,
    metadata: tuple[dict[str, str], int] = NO_METADATA,
    budget: int = DEFAULT_CLAIMS_BUDGET_BYTES,
) -> ClaimSet | Denial:
    """Apply `section` to `item` and `sources` for `event`: the claim set, or a grant's denial.

    Parameters
    ----------
    section
        The principal's part of the mapping.
    event
        The decoded event: the app client, and what conditions read.
    item
        The primary item.
    sources
        What the other sources read. A rule on a related item reads it like the primary item;
        a rule on a query yields a list, one value per item that has the attribute (none: an
        empty list). A source that was not read leaves its rules absent.
    metadata
        The allowlisted `clientMetadata` values, and how many were ignored
        (`shared.lookup.read_metadata`).
    budget
        Per token, the most bytes of compact JSON the claims taken from the data (defaults
        included) may fill (`CLAIMS_BUDGET_BYTES`): past it the largest are dropped
        (`over_budget`). Static claims are never dropped.

    A value of the wrong type, or one the Cognito guard refuses, is dropped and named in
    `dropped`; it is never sent. A rule with a condition applies only when it holds. A `deny`
    grant that holds wins over everything, `required` included.
    """
    group_dropped: list[tuple[str, str]] = []
    facts = UserFacts.of(event) if section.reads_event else None  # one identity parse, if any
    overrides = section.overrides_groups
    groups = section_groups(section, event, item, facts, group_dropped) if overrides else None
    context = None
    if section.conditional:
        override = groups.groups if groups is not None else None
        parts = section.context_parts
        context = build_context(
            event, item, group_override=override, metadata=metadata, parts=parts, user=facts
        )
    claims = _mapped(
        section,
        item,
        sources,
        client_id=event.client_id,
        facts=facts,
        context=context,
        budget=budget,
        groups=groups,
        group_dropped=group_dropped,
    )
    if context is None or not section.grants:
        return claims
    return apply_grants(section.grants, claims, context)


def denial(
    section: Section,
    event: Event,
    item: Item | None = None,
    *,
    metadata: tuple[dict[str, str], int] = NO_METADATA,
) -> Denial | None:
    """The first `deny` grant, in file order, that holds; None when none does.

    Tokens issued without store claims (`ON_MISSING=allow`, `ON_ERROR=allow`) must not slip past
    a deny rule on the client, trigger source, groups, scopes or `clientMetadata`; without an
    item, a grant reading one (`attribute_equals`) never holds. With the primary item read
    before another read failed, the conditions read it (and its group override); the groups a
    user attribute names (`from_attribute`) need no item, so they always apply.
    """
    if not section.grants:
        return None
    override = None
    if section.overrides_groups:
        groups = section_groups(section, event, item, None, [])
        override = groups.groups if groups is not None else None
    context = build_context(
        event, item, group_override=override, metadata=metadata, parts=section.context_parts
    )
    for grant in section.grants:
        if grant.deny and grant.when.holds(context):
            return Denial(grant.where)
    return None


def _from_source(sources: Sources | None, rule: ClaimRule) -> object:
    read = sources.get(rule.source) if sources is not None else None
    if isinstance(read, list):
        values = [lookup_path(entry, rule.path) for entry in read]
        folded = [v for v in values if v is not ABSENT and v is not None]
        return ABSENT if rule.required and not folded else folded
    if read is None:
        return ABSENT
    return lookup_path(read, rule.path)


def _mapped(
    section: Section,
    item: Item,
    sources: Sources | None,
    *,
    client_id: str | None,
    facts: UserFacts | None,
    context: Context | None,
    budget: int,
    groups: GroupOverride | None,
    group_dropped: list[tuple[str, str]],
) -> ClaimSet:
    """The section's own claims, suppressions, scopes and group override (no grant yet)."""
    dropped: list[tuple[str, str]] = []
    id_claims: dict[str, JSONValue] = {}
    access_claims: dict[str, JSONValue] = {}
    for name, value in section.static_id:
        place_claim(id_claims, "id", name, value, client_id=client_id, dropped=dropped)
    for name, value in section.static_access:
        place_claim(access_claims, "access", name, value, client_id=client_id, dropped=dropped)
    missing_required = _rule_claims(
        section,
        item,
        sources,
        {"id": id_claims, "access": access_claims},
        client_id=client_id,
        facts=facts,
        context=context,
        budget=budget,
        dropped=dropped,
    )
    if not section.has_extras:
        # The common case (the reference mapping): claims only, nothing else to walk.
        return ClaimSet(
            id_claims=id_claims,
            access_claims=access_claims,
            missing_required=missing_required,
            dropped=tuple(dropped),
        )
    id_suppress, access_suppress = _suppressions(section, item, dropped)
    scopes_add, scopes_suppress = _scopes(section, item, dropped)
    return ClaimSet(
        id_claims=id_claims,
        access_claims=access_claims,
        id_suppress=id_suppress,
        access_suppress=access_suppress,
        scopes_add=scopes_add,
        scopes_suppress=scopes_suppress,
        groups=groups,
        missing_required=missing_required,
        dropped=(*dropped, *group_dropped),
    )


def _rule_claims(
    section: Section,
    item: Item,
    sources: Sources | None,
    into: dict[str, dict[str, JSONValue]],
    *,
    client_id: str | None,
    facts: UserFacts | None,
    context: Context | None,
    budget: int,
    dropped: list[tuple[str, str]],
) -> str | None:
    """Place every rule's claim in `into` (per token); the first required claim missing."""
    missing_required = None
    # What the rules placed, for an upper bound of its JSON size: characters of names and
    # string values (at worst 6 bytes each, a `\uXXXX` escape), other values' bounds.
    chars = other = 0
    for rule in section.rules:
        if rule.when is not None and (context is None or not rule.when.holds(context)):
            continue
        path = rule.path
        if rule.event is not None:
            value = rule.event.value(facts) if facts is not None else ABSENT
        elif rule.source != PRIMARY:
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
            if claim in GUARDED_CLAIMS:
                place_claim(into[token], token, claim, value, client_id=client_id, dropped=dropped)
            else:
                into[token][claim] = value
        if type(value) is str:
            chars += len(value)
        else:
            other += size_bound(value)
    # Per rule and token, `"name":value,` takes at most 6 bytes a character plus 6 for quotes,
    # colon and comma; a rule reaches at most two tokens; then the braces.
    if 12 * chars + 2 * other + section.names_bound > budget:
        # Rarely reached: only then measure each token's claims exactly.
        for kind, claims in into.items():
            names = [rule.claim for rule in section.rules if kind in rule.tokens]
            fit_budget(claims, names, budget, dropped)
    return missing_required


def _strings(item: Item, attribute: str | None, dropped: list[tuple[str, str]]) -> list[str]:
    """A list-of-strings attribute; anything else is dropped and counted under its name."""
    value = item.get(attribute, ABSENT) if attribute is not None else ABSENT
    if value is ABSENT or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        dropped.append((attribute or "", "not_a_list"))
        return []
    return value


def _with_item_names(
    fixed: tuple[str, ...],
    attribute: str | None,
    item: Item,
    *,
    at: str,
    refused: Callable[[str], str | None],
    reason: str,
    dropped: list[tuple[str, str]],
) -> tuple[str, ...]:
    """`fixed`, then the names the item's `attribute` (a `*_from`) holds; a refused one dropped.

    The names came from the item: a refused one is logged by where it was
    (`suppress.id_from[3]`), never by what it says.
    """
    if attribute is None:
        return fixed
    names = list(fixed)
    for position, name in enumerate(_strings(item, attribute, dropped)):
        if refused(name) is None:
            names.append(name)
        else:
            dropped.append((f"{at}[{position}]", reason))
    return tuple(names)


def _suppressions(
    section: Section, item: Item, dropped: list[tuple[str, str]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    s = section.suppress
    return (
        _with_item_names(s.id, s.id_from, item, at="suppress.id_from",
                         refused=suppress_reason, reason="reserved", dropped=dropped),
        _with_item_names(s.access, s.access_from, item, at="suppress.access_from",
                         refused=suppress_reason, reason="reserved", dropped=dropped),
    )  # fmt: skip


def _scopes(
    section: Section, item: Item, dropped: list[tuple[str, str]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    s = section.scopes
    return (
        _with_item_names(s.add, s.add_from, item, at="scopes.add_from",
                         refused=scope_reason, reason="invalid_scope", dropped=dropped),
        _with_item_names(s.suppress, s.suppress_from, item, at="scopes.suppress_from",
                         refused=scope_reason, reason="invalid_scope", dropped=dropped),
    )  # fmt: skip


def apply_grants(
    grants: tuple[Grant, ...], claims: ClaimSet, context: Context
) -> ClaimSet | Denial:
    """Apply every grant whose condition holds to `claims`, or deny.

    Conditions all read the same `context`; a `deny` grant that holds wins over everything
    (the first in file order is named). Scopes are added then suppressed (a suppressed scope is
    never added), claims are set in file order (a later grant overrides an earlier one, and the
    mapping's own claims), and groups are edited from the override the mapping produced: added
    in file order, removed whatever adds them. Values the guard refuses at run time (`aud`
    other than the client id) are dropped and counted.
    """
    held: list[Grant] = []
    for grant in grants:
        if grant.when.holds(context):
            if grant.deny:  # the first deny that holds, in file order, wins over everything
                return Denial(grant.where)
            held.append(grant)
    if not held:
        return claims
    id_claims, access_claims = claims.id_claims, claims.access_claims
    add, suppress = claims.scopes_add, claims.scopes_suppress
    group_adds: tuple[str, ...] = ()
    group_removes: tuple[str, ...] = ()
    dropped: list[tuple[str, str]] | None = None
    client_id = context.client_id
    for grant in held:
        if grant.id_claims or grant.access_claims:
            if dropped is None:  # copy once, only when a grant sets claims
                dropped = list(claims.dropped)
                id_claims, access_claims = dict(id_claims), dict(access_claims)
            for name, value in grant.id_claims:
                place_claim(id_claims, "id", name, value, client_id=client_id, dropped=dropped)
            for name, value in grant.access_claims:
                place_claim(
                    access_claims, "access", name, value, client_id=client_id, dropped=dropped
                )
        if grant.scopes_add:
            add += grant.scopes_add
        if grant.scopes_suppress:
            suppress += grant.scopes_suppress
        if grant.groups_add:
            group_adds += grant.groups_add
        if grant.groups_remove:
            group_removes += grant.groups_remove
    if len(add) > len(claims.scopes_add) or len(suppress) > len(claims.scopes_suppress):
        suppress = tuple(dict.fromkeys(suppress))
        add = tuple(scope for scope in dict.fromkeys(add) if scope not in suppress)
    groups = claims.groups
    if group_adds or group_removes:
        groups = edited_groups(groups, context.group_list + group_adds, group_removes)
    return msgspec.structs.replace(
        claims,
        id_claims=id_claims,
        access_claims=access_claims,
        scopes_add=add,
        scopes_suppress=suppress,
        groups=groups,
        dropped=claims.dropped if dropped is None else tuple(dropped),
    )
