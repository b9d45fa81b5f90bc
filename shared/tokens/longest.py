"""A token's longest form, the invocation's way: one list of an answer's values, encoded once.

`id_chars` and `access_chars` give, to the byte, what `shared.tokens.size.estimate_token` gives
for a token (`tests/unit/test_token_size.py` holds them equal), but only the longest form and
without building the token's claims: the answer's variable values (the user's attributes less
what Cognito drops, the user name, the client id, the groups, ours) are encoded in one list, its
bytes and each writer's escapes counted once, and the claims every token of a pool has are sized
once per pool. Pure: no I/O.

A payload is `{` + its members joined by commas + `}`. In the list, a dict holds its members
(its text less one is their bytes with a comma each); any other value is one member whose key is
a constant (its text plus the key's characters and four: quotes, colon, comma); the list's
brackets and commas come off.
"""

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson

from shared.event import Event
from shared.tokens.cognito import (
    ACCESS_FIXED,
    ACCESS_USER_FIXED,
    CLIENT_ID_STAND_IN,
    ID_FIXED,
    ID_SET,
    SMART_FRAME,
    device_key,
    issuer,
    members,
    token_chars,
    user_sub,
)
from shared.tokens.writers import UNESCAPED_ASCII, encode, escapes, has_inexact, numbers_in
from shared.values import JSONValue

__all__ = ("access_chars", "final_scopes", "id_chars", "preferred_role")

_EMPTY: Final[Mapping[str, Any]] = {}
_NO_NAMES: Final[list[str]] = []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if type(value) is dict else _EMPTY


def _names(value: object) -> list[str]:
    return value if type(value) is list else _NO_NAMES


class _Fixed(NamedTuple):
    """The bytes (per writer) of the claims that are the same in every token of one pool, and
    the frame (`SMART_FRAME`) when json-smart's form is the longest for slashes-only escapes,
    else 0."""

    id: tuple[int, int, int, int]
    access_user: tuple[int, int, int, int]
    access_machine: tuple[int, int, int, int]


_POOLS: dict[str | None, _Fixed] = {}
_POOLS_AT_MOST: Final = 64


def _with_frame(smart: int, ascii_only: int, html_safe: int) -> tuple[int, int, int, int]:
    frame = SMART_FRAME if smart >= ascii_only and smart >= html_safe else 0
    return smart, ascii_only, html_safe, frame


def _fixed(pool_id: str | None) -> _Fixed:
    fixed = _POOLS.get(pool_id)
    if fixed is None:  # once per pool
        iss, region = issuer(pool_id)
        fixed = _Fixed(
            _with_frame(*members({**ID_FIXED, "iss": iss})),
            _with_frame(
                *members({**ACCESS_USER_FIXED, "iss": iss, "device_key": device_key(region)})
            ),
            _with_frame(*members({**ACCESS_FIXED, "iss": iss})),
        )
        if len(_POOLS) >= _POOLS_AT_MOST:
            _POOLS.clear()
        _POOLS[pool_id] = fixed
    return fixed


_ID_OWN: Final = frozenset(
    {*ID_SET, "sub", "cognito:groups", "cognito:roles", "cognito:preferred_role"}
)
"""Claims of the ID token Cognito sets whatever the attributes say: ours never touch them (the
guard); should they ever, the token is sized the long way."""
_ACCESS_OWN: Final = frozenset(
    {*ACCESS_USER_FIXED, "iss", "device_key", "client_id", "scope", "sub", "username"}
    | {"cognito:groups"}
)


class _Attributes(NamedTuple):
    """What one set of attribute names needs before it is a token's claims."""

    drop: tuple[str, ...]
    """Names Cognito sets itself or keeps out of tokens (`cognito:`)."""
    names: frozenset[str]
    """The names kept: what ours may override."""
    address: bool
    sub: bool


_ATTRIBUTES: dict[tuple[str, ...], _Attributes] = {}
_ATTRIBUTES_AT_MOST: Final = 256
_STRINGS: Final = frozenset({str})


def _attributes(names: tuple[str, ...]) -> _Attributes:
    """What `names` need (attribute sets repeat: one pool sends a few), cached."""
    plan = _ATTRIBUTES.get(names)
    if plan is None:
        drop = tuple(name for name in names if name in ID_SET or name.startswith("cognito:"))
        plan = _Attributes(drop, frozenset(names), "address" in names, "sub" in names)
        if len(_ATTRIBUTES) >= _ATTRIBUTES_AT_MOST:
            _ATTRIBUTES.clear()
        _ATTRIBUTES[names] = plan
    return plan


def _key(name: str) -> int:
    """What a member adds besides its value's text: the key, its quotes, a colon, a comma."""
    return len(name) + 4


_ID_KEYS: Final = _key("cognito:username") + _key("aud")
_GROUPS: Final = _key("cognito:groups")
_ROLES: Final = _key("cognito:roles")
_PREFERRED: Final = _key("cognito:preferred_role")
_ACCESS_KEYS: Final = _key("client_id") + _key("scope") + _key("sub")
_USERNAME: Final = _key("username")


def _chars(
    parts: list[JSONValue],
    dicts: int,
    keys: int,
    fixed: tuple[int, int, int, int],
    *,
    ours: Mapping[str, JSONValue],
    floats: bool,
) -> int:
    """The longest token whose variable values are `parts` (`dicts` of them dicts of members,
    the last `ours` when any; the rest members with `keys` more bytes), beside `fixed` claims."""
    try:
        text = orjson.dumps(parts)
    except TypeError:  # a Decimal, an integer past 64 bits, a lone surrogate
        text, floats = encode(parts), True
    size = len(text) - len(parts) - dicts + keys
    longer = max(numbers_in(ours.values())) if floats and has_inexact(ours.values()) else 0
    special = text.translate(None, UNESCAPED_ASCII)
    slashes = special.count(b"/")
    if slashes == len(special) and fixed[3]:  # the usual: json-smart's form is the longest
        return fixed[3] + (4 * (fixed[0] + size + slashes + longer) + 2) // 3
    smart, ascii_only, html_safe = escapes(text)
    payloads = (fixed[0] + size + smart, fixed[1] + size + ascii_only, fixed[2] + size + html_safe)
    return token_chars(payloads, longer)


def id_chars(
    decoded: Event,
    attributes: Mapping[str, Any],
    generation: Mapping[str, Any],
    groups: Mapping[str, Any],
    *,
    floats: bool,
) -> int:
    """The ID token's longest form from the answer as `shared.tokens.issued` reads it (the
    user's attributes, the ID token's generation, the final groups mapping); -1 when ours
    touch a claim Cognito sets itself (the guard never lets them): size it the long way.

    Raises
    ------
    ValueError
        A machine client (client credentials): it gets no ID token.
    """
    if decoded.is_machine_client:
        raise ValueError("a machine client (client credentials) gets no ID token")
    added = _mapping(generation.get("claimsToAddOrOverride"))
    suppressed = _names(generation.get("claimsToSuppress"))
    if not _ID_OWN.isdisjoint(added) or not _ID_OWN.isdisjoint(suppressed):
        return -1
    names = tuple(attributes)
    plan = _ATTRIBUTES.get(names) or _attributes(names)
    theirs = dict(attributes)
    for name in plan.drop:
        del theirs[name]
    if suppressed:
        for name in suppressed:
            theirs.pop(name, None)
        if not added.keys().isdisjoint(suppressed):
            added = {name: value for name, value in added.items() if name not in suppressed}
    if not plan.names.isdisjoint(added):
        for name in added:  # ours override these
            theirs.pop(name, None)
    if not _STRINGS.issuperset(map(type, theirs.values())):
        theirs = {k: v if type(v) is str else encode(v).decode() for k, v in theirs.items()}
    if plan.address and "address" in theirs:
        theirs["address"] = {"formatted": theirs["address"]}
    if not plan.sub:
        theirs["sub"] = user_sub(decoded)
    parts = [theirs, decoded.user_name or "", decoded.client_id or CLIENT_ID_STAND_IN]
    keys = _ID_KEYS
    if value := groups.get("groupsToOverride"):
        parts.append(value)
        keys += _GROUPS
    if value := groups.get("iamRolesToOverride"):
        parts.append(value)
        keys += _ROLES
    if value := preferred_role(groups):
        parts.append(value)
        keys += _PREFERRED
    if added:
        parts.append(added)
    pool = decoded.user_pool_id
    fixed = (_POOLS.get(pool) or _fixed(pool)).id
    return _chars(parts, 1 + bool(added), keys, fixed, ours=added, floats=floats)


def access_chars(
    decoded: Event,
    generation: Mapping[str, Any],
    scopes: list[str],
    groups: Mapping[str, Any],
    *,
    floats: bool,
) -> int:
    """The access token's longest form, as `id_chars` gives the ID token's, from its
    generation, the requested scopes and the final groups mapping."""
    added = _mapping(generation.get("claimsToAddOrOverride"))
    suppressed = _names(generation.get("claimsToSuppress"))
    if not _ACCESS_OWN.isdisjoint(added) or not _ACCESS_OWN.isdisjoint(suppressed):
        return -1
    if suppressed and not added.keys().isdisjoint(suppressed):
        added = {name: value for name, value in added.items() if name not in suppressed}
    client_id = decoded.client_id or CLIENT_ID_STAND_IN
    pool = decoded.user_pool_id
    fixed = _POOLS.get(pool) or _fixed(pool)
    scope = " ".join(final_scopes(scopes, generation))
    if decoded.is_machine_client:
        parts: list[JSONValue] = [client_id, scope, client_id]
        keys, frame = _ACCESS_KEYS, fixed.access_machine
    else:
        parts = [client_id, scope, user_sub(decoded), decoded.user_name or ""]
        keys, frame = _ACCESS_KEYS + _USERNAME, fixed.access_user
        if value := groups.get("groupsToOverride"):
            parts.append(value)
            keys += _GROUPS
    if added:
        parts.append(added)
    return _chars(parts, bool(added), keys, frame, ours=added, floats=floats)


def preferred_role(groups: Mapping[str, Any]) -> str | None:
    """The final preferred role: a string (the AWS docs' test event sends a one-element list)."""
    preferred = groups.get("preferredRole")
    if type(preferred) is list:
        preferred = preferred[0] if len(preferred) == 1 else None
    return preferred if type(preferred) is str else None


def final_scopes(requested: list[str], generation: Mapping[str, Any]) -> list[str]:
    """The access token's scopes: requested, then added, less the suppressed (each once)."""
    add = generation.get("scopesToAdd")
    suppress = generation.get("scopesToSuppress")
    if not (add or suppress):
        return requested
    merged = dict.fromkeys(requested + _names(add))
    for scope in _names(suppress):
        merged.pop(scope, None)
    return list(merged)
