"""How many bytes each token will take once Cognito has issued it, estimated before it does.

`estimate_token` sizes a payload (Cognito's claims, `shared.tokens.cognito`, with ours added and
the suppressions applied) in each form a writer may give it (`shared.tokens.writers.FORMS`), and
`TokenEstimate.saving` gives what leaving one of our claims out takes off each form, exactly, for
the shedder (`shared.tokens.shed`). `id_token_bytes` and `access_token_bytes` give the same
size for the invocation's path, and only it: the longest form, from the event's own values and
ours, with the claims every token has (and the pool's issuer) sized once; no claim set is built
but the one that is encoded. Pure: orjson, msgspec and the stdlib, no I/O.

The estimate is never below the token Cognito issues, and equal to the longest form for the
worst `kid` (`tests/unit/test_token_size.py` signs real RS256 tokens to show it); where it errs,
and by how much, is in the docstrings of `writers` and `cognito` and in the README.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import msgspec
import orjson

from shared.event import Event
from shared.tokens.cognito import (
    ACCESS_FIXED,
    ACCESS_USER_FIXED,
    CLIENT_ID_STAND_IN,
    ID_FIXED,
    ID_SET,
    access_token_claims,
    device_key,
    id_token_claims,
    issuer,
    members,
    token_chars,
    user_sub,
)
from shared.tokens.writers import (
    FORMS,
    Forms,
    claim_forms,
    encode,
    escapes,
    has_inexact,
    numbers_in,
    spread,
)
from shared.values import JSONValue

__all__ = ("TokenEstimate", "access_token_bytes", "estimate_token", "id_token_bytes")

_ZEROS: Final = (0,) * len(FORMS)


class TokenEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """One token's estimated size, with what it was built from (for `saving`)."""

    token_bytes: int
    """The encoded token's length (header, payload, signature, two dots): the longest of the
    forms, with the worst `kid`."""
    payload: Forms
    """The payload's bytes in each form (`FORMS`)."""
    cognito: Mapping[str, JSONValue]
    """Cognito's claims ours may override."""
    added: Mapping[str, JSONValue]
    suppressed: Collection[str]

    def saving(self, name: str) -> Forms:
        """What the payload loses in each form when our claim `name` is not added: exact.

        Zeros for a name we do not add or that is suppressed (it takes no bytes). Not adding a
        claim that overrides one of Cognito's brings Cognito's value back, so a saving may be
        negative. `token_length(payload less the savings of the claims left out)` is exactly
        the estimate of the token without them.
        """
        if name not in self.added or name in self.suppressed:
            return _ZEROS
        ours = claim_forms(name, self.added[name])
        if name not in self.cognito:
            return ours
        theirs = claim_forms(name, self.cognito[name])
        return tuple(a - b for a, b in zip(ours, theirs, strict=True))


def estimate_token(
    cognito: Mapping[str, JSONValue],
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
) -> TokenEstimate:
    """Estimate a token: Cognito's claims, ours added or overriding, then the suppressions.

    Parameters
    ----------
    cognito
        Cognito's own claims (`id_token_claims`, `access_token_claims`): no float or Decimal
        in them, so only `added` is searched for numbers a writer may change.
    added
        Our claims for this token as they will reach it (`claimsToAddOrOverride`): plain JSON
        values; in V1, the strings the response sends.
    suppressed
        Claims suppressed (`claimsToSuppress`): suppression wins over an addition, and a
        suppressed claim takes no bytes.

    Raises
    ------
    TypeError
        A value that is not a plain JSON value.
    """
    payload = {**cognito, **added}
    for name in suppressed:
        payload.pop(name, None)
    text = encode(payload)
    size = len(text)
    smart, ascii_only, html_safe = escapes(text)
    ours = [added[name] for name in added if name in payload]  # ours that reach the token
    numbers = numbers_in(ours) if has_inexact(ours) else (0, 0)
    writers = (size + smart, size + ascii_only, size + html_safe)
    return TokenEstimate(
        token_bytes=token_chars(writers, max(numbers)),
        payload=spread(writers, numbers),
        cognito=cognito,
        added=added,
        suppressed=suppressed,
    )


# --- the invocation's path ----------------------------------------------------------------------


class _Fixed(NamedTuple):
    """The bytes (per writer) of the claims that are the same in every token of one pool."""

    id: tuple[int, int, int]
    access_user: tuple[int, int, int]
    access_machine: tuple[int, int, int]


_POOLS: dict[str | None, _Fixed] = {}
_POOLS_AT_MOST: Final = 64


def _fixed(pool_id: str | None) -> _Fixed:
    fixed = _POOLS.get(pool_id)
    if fixed is None:
        iss, region = issuer(pool_id)
        fixed = _Fixed(
            members({**ID_FIXED, "iss": iss}),
            members({**ACCESS_USER_FIXED, "iss": iss, "device_key": device_key(region)}),
            members({**ACCESS_FIXED, "iss": iss}),
        )
        if len(_POOLS) >= _POOLS_AT_MOST:
            _POOLS.clear()
        _POOLS[pool_id] = fixed
    return fixed


class _Attributes(NamedTuple):
    """What one set of attribute names needs before it is a token's claims."""

    drop: tuple[str, ...]
    """Names Cognito sets itself or keeps out of tokens (`cognito:`)."""
    address: bool
    sub: bool


_ATTRIBUTES: dict[tuple[str, ...], _Attributes] = {}
_ATTRIBUTES_AT_MOST: Final = 256
_ID_FIXED_NAMES: Final = frozenset({*ID_SET} - {"cognito:username", "aud"})
"""Claims of the ID token sized with the pool's fixed bytes (`_fixed`)."""
_ACCESS_FIXED_NAMES: Final = frozenset({*ACCESS_USER_FIXED, "iss", "device_key"})
_STRINGS: Final = frozenset({str})


def _attributes(names: tuple[str, ...]) -> _Attributes:
    """What `names` need (attribute sets repeat: one pool sends a few), cached."""
    plan = _ATTRIBUTES.get(names)
    if plan is None:
        drop = tuple(name for name in names if name in ID_SET or name.startswith("cognito:"))
        plan = _Attributes(drop, "address" in names, "sub" in names)
        if len(_ATTRIBUTES) >= _ATTRIBUTES_AT_MOST:
            _ATTRIBUTES.clear()
        _ATTRIBUTES[names] = plan
    return plan


def _sized(
    theirs: dict[str, JSONValue],
    fixed: tuple[int, int, int],
    added: Mapping[str, JSONValue],
    suppressed: Collection[str],
) -> int:
    """The token of `fixed` claims, Cognito's other claims (`theirs`, a dict of our own to
    change), ours added and the suppressions applied: its longest form.

    Each part encoded alone holds its members, commas between them and two braces: the
    payload's bytes are each part's less one, plus one.
    """
    ours = added
    if suppressed:
        if not added.keys().isdisjoint(suppressed):
            ours = {name: value for name, value in added.items() if name not in suppressed}
        for name in suppressed:
            theirs.pop(name, None)
    if ours and not theirs.keys().isdisjoint(ours):
        for name in theirs.keys() & ours.keys():
            del theirs[name]
    try:
        text = orjson.dumps(theirs)  # strings only (and lists of them): no number to mind
    except TypeError:
        text = encode(theirs)
    size = len(text) if len(text) > 2 else 1
    longer = 0
    if ours:
        ours_text = encode(ours)
        size += len(ours_text) - 1
        text += ours_text
        if has_inexact(ours.values()):
            longer = max(numbers_in(ours.values()))
    smart, ascii_only, html_safe = escapes(text)
    return token_chars(
        (fixed[0] + size + smart, fixed[1] + size + ascii_only, fixed[2] + size + html_safe),
        longer,
    )


def id_token_bytes(
    event: Event,
    attributes: Mapping[str, JSONValue],
    *,
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
    groups: Sequence[str] | None,
    roles: Sequence[str] | None,
    preferred_role: str | None,
) -> int:
    """The ID token's size: `estimate_token(id_token_claims(...), added, suppressed).token_bytes`.

    Arguments as `id_token_claims` and `estimate_token` take them.

    Raises
    ------
    ValueError
        A machine client (client credentials): it gets no ID token.
    TypeError
        A value of ours that is not a plain JSON value.
    """
    if event.is_machine_client:
        raise ValueError("a machine client (client credentials) gets no ID token")
    if not _ID_FIXED_NAMES.isdisjoint(added) or not _ID_FIXED_NAMES.isdisjoint(suppressed):
        # Ours never touch these (the guard); sized the long way should they ever.
        claims = id_token_claims(
            event, attributes, groups=groups, roles=roles, preferred_role=preferred_role
        )
        return estimate_token(claims, added, suppressed).token_bytes
    plan = _attributes(tuple(attributes))
    theirs = dict(attributes)
    for name in plan.drop:
        del theirs[name]
    if not _STRINGS.issuperset(map(type, theirs.values())):
        theirs = {k: v if type(v) is str else encode(v).decode() for k, v in theirs.items()}
    if plan.address:
        theirs["address"] = {"formatted": theirs["address"]}
    if not plan.sub:
        theirs["sub"] = user_sub(event)
    if groups:
        theirs["cognito:groups"] = groups
    if roles:
        theirs["cognito:roles"] = roles
    if preferred_role:
        theirs["cognito:preferred_role"] = preferred_role
    theirs["cognito:username"] = event.user_name or ""
    theirs["aud"] = event.client_id or CLIENT_ID_STAND_IN
    return _sized(theirs, _fixed(event.user_pool_id).id, added, suppressed)


def access_token_bytes(
    event: Event,
    *,
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
    scopes: Iterable[str],
    groups: Sequence[str] | None,
) -> int:
    """The access token's size, as `id_token_bytes` gives the ID token's.

    Raises
    ------
    TypeError
        A value of ours that is not a plain JSON value.
    """
    if not _ACCESS_FIXED_NAMES.isdisjoint(added) or not _ACCESS_FIXED_NAMES.isdisjoint(suppressed):
        claims = access_token_claims(event, scopes=scopes, groups=groups)
        return estimate_token(claims, added, suppressed).token_bytes
    client_id = event.client_id or CLIENT_ID_STAND_IN
    theirs: dict[str, JSONValue] = {"client_id": client_id, "scope": " ".join(scopes)}
    fixed = _fixed(event.user_pool_id)
    if event.is_machine_client:
        theirs["sub"] = client_id
        return _sized(theirs, fixed.access_machine, added, suppressed)
    theirs["sub"] = user_sub(event)
    if groups:
        theirs["cognito:groups"] = groups
    theirs["username"] = event.user_name or ""
    return _sized(theirs, fixed.access_user, added, suppressed)
