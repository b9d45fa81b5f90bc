"""Load-time checks of what a mapping reads from the event, each read checked for trust.

`source = "event"` and `source = "identity"` rules compile to an `EventRead`, `[user.groups]
from_attribute` to an `AttributeGroups`. Every user attribute they read must be listed in
`[request] user_attributes` (`identities` for the identity), or the mapping is refused naming
the rule: Cognito lets a signed-in user change any attribute their app client may write, so the
list is what `make audit-pool` checks against the pool. The conditions' own keys
(`providers_any`, `federated`, `user_attribute_equals`) are checked by `Checker.condition`.
`settle_reads` decides, for the whole mapping, which principals read items at all. Every
problem goes to the `Checker`, naming where it is.
"""

import msgspec

from shared.claims.check import Checker, SectionName, listed
from shared.claims.file import Groups, RuleFile
from shared.claims.from_event import (
    EVENT,
    IDENTITIES,
    IDENTITY,
    IDENTITY_ATTRIBUTES,
    AttributeGroups,
    EventRead,
)
from shared.claims.guard import ClaimType
from shared.claims.model import Section

__all__ = ("compile_attribute_groups", "compile_event_read", "settle_reads")

_EVENT_TYPES: tuple[ClaimType, ...] = ("string", "number", "integer", "boolean", "string_list")


def _identity_type(check: Checker, where: str, rule: RuleFile) -> ClaimType | None:
    expected = IDENTITY_ATTRIBUTES.get(rule.attribute)
    if expected is None:
        check.problems.append(
            f'{where}: `source = "identity"` reads {listed(list(IDENTITY_ATTRIBUTES))}, '
            f"not `{rule.attribute}`"
        )
        return None
    if rule.type not in ("any", expected):
        check.problems.append(
            f"{where}: the identity's `{rule.attribute}` is a {expected}: `type` must be "
            f"`{expected}`, got `{rule.type}`"
        )
        return None
    return expected


def _event_type(check: Checker, where: str, rule: RuleFile) -> ClaimType | None:
    kind: ClaimType = "string" if rule.type == "any" else rule.type
    if kind not in _EVENT_TYPES:
        check.problems.append(
            f"{where}: user attributes are strings: `type` must be one of "
            f"{listed(list(_EVENT_TYPES))}, got `{rule.type}`"
        )
        return None
    if kind == "string_list" and rule.parse is None:
        check.problems.append(
            f"{where}: a `string_list` from a user attribute needs `parse` (`json_list`, "
            "`csv` or `bracket_list`)"
        )
        return None
    return kind


def compile_event_read(
    check: Checker, where: str, rule: RuleFile, section: SectionName
) -> EventRead | None:
    """A `source = "event"` or `"identity"` rule's read; None (and a problem) when invalid.

    `type = "any"` (the default) becomes the attribute's own: a string as sent, or the
    identity attribute's type.
    """
    if section == "client":
        check.problems.append(f"{where}: machine clients have no user attributes")
        return None
    if rule.parse is not None and (rule.source != EVENT or rule.type != "string_list"):
        check.problems.append(
            f"{where}: `parse` reads a user attribute into a list: only with "
            '`source = "event"` and `type = "string_list"`'
        )
    check.attribute(where, rule.attribute)
    read = IDENTITIES if rule.source == IDENTITY else rule.attribute
    check.trusted(where, read)
    kind = _identity_type(check, where, rule) if rule.source == IDENTITY else None
    if rule.source == EVENT:
        kind = _event_type(check, where, rule)
    if kind is None:
        return None
    if rule.source == IDENTITY:
        return EventRead(source=IDENTITY, attribute=rule.attribute, type=kind)
    return EventRead(source=EVENT, attribute=rule.attribute, type=kind, parse=rule.parse)


def compile_attribute_groups(
    check: Checker, name: SectionName, groups: Groups
) -> AttributeGroups | None:
    """`[user.groups] from_attribute` and its keys; None when absent or invalid."""
    where = f"{name}.groups"
    keys = {
        "parse": groups.parse,
        "allow": groups.allow,
        "allow_prefix": groups.allow_prefix,
        "rename": groups.rename,
        "mode": groups.mode,
    }
    attribute = groups.from_attribute
    if attribute is None:
        if given := [key for key, value in keys.items() if value]:
            check.problems.append(f"{where}: {listed(given)} need `from_attribute`")
        return None
    before = len(check.problems)
    check.attribute(where, attribute)
    check.trusted(f"{where}.from_attribute", attribute)
    if groups.groups_from is not None:
        check.problems.append(
            f"{where}: `groups_from` (an item attribute) and `from_attribute` (a user "
            "attribute) both override the groups: keep one"
        )
    if groups.parse is None:
        check.problems.append(f"{where}: `from_attribute` needs `parse`")
    if not groups.allow and groups.allow_prefix is None:
        check.problems.append(
            f"{where}: `from_attribute` needs `allow`, `allow_prefix` or both: only the names "
            "they admit become groups"
        )
    check.names(where, "allow", list(groups.allow) if groups.allow else None)
    if groups.allow_prefix is not None:
        check.names(where, "allow_prefix", [groups.allow_prefix])
    check.names(where, "rename", [*groups.rename, *groups.rename.values()] or None)
    if len(check.problems) > before or groups.parse is None:
        return None
    compiled = AttributeGroups(
        attribute=attribute,
        parse=groups.parse,
        allow=frozenset(groups.allow),
        allow_prefix=groups.allow_prefix,
        rename=dict(groups.rename),
        mode=groups.mode or "add",
    )
    if never := [old for old in groups.rename if not compiled.allows(old)]:
        check.problems.append(
            f"{where}: `rename` names {listed(never)}, which `allow` / `allow_prefix` never "
            "admit, so it never applies"
        )
        return None
    return compiled


def settle_reads(user: Section, client: Section) -> tuple[Section, Section]:
    """Which principals read items at all (`Section.reads_items`).

    A section reads its items when something in it reads an item, or when it reads nothing
    from the event either (an empty section, or static claims and grants alone: the item's
    existence decides `ON_MISSING`, as always), unless the mapping as a whole reads the event
    and no item, which then needs no table at all.
    """
    event_only = (user.reads_event or client.reads_event) and not (
        user.uses_items or client.uses_items
    )

    def settle(section: Section) -> Section:
        reads = section.uses_items or not (section.reads_event or event_only)
        if reads == section.reads_items:
            return section
        return msgspec.structs.replace(section, reads_items=reads)

    return settle(user), settle(client)
