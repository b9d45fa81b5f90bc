"""The group override: from the item, or from a user attribute, and the grants' edits of it.

`group_override` computes, once per invocation, what `[user.groups]` overrides: the groups, IAM
roles and preferred role item attributes name (`groups_from`, `iam_roles_from`,
`preferred_role_from`), or the groups a user attribute names (`from_attribute`, through its
allowlist), added to the request's or replacing them. Cognito removes the user's groups when
`groupsToOverride` is empty, so malformed data never overrides: it keeps the request's value and
is dropped and named. `edited_groups` applies the grants' `groups_add` / `groups_remove`. Pure:
no I/O, no logging.
"""

from shared.claims.from_event import UserFacts
from shared.claims.model import GroupOverride, Section
from shared.event import Event
from shared.values import ABSENT, Item

__all__ = ("edited_groups", "group_override")


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


def _request_groups(event: Event) -> list[str]:
    request = event.request
    if request is None or request.group_configuration is None:
        return []
    return request.group_configuration.groups_to_override or []


def group_override(
    section: Section,
    event: Event,
    item: Item,
    facts: UserFacts | None,
    dropped: list[tuple[str, str]],
) -> GroupOverride | None:
    """The group fields the item or the group rule validly overrides; None keeps them all.

    Only a list of strings (possibly empty, by the data's explicit choice) overrides from the
    item: null, a string or a list holding anything else is dropped and named by its
    attribute. The groups a user attribute names (`from_attribute`) are only those its
    allowlist admits; an absent or malformed attribute keeps the request's groups.
    """
    spec = section.groups
    rule = section.event_groups
    if rule is not None:
        groups = rule.groups(facts or UserFacts.of(event), _request_groups(event), dropped)
    else:
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


def edited_groups(
    groups: GroupOverride | None, names: tuple[str, ...], removed: tuple[str, ...]
) -> GroupOverride:
    """The group override with `names` (in order, once each) less `removed`; roles kept."""
    return GroupOverride(
        groups=[name for name in dict.fromkeys(names) if name not in removed],
        iam_roles=groups.iam_roles if groups is not None else None,
        preferred_role=groups.preferred_role if groups is not None else None,
    )
