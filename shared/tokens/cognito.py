"""What Cognito puts in each token besides our claims, and the parts of a JWT around the payload.

A Cognito token is `base64url(header) "." base64url(payload) "." base64url(signature)`: the
header is `{"kid":"<44 characters>","alg":"RS256"}`, the signature an RS256 one with a 2048-bit
key (342 characters). `id_token_claims` and `access_token_claims` give Cognito's own claims for
an event, as `tools/token_preview.py` knows them, each at the largest it can be where the event
does not say: the claims every token has (`ID_FIXED`, `ACCESS_FIXED`, `ACCESS_USER_FIXED`) are
placeholders of their longest length, so their bytes are constants. Pure: no I/O.

How these err, always on the large side (README, "Token budgets"): the header's `kid` is 44
characters of standard base64 and json-smart escapes its slashes, so the worst kid (42 slashes,
a 147-character header) is counted: up to 56 characters more than a pool whose kid has none.
Claims the event does not show are counted as if present: `at_hash` (22 characters), `acr`
(`urn:cognito:loa:N`) and `amr` (four methods of eight characters), `jti`, `origin_jti` and
`event_id` (UUIDs), `device_key` (`<region>_<UUID>`), times of 10 digits. User attributes count
as the strings the event carries, never shorter than their token form (`"true"` for `true`, a
quoted JSON text for `identities`), `address` as `{"formatted": ...}`.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from shared.event import Event
from shared.tokens.writers import Forms, encode, escapes
from shared.values import JSONValue

__all__ = (
    "ACCESS_FIXED",
    "ACCESS_USER_FIXED",
    "CLIENT_ID_STAND_IN",
    "HEADER_CHARS",
    "ID_FIXED",
    "ID_SET",
    "SIGNATURE_CHARS",
    "SMART_FRAME",
    "access_token_claims",
    "base64url_chars",
    "device_key",
    "id_token_claims",
    "issuer",
    "members",
    "token_chars",
    "token_length",
    "user_sub",
)

SIGNATURE_CHARS: Final = 342
"""An RS256 signature with a 2048-bit key: 256 bytes, base64url without padding."""

_KID_CHARS: Final = 44  # standard base64 of 32 bytes: 43 characters and one `=`
_KID_SLASHES_AT_MOST: Final = _KID_CHARS - 2  # the 43rd character carries 4 bits: never `/`
_HEADER_JSON: Final = len('{"kid":"') + _KID_CHARS + len('","alg":"RS256"}')


def base64url_chars(size: int) -> int:
    """Characters of `size` bytes in unpadded base64url, as a JWT writes each part."""
    return (4 * size + 2) // 3


_HEADERS: Final = (
    base64url_chars(_HEADER_JSON + _KID_SLASHES_AT_MOST),  # json-smart: `\/` for each `/`
    base64url_chars(_HEADER_JSON + _KID_SLASHES_AT_MOST),  # ASCII-only: the same
    base64url_chars(_HEADER_JSON + 5),  # HTML-safe: `=` as `\u003d`
)
"""The header's characters in each writer's form, for the worst `kid`: 42 slashes, and the `=`
every 44-character kid ends with."""

HEADER_CHARS: Final = max(_HEADERS)
"""The longest header: 147 characters."""

_FIXED_CHARS: Final = 1 + 1 + SIGNATURE_CHARS  # two dots and the signature
_SMART_HEADER, _ASCII_HEADER, _HTML_HEADER = _HEADERS
SMART_FRAME: Final = _FIXED_CHARS + _SMART_HEADER
"""A token's characters besides its payload when json-smart's form is the longest: whenever
the payload's only escapes are slashes and no fixed claim escapes more in another writer."""


def token_chars(writers: tuple[int, int, int], numbers: int) -> int:
    """The longest token with these payload bytes per writer (`WRITERS`), `numbers` more bytes
    in each for the longer number form: header, payload, signature, two dots, the worst kid's."""
    smart, ascii_only, html_safe = writers
    # base64url_chars written out: the invocation's path.
    return _FIXED_CHARS + max(
        _SMART_HEADER + (4 * (smart + numbers) + 2) // 3,
        _ASCII_HEADER + (4 * (ascii_only + numbers) + 2) // 3,
        _HTML_HEADER + (4 * (html_safe + numbers) + 2) // 3,
    )


def token_length(payload: Forms) -> int:
    """The longest token (bytes: a JWT is ASCII) with these payload sizes (`FORMS`)."""
    smart_exact, smart_double, ascii_exact, ascii_double, html_exact, html_double = payload
    return _FIXED_CHARS + max(
        _SMART_HEADER + base64url_chars(max(smart_exact, smart_double)),
        _ASCII_HEADER + base64url_chars(max(ascii_exact, ascii_double)),
        _HTML_HEADER + base64url_chars(max(html_exact, html_double)),
    )


_UUID: Final = "00000000-0000-0000-0000-000000000000"
_EPOCH: Final = 9_999_999_999  # auth_time, iat, exp: 10 digits until the year 2286
_AT_HASH: Final = "A" * 22  # base64url of half a SHA-256
_ACR: Final = "urn:cognito:loa:9"
_AMR: Final = ("a" * 8,) * 4
CLIENT_ID_STAND_IN: Final = "a" * 26
"""Stands in for a missing client id: Cognito's client ids have 26 characters."""
_POOL_ID: Final = "ap-southeast-5_AAAAAAAAA"  # stands in for a missing one: the longest region


@functools.lru_cache(maxsize=64)
def issuer(pool_id: str | None) -> tuple[str, str]:
    """The issuer URL of a pool (`iss`), and its region."""
    pool = pool_id or _POOL_ID
    region = pool.split("_", 1)[0]
    suffix = ".cn" if region.startswith("cn-") else ""
    return f"https://cognito-idp.{region}.amazonaws.com{suffix}/{pool}", region


ID_FIXED: Final[Mapping[str, JSONValue]] = {
    "token_use": "id",
    "auth_time": _EPOCH,
    "iat": _EPOCH,
    "exp": _EPOCH,
    "jti": _UUID,
    "origin_jti": _UUID,
    "event_id": _UUID,
    "at_hash": _AT_HASH,
    "acr": _ACR,
    "amr": list(_AMR),
}
"""The ID token's claims that are the same for every user (placeholders of their length)."""
ID_SET: Final = frozenset({*ID_FIXED, "iss", "cognito:username", "aud"})
"""Claims Cognito sets in every ID token, whatever the attributes say."""
ACCESS_FIXED: Final[Mapping[str, JSONValue]] = {
    "version": 2,
    "token_use": "access",
    "auth_time": _EPOCH,
    "iat": _EPOCH,
    "exp": _EPOCH,
    "jti": _UUID,
}
"""A machine client's access token's claims that are the same for every client."""
ACCESS_USER_FIXED: Final[Mapping[str, JSONValue]] = {
    **ACCESS_FIXED,
    "origin_jti": _UUID,
    "event_id": _UUID,
    "acr": _ACR,
    "amr": list(_AMR),
}
"""A user's access token's claims that are the same for every user."""


def members(claims: Mapping[str, JSONValue]) -> tuple[int, int, int]:
    """The bytes of every member of `claims` (no inexact number among them), each with its
    comma, as each writer writes them: the object's text less its braces, plus a comma."""
    if not claims:
        return 0, 0, 0
    text = encode(claims)
    size = len(text) - 1
    smart, ascii_only, html_safe = escapes(text)
    return size + smart, size + ascii_only, size + html_safe


def device_key(region: str) -> str:
    """A device key of the region (`<region>_<UUID>`), as an access token may carry one."""
    return f"{region}_{_UUID}"


def user_sub(event: Event) -> str:
    """The user's `sub`: the event's, or a UUID standing in for a missing one."""
    return event.sub or _UUID


def _attribute_claims(attributes: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    """The user attributes an ID token carries: Cognito's own and `cognito:` ones left out,
    each as a string (Cognito sends strings; anything else counts as the string of its JSON
    text), `address` as OIDC's object (larger than the string the event carries)."""
    claims: dict[str, JSONValue] = {
        name: value if type(value) is str else encode(value).decode()
        for name, value in attributes.items()
        if name not in ID_SET and not name.startswith("cognito:")
    }
    address = claims.get("address")
    if address is not None:
        claims["address"] = {"formatted": address}
    return claims


def id_token_claims(
    event: Event,
    attributes: Mapping[str, JSONValue],
    *,
    groups: Sequence[str] | None,
    roles: Sequence[str] | None,
    preferred_role: str | None,
) -> dict[str, JSONValue]:
    """Cognito's own claims in the ID token of a user, before our additions and suppressions.

    Parameters
    ----------
    event
        The decoded event (pool, client, user name).
    attributes
        `request.userAttributes` as the event carries it (the decoded `Event` keeps only
        `sub`). The claims this returns never hold a float or a Decimal.
    groups, roles, preferred_role
        The final `cognito:groups`, `cognito:roles` and `cognito:preferred_role`: what
        `groupOverrideDetails` will say. An empty list is left out, as Cognito does.

    Raises
    ------
    ValueError
        A machine client (client credentials): it gets no ID token.
    """
    if event.is_machine_client:
        raise ValueError("a machine client (client credentials) gets no ID token")
    claims = _attribute_claims(attributes)
    if "sub" not in claims:
        claims["sub"] = user_sub(event)
    if groups:
        claims["cognito:groups"] = list(groups)
    if roles:
        claims["cognito:roles"] = list(roles)
    if preferred_role:
        claims["cognito:preferred_role"] = preferred_role
    claims["iss"] = issuer(event.user_pool_id)[0]
    claims["cognito:username"] = event.user_name or ""
    claims["aud"] = event.client_id or CLIENT_ID_STAND_IN
    return {**claims, **ID_FIXED, "amr": list(_AMR)}


def access_token_claims(
    event: Event, *, scopes: Iterable[str], groups: Sequence[str] | None
) -> dict[str, JSONValue]:
    """Cognito's own claims in the access token, before our additions and suppressions.

    Parameters
    ----------
    event
        The decoded event; a machine client's token has no user claims and no groups.
    scopes
        The final scopes (`scope` is them joined by spaces).
    groups
        The final `cognito:groups` (users only; an empty list is left out).
    """
    iss, region = issuer(event.user_pool_id)
    client_id = event.client_id or CLIENT_ID_STAND_IN
    claims: dict[str, JSONValue] = {"iss": iss, "client_id": client_id, "scope": " ".join(scopes)}
    if event.is_machine_client:
        return {**claims, "sub": client_id, **ACCESS_FIXED}
    claims["sub"] = user_sub(event)
    if groups:
        claims["cognito:groups"] = list(groups)
    claims["username"] = event.user_name or ""
    claims["device_key"] = device_key(region)
    return {**claims, **ACCESS_USER_FIXED, "amr": list(_AMR)}
