"""The group override `[user.groups]` takes from the item (groups, IAM roles, preferred role),
or from a user attribute (`from_attribute`: groups only); and the grants' edits of it.

Cognito removes a user's groups when `groupsToOverride` is empty or null, so only well-formed
data overrides: a list of strings (possibly empty, by the data's explicit choice) for groups
and roles, a string for the preferred role, a user attribute that parses as a list. Anything
else keeps the request's value and is dropped and named by its attribute. Pure: no I/O, no
logging.
"""

from shared.claims.file import Groups
from shared.claims.from_event import AttributeGroups, UserFacts
from shared.claims.model import GroupOverride, Section
from shared.event import Event
from shared.values import ABSENT, Item

__all__ = ("edited_groups", "group_override", "section_groups")


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


def group_override(
    spec: Groups, item: Item, dropped: list[tuple[str, str]]
) -> GroupOverride | None:
    """The group fields the item validly overrides; a malformed one keeps the request's value.

    Cognito removes the user's groups when `groupsToOverride` is empty, so only a list of
    strings (possibly empty, by the data's explicit choice) may override: null, a string or a
    list holding anything else is dropped and named by its attribute.
    """
    groups = _group_list(item, spec.groups_from, dropped)
    roles = _group_list(item, spec.iam_roles_from, dropped)
    preferred: str | None = None
    attribute = spec.preferred_role_from
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
    return GroupOverride(groups=groups, iam_roles=roles, preferred_role=preferred)


def _attribute_groups(
    rule: AttributeGroups,
    event: Event,
    facts: UserFacts | None,
    item_override: GroupOverride | None,
    dropped: list[tuple[str, str]],
) -> GroupOverride | None:
    request = event.request
    configuration = request.group_configuration if request is not None else None
    request_groups = (configuration.groups_to_override or []) if configuration is not None else []
    groups = rule.groups(facts or UserFacts.of(event), request_groups, dropped)
    if groups is None:
        return item_override
    if item_override is None:
        return GroupOverride(groups=groups)
    return GroupOverride(
        groups=groups,
        iam_roles=item_override.iam_roles,
        preferred_role=item_override.preferred_role,
    )


def section_groups(
    section: Section,
    event: Event,
    item: Item | None,
    facts: UserFacts | None,
    dropped: list[tuple[str, str]],
) -> GroupOverride | None:
    """What `[user.groups]` overrides for this event: from the item (when there is one), and
    the groups a user attribute names (`from_attribute`), which need no item.

    Only names the attribute rule's allowlist admits become groups (`AttributeGroups.groups`);
    an absent or malformed attribute keeps the request's groups. IAM roles and the preferred
    role are the item's override (`iam_roles_from`, `preferred_role_from`), or the request's.
    """
    groups = group_override(section.groups, item, dropped) if item is not None else None
    if section.event_groups is not None:
        groups = _attribute_groups(section.event_groups, event, facts, groups, dropped)
    return groups


def edited_groups(
    groups: GroupOverride | None, names: tuple[str, ...], removed: tuple[str, ...]
) -> GroupOverride:
    """The group override with `names` (in order, once each) less `removed`; roles kept."""
    return GroupOverride(
        groups=[name for name in dict.fromkeys(names) if name not in removed],
        iam_roles=groups.iam_roles if groups is not None else None,
        preferred_role=groups.preferred_role if groups is not None else None,
    )
