"""The group override `[user.groups]` takes from the item: groups, IAM roles, preferred role.

Cognito removes a user's groups when `groupsToOverride` is empty or null, so only well-formed
data overrides: a list of strings (possibly empty, by the data's explicit choice) for groups
and roles, a string for the preferred role. Anything else keeps the request's value and is
dropped and named by its attribute. Pure: no I/O, no logging.
"""

from shared.claims.file import Groups
from shared.claims.model import GroupOverride
from shared.values import ABSENT, Item

__all__ = ("group_override",)


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
