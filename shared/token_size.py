"""How many bytes each token will take once Cognito has issued it, estimated before it does.

A Cognito token is `base64url(header) "." base64url(payload) "." base64url(signature)`: the
header is `{"kid":"<44 characters>","alg":"RS256"}`, the signature an RS256 one with a 2048-bit
key (342 characters), the payload Cognito's own claims for that token with our additions and
suppressions applied. `id_token_claims` and `access_token_claims` model Cognito's claims for an
event; `estimate_token` sizes the payload they make with ours in each form a writer may give it
(`FORMS`), and `TokenEstimate.saving` gives what leaving one of our claims out takes off each
form, exactly, for the shedder (`shared.token_budget`). `estimate_id_token` and
`estimate_access_token` give the same answer for the invocation's path, faster: the claims every
token has are sized once, at import. Pure: orjson, msgspec and the stdlib, no I/O.

How the estimate errs, always on the large side (README, "Token budgets"):

- Serialization. Cognito writes compact JSON; public tokens show `"iss":"https:\\/\\/cognito-idp`,
  a json-smart style writer, which also escapes DEL, U+0080..U+009F and U+2000..U+20FF. Other
  Java writers escape differently: Jackson with ESCAPE_NON_ASCII writes every non-ASCII
  character as `\\uXXXX` (6 bytes, 12 for an astral one, against 2 to 4 in UTF-8; Jackson 3
  also escapes `/`), Gson's HTML-safe default writes `<`, `>`, `&`, `=`, `'`, U+2028 and U+2029
  as `\\uXXXX`. The estimate is the longest of the three, each computed exactly (key order
  never changes a length). For ASCII text that is Cognito's own form; non-ASCII text counts 6
  bytes a character (12 an astral one), 2 to 3 times what today's tokens carry for it.
- Numbers. Integers are written exactly (a Java long or BigInteger). A decimal or a float may be
  kept exact (a BigDecimal: the text the Lambda runtime sends) or read as a double and written
  by `Double.toString` (`1E-7` becomes `1.0E-7`, `1.00000000000000000001` becomes `1.0`); each
  form is computed, the longer counts. Java 19+'s shortest-digit `Double.toString` is modelled:
  Java 18 and older sometimes wrote more digits (at most 24 characters a number), not counted.
- The header's `kid` is 44 characters of standard base64, and json-smart escapes its slashes:
  the estimate takes the worst kid (42 slashes, a 147-character header), up to 56 characters
  more than a pool whose kid has none.
- Claims the event does not show are counted as if present: `at_hash` (22 characters), `acr`
  (`urn:cognito:loa:N`) and `amr` (four methods of eight characters), `jti`, `origin_jti` and
  `event_id` (UUIDs), `device_key` (`<region>_<UUID>`), times of 10 digits. With the kid's
  share, a pool without device tracking, step-up claims or a code flow sees its ID tokens
  overestimated by at most 208 characters and its access tokens by at most 251. User
  attributes count as the strings the event carries, never shorter than their token form
  (`"true"` for `true`, a quoted JSON text for `identities`), `address` as `{"formatted": ...}`.
- Not counted: a `nonce` the client sends to the authorize endpoint (Cognito copies it into
  the ID token), an `aud` from a resource indicator, `acr`/`amr` values an identity provider
  maps in beyond the allowance above. A client that sends those must budget their length.

`tests/unit/test_token_size.py` writes each claim set as each of those writers would, numbers
both ways, signs and verifies real RS256 tokens: the estimate is never below any of them and,
for the worst kid, equal to the longest; for another kid it is above by the kid's share only.
"""

import functools
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Final, TypeAlias

import msgspec
import orjson

from shared.models import Event, JSONValue, encode_json

__all__ = (
    "FORMS",
    "HEADER_CHARS",
    "NUMBER_FORMS",
    "SIGNATURE_CHARS",
    "WRITERS",
    "Forms",
    "TokenEstimate",
    "access_token_claims",
    "base64url_chars",
    "claim_forms",
    "estimate_access_token",
    "estimate_id_token",
    "estimate_token",
    "id_token_claims",
    "token_length",
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
    base64url_chars(_HEADER_JSON + _KID_SLASHES_AT_MOST),  # `\/` for each `/`
    base64url_chars(_HEADER_JSON + _KID_SLASHES_AT_MOST),  # the same
    base64url_chars(_HEADER_JSON + 5),  # `=` as `\u003d`
)
"""The header's characters in each writer's form (json-smart, ASCII-only, HTML-safe), for the
worst `kid`: 42 slashes, and the `=` every 44-character kid ends with."""

HEADER_CHARS: Final = max(_HEADERS)
"""The longest header: 147 characters."""

_FIXED_CHARS: Final = 1 + 1 + SIGNATURE_CHARS  # two dots and the signature

WRITERS: Final = ("json-smart", "ascii-only", "html-safe")
NUMBER_FORMS: Final = ("exact", "double")
FORMS: Final = tuple((writer, numbers) for writer in WRITERS for numbers in NUMBER_FORMS)
"""What each place of a `Forms` vector counts: a writer and how numbers are written."""

Forms: TypeAlias = tuple[int, ...]
"""Payload bytes (or a claim's share of them) in each of `FORMS`, in that order."""


def token_length(payload: Forms) -> int:
    """The longest token (bytes: a JWT is ASCII) with these payload sizes, the worst kid's."""
    # Two number forms per writer, in FORMS order; base64url_chars written out (the hot path).
    smart_exact, smart_double, ascii_exact, ascii_double, html_exact, html_double = payload
    return _FIXED_CHARS + max(
        _HEADERS[0] + (4 * max(smart_exact, smart_double) + 2) // 3,
        _HEADERS[1] + (4 * max(ascii_exact, ascii_double) + 2) // 3,
        _HEADERS[2] + (4 * max(html_exact, html_double) + 2) // 3,
    )


# --- Cognito's own claims ------------------------------------------------------------------------

_UUID: Final = "00000000-0000-0000-0000-000000000000"
_EPOCH: Final = 9_999_999_999  # auth_time, iat, exp: 10 digits until the year 2286
_AT_HASH: Final = "A" * 22  # base64url of half a SHA-256
_ACR: Final = "urn:cognito:loa:9"
_AMR: Final = ["a" * 8] * 4  # copied into every claim set handed out, never changed
_CLIENT_ID: Final = "a" * 26  # stands in for a missing one: Cognito's client ids have 26
_POOL_ID: Final = "ap-southeast-5_AAAAAAAAA"  # stands in for a missing one: the longest region
_CHINA: Final = "cn-"


@functools.lru_cache(maxsize=64)
def _issuer(pool_id: str | None) -> tuple[str, str]:
    pool = pool_id or _POOL_ID
    region = pool.split("_", 1)[0]
    suffix = ".cn" if region.startswith(_CHINA) else ""
    return f"https://cognito-idp.{region}.amazonaws.com{suffix}/{pool}", region


def _user_sub(event: Event) -> str:
    attributes = event.request.user_attributes if event.request else None
    return (attributes.sub if attributes else None) or _UUID


_ID_FIXED: Final[Mapping[str, JSONValue]] = {
    "token_use": "id",
    "auth_time": _EPOCH,
    "iat": _EPOCH,
    "exp": _EPOCH,
    "jti": _UUID,
    "origin_jti": _UUID,
    "event_id": _UUID,
    "at_hash": _AT_HASH,
    "acr": _ACR,
    "amr": _AMR,
}
"""The ID token's claims that are the same for every user (placeholders of their length)."""
_ID_SET: Final = frozenset({*_ID_FIXED, "iss", "cognito:username", "aud"})
"""Claims Cognito sets in every ID token, whatever the attributes say."""
_ACCESS_FIXED: Final[Mapping[str, JSONValue]] = {
    "version": 2,
    "token_use": "access",
    "auth_time": _EPOCH,
    "iat": _EPOCH,
    "exp": _EPOCH,
    "jti": _UUID,
}
_ACCESS_USER_FIXED: Final[Mapping[str, JSONValue]] = {
    **_ACCESS_FIXED,
    "origin_jti": _UUID,
    "event_id": _UUID,
    "acr": _ACR,
    "amr": _AMR,
}
_STRINGS: Final = frozenset({str})


def _id_variable(
    event: Event,
    attributes: Mapping[str, JSONValue],
    groups: Sequence[str] | None,
    roles: Sequence[str] | None,
    preferred_role: str | None,
) -> dict[str, JSONValue]:
    """The ID token's claims that depend on the event (all but `_ID_FIXED`)."""
    if event.is_machine_client:
        raise ValueError("a machine client (client credentials) gets no ID token")
    if _STRINGS.issuperset(map(type, attributes.values())):
        claims: dict[str, JSONValue] = {
            name: value
            for name, value in attributes.items()
            if name not in _ID_SET and not name.startswith("cognito:")
        }
    else:  # Cognito sends strings; anything else counts as the string of its JSON text
        claims = {
            name: value if type(value) is str else _json(value).decode()
            for name, value in attributes.items()
            if name not in _ID_SET and not name.startswith("cognito:")
        }
    address = claims.get("address")
    if address is not None:
        # OIDC's address is an object in the token: larger than the string the event carries.
        claims["address"] = {"formatted": address}
    if "sub" not in claims:
        claims["sub"] = _user_sub(event)
    if groups:
        claims["cognito:groups"] = groups if type(groups) is list else list(groups)
    if roles:
        claims["cognito:roles"] = roles if type(roles) is list else list(roles)
    if preferred_role:
        claims["cognito:preferred_role"] = preferred_role
    claims["iss"] = _issuer(event.user_pool_id)[0]
    claims["cognito:username"] = event.user_name or ""
    claims["aud"] = event.client_id or _CLIENT_ID
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
        `sub`); `cognito:` attributes never reach a token and are left out. Cognito sends
        strings; another value is taken as the string of its JSON text, so the claims this
        returns never hold a float or a Decimal (`estimate_token` relies on it).
    groups, roles, preferred_role
        The final `cognito:groups`, `cognito:roles` and `cognito:preferred_role`: what
        `groupOverrideDetails` will say. An empty list is left out, as Cognito does.

    Raises
    ------
    ValueError
        A machine client (client credentials): it gets no ID token.
    """
    variable = _id_variable(event, attributes, groups, roles, preferred_role)
    return {**variable, **_ID_FIXED, "amr": list(_AMR)}


def _access_variable(
    event: Event, scopes: Iterable[str], groups: Sequence[str] | None
) -> dict[str, JSONValue]:
    """The access token's claims that depend on the event."""
    issuer, region = _issuer(event.user_pool_id)
    client_id = event.client_id or _CLIENT_ID
    claims: dict[str, JSONValue] = {
        "iss": issuer,
        "client_id": client_id,
        "scope": " ".join(scopes),
    }
    if event.is_machine_client:
        claims["sub"] = client_id
        return claims
    claims["sub"] = _user_sub(event)
    if groups:
        claims["cognito:groups"] = groups if type(groups) is list else list(groups)
    claims["username"] = event.user_name or ""
    claims["device_key"] = f"{region}_{_UUID}"
    return claims


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
    variable = _access_variable(event, scopes, groups)
    if event.is_machine_client:
        return {**variable, **_ACCESS_FIXED}
    return {**variable, **_ACCESS_USER_FIXED, "amr": list(_AMR)}


# --- bytes of JSON as the writers Cognito may use write it ---------------------------------------

_ESCAPED_SOMEWHERE: Final = b"/<>&='\x7f"
_ORDINARY: Final = bytes(b for b in range(0x80) if b not in _ESCAPED_SOMEWHERE)
"""ASCII bytes every writer leaves as they are (or escapes as orjson does: `"`, `\\`, controls)."""
_KINDS: Final = bytes.maketrans(
    bytes(range(0x80, 0x100)),
    b"c" * 0x40 + b"2" * 0x20 + b"3" * 0x10 + b"4" * 0x10,
)
"""UTF-8 bytes to their kind: `c` a continuation, else the lead of a 2-, 3- or 4-byte character;
ASCII bytes stay as they are."""
# Patterns for the rare text that holds them, compiled (and cached by `re`) on first use only:
# every import is cold start.
_C1: Final = rb"\xc2[\x80-\x9f]"  # U+0080..U+009F
_GENERAL_PUNCTUATION: Final = rb"\xe2[\x80-\x83]"  # U+2000..U+20FF
_LINE_SEPARATORS: Final = rb"\xe2\x80[\xa8\xa9]"  # U+2028, U+2029
_SURROGATE: Final = "[\ud800-\udfff]"


def _escapes(text: bytes) -> tuple[int, int, int]:
    """Bytes each writer adds to orjson's compact UTF-8 `text`: json-smart, ASCII-only, HTML-safe.

    orjson escapes `"`, `\\` and control characters as every writer does (`\\n` short, the
    rest `\\u00XX`); the writers differ in the rest (module docstring). The ASCII-only writer
    (Jackson with ESCAPE_NON_ASCII; Jackson 3 also escapes `/` by default) escapes `/` too.
    """
    # What some writer escapes: a few bytes of a payload, often only the slashes of URLs.
    special = text.translate(None, _ORDINARY)
    slashes = special.count(b"/")
    if slashes == len(special):
        return slashes, slashes, 0
    dels = special.count(b"\x7f")
    kinds = special.translate(_KINDS)  # non-ASCII bytes as their kind; sequences kept whole
    two, three, four = kinds.count(b"2"), kinds.count(b"3"), kinds.count(b"4")
    html = len(special) - slashes - dels - two - three - four - kinds.count(b"c")
    smart = slashes + 5 * dels
    html_safe = 5 * html
    # Only these lead bytes start the characters json-smart and Gson escape: rare.
    if two and b"\xc2" in special:
        smart += 4 * len(re.findall(_C1, special))
    if three and b"\xe2" in special:
        smart += 3 * len(re.findall(_GENERAL_PUNCTUATION, special))
        html_safe += 3 * len(re.findall(_LINE_SEPARATORS, special))
    return smart, slashes + 4 * two + 3 * three + 8 * four, html_safe


_NONE: Final = (0, 0, 0)


def _java_double_chars(value: float) -> int:
    """Length of Java's `Double.toString(value)` (Java 19+: the shortest digits that read back)."""
    if not math.isfinite(value):
        return 0  # no JSON form either way: counted as sent
    negative = math.copysign(1.0, value) < 0
    if value == 0:
        return 3 + negative  # 0.0
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # value = 0.digits... * 10^(power + 1): `power` is the exponent of its first digit.
    power = len(digits) - 1 + int(exponent or 0) - len(fraction)
    significant = len(digits.rstrip("0"))
    if -3 <= power < 7:
        if power >= 0:
            chars = power + 1 + 1 + max(1, significant - power - 1)  # 1234.5, 100.0
        else:
            chars = 2 + (-power - 1) + significant  # 0.00123
    else:
        chars = 1 + 1 + max(1, significant - 1) + 1 + len(str(power))  # 1.0E-7, 1.2345E10
    return chars + negative


_DECIMAL_DOUBLES: dict[str, int] = {}
"""What writing a decimal as a double adds, by its text: profiles repeat the same numbers."""
_DECIMAL_DOUBLES_AT_MOST: Final = 4096


def _decimal_double(text: str) -> int:
    added = _DECIMAL_DOUBLES.get(text)
    if added is None:
        added = (_java_double_chars(float(text)) or len(text)) - len(text)
        if len(_DECIMAL_DOUBLES) >= _DECIMAL_DOUBLES_AT_MOST:
            _DECIMAL_DOUBLES.clear()
        _DECIMAL_DOUBLES[text] = added
    return added


def _number_forms(numbers: Iterable[Decimal | float]) -> tuple[int, int]:
    """Bytes the numbers add to orjson's text (exact, as a double), summed over `numbers`."""
    exact = double = 0
    for number in numbers:
        if isinstance(number, Decimal):
            # orjson writes str(), as the Lambda runtime sends it: exact adds nothing.
            double += _decimal_double(str(number))
        else:
            sent = len(orjson.dumps(number))
            exact_chars = len(repr(number))  # the Lambda runtime's simplejson writes repr()
            exact += exact_chars - sent
            double += (_java_double_chars(number) or exact_chars) - sent
    return exact, double


_FLAT: Final = frozenset({str, int, bool, type(None)})
"""Kinds of value every writer renders the same: no inexact number can hide inside."""


def _inexact_numbers(values: Iterable[JSONValue], found: list[Decimal | float]) -> None:
    """Append every Decimal and float found in `values`, nested ones included."""
    for value in values:
        kind = type(value)
        if kind in _FLAT:
            continue
        if kind is list or kind is tuple:
            if not _FLAT.issuperset(map(type, value)):
                _inexact_numbers(value, found)
        elif kind is dict:
            if not _FLAT.issuperset(map(type, value.values())):
                _inexact_numbers(value.values(), found)
        elif kind is Decimal or kind is float:
            found.append(value)
        elif isinstance(value, list | tuple):  # subclasses, which orjson writes as their base
            _inexact_numbers(value, found)
        elif isinstance(value, dict):
            _inexact_numbers(value.values(), found)
        elif isinstance(value, Decimal | float):
            found.append(value)


def _scrub(value: JSONValue) -> JSONValue:
    """`value` with lone surrogates (no UTF-8 form) as U+FFFD, which no writer makes shorter."""
    if isinstance(value, str):
        return re.sub(_SURROGATE, "\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {re.sub(_SURROGATE, "\ufffd", k): _scrub(v) for k, v in value.items()}
    return value


def _json(value: JSONValue) -> bytes:
    try:
        return encode_json(value)
    except TypeError:
        # orjson refuses lone surrogates; anything else that is not JSON raises again here.
        return encode_json(_scrub(value))


def _numbers_in(values: Iterable[JSONValue]) -> tuple[int, int]:
    """What the inexact numbers in `values` add to orjson's text: (exact, as doubles)."""
    found: list[Decimal | float] = []
    _inexact_numbers(values, found)
    return _number_forms(found) if found else _NO_NUMBERS


_NO_NUMBERS: Final = (0, 0)


def _spread(writers: tuple[int, int, int], numbers: tuple[int, int]) -> Forms:
    """The six forms: each writer's bytes with the numbers exact, then as doubles."""
    exact, double = numbers
    smart, ascii_only, html_safe = writers
    return (
        smart + exact,
        smart + double,
        ascii_only + exact,
        ascii_only + double,
        html_safe + exact,
        html_safe + double,
    )


def claim_forms(name: str, value: JSONValue) -> Forms:
    """Bytes of the member `"name":value,` in each form: exactly what it adds to a payload."""
    text = _json({name: value})
    member = len(text) - 1  # less the braces, plus the comma that joins it to the others
    smart, ascii_only, html_safe = _escapes(text)
    writers = (member + smart, member + ascii_only, member + html_safe)
    return _spread(writers, _numbers_in((value,)))


class TokenEstimate(msgspec.Struct, frozen=True):
    """One token's estimated size, with what it was built from (for `saving`)."""

    token_bytes: int
    """The encoded token's length (header, payload, signature, two dots): the longest of the
    forms, with the worst `kid`."""
    writer_bytes: tuple[int, int, int]
    """The payload's bytes as each of `WRITERS` writes it, numbers as the Lambda runtime sends
    them."""
    number_bytes: tuple[int, int]
    """What the numbers add to that, kept exact and read as doubles (`NUMBER_FORMS`)."""
    cognito: Mapping[str, JSONValue]
    """Cognito's claims ours may override (all of them, from `estimate_token`)."""
    added: Mapping[str, JSONValue]
    suppressed: Collection[str]

    @property
    def payload(self) -> Forms:
        """The payload's bytes in each form (`FORMS`)."""
        return _spread(self.writer_bytes, self.number_bytes)

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


_ZEROS: Final = (0,) * len(FORMS)


def _estimate(
    writers: tuple[int, int, int],
    numbers: tuple[int, int],
    cognito: Mapping[str, JSONValue],
    added: Mapping[str, JSONValue],
    suppressed: Collection[str],
) -> TokenEstimate:
    longer = max(numbers)
    smart, ascii_only, html_safe = writers
    # token_length, written out for three writers with the longer number form (the hot path)
    token = _FIXED_CHARS + max(
        _HEADERS[0] + (4 * (smart + longer) + 2) // 3,
        _HEADERS[1] + (4 * (ascii_only + longer) + 2) // 3,
        _HEADERS[2] + (4 * (html_safe + longer) + 2) // 3,
    )
    return TokenEstimate(token, writers, numbers, cognito, added, suppressed)


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
        values (str, int, Decimal, float, bool, None, lists and dicts of them); in V1, the
        strings the response sends.
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
    text = _json(payload)
    size = len(text)
    smart, ascii_only, html_safe = _escapes(text)
    values = [added[name] for name in added if name in payload]  # ours that reach the token
    numbers = _NO_NUMBERS if _FLAT.issuperset(map(type, values)) else _numbers_in(values)
    writers = (size + smart, size + ascii_only, size + html_safe)
    return _estimate(writers, numbers, cognito, added, suppressed)


def _members(claims: Mapping[str, JSONValue]) -> tuple[int, int, int]:
    """The bytes of every member of `claims` (no inexact number among them), each with its
    comma, as each writer writes them: the object's text less its braces, plus a comma."""
    text = _json(claims)
    size = len(text) - 1
    smart, ascii_only, html_safe = _escapes(text)
    return size + smart, size + ascii_only, size + html_safe


_ID_FIXED_BYTES: Final = _members(_ID_FIXED)
_ACCESS_FIXED_BYTES: Final = _members(_ACCESS_FIXED)
_ACCESS_USER_FIXED_BYTES: Final = _members(_ACCESS_USER_FIXED)


def _estimate_parts(
    variable: dict[str, JSONValue],
    fixed: Mapping[str, JSONValue],
    fixed_bytes: tuple[int, int, int],
    added: Mapping[str, JSONValue],
    suppressed: Collection[str],
) -> TokenEstimate:
    """`estimate_token({**variable, **fixed}, added, suppressed)`, the fixed part precomputed.

    The payload's members are those of three parts: the fixed claims (their bytes known at
    import), Cognito's other claims less those ours override or suppress, and ours less the
    suppressed; each part encoded alone holds its members, commas between them, two braces.
    """
    if not fixed.keys().isdisjoint(added) or (
        suppressed and not fixed.keys().isdisjoint(suppressed)
    ):
        return estimate_token({**variable, **fixed}, added, suppressed)
    ours = added
    theirs = variable
    names = variable.keys()
    if suppressed:  # usually of Cognito's attributes, and usually absent from the event
        if not added.keys().isdisjoint(suppressed):
            ours = {name: value for name, value in added.items() if name not in suppressed}
        if not (names.isdisjoint(suppressed) and names.isdisjoint(added)):
            theirs = {
                name: value
                for name, value in variable.items()
                if name not in suppressed and name not in added
            }
    elif not names.isdisjoint(added):
        theirs = {name: value for name, value in variable.items() if name not in added}
    text = _json(theirs)
    # Less each part's braces, plus a comma after each member; the payload's own braces less
    # the last member's comma: one byte.
    size = (len(text) - 1 if len(text) > 2 else 0) + 1
    numbers = _NO_NUMBERS
    if ours:
        ours_text = _json(ours)
        size += len(ours_text) - 1
        text += ours_text
        if not _FLAT.issuperset(map(type, ours.values())):
            numbers = _numbers_in(ours.values())
    smart, ascii_only, html_safe = _escapes(text)
    writers = (
        fixed_bytes[0] + size + smart,
        fixed_bytes[1] + size + ascii_only,
        fixed_bytes[2] + size + html_safe,
    )
    return _estimate(writers, numbers, variable, added, suppressed)


def estimate_id_token(
    event: Event,
    attributes: Mapping[str, JSONValue],
    *,
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
    groups: Sequence[str] | None,
    roles: Sequence[str] | None,
    preferred_role: str | None,
) -> TokenEstimate:
    """The ID token's estimate: `estimate_token(id_token_claims(...), added, suppressed)`.

    The same result, faster: the claims that are the same in every ID token are sized once, at
    import. `TokenEstimate.cognito` holds Cognito's other claims (the ones ours may override).
    Arguments as `id_token_claims` and `estimate_token` take them.

    Raises
    ------
    ValueError
        A machine client (client credentials): it gets no ID token.
    TypeError
        A value of ours that is not a plain JSON value.
    """
    variable = _id_variable(event, attributes, groups, roles, preferred_role)
    return _estimate_parts(variable, _ID_FIXED, _ID_FIXED_BYTES, added, suppressed)


def estimate_access_token(
    event: Event,
    *,
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
    scopes: Iterable[str],
    groups: Sequence[str] | None,
) -> TokenEstimate:
    """The access token's estimate: `estimate_token(access_token_claims(...), added, ...)`.

    The same result, faster, as `estimate_id_token`.

    Raises
    ------
    TypeError
        A value of ours that is not a plain JSON value.
    """
    variable = _access_variable(event, scopes, groups)
    if event.is_machine_client:
        return _estimate_parts(variable, _ACCESS_FIXED, _ACCESS_FIXED_BYTES, added, suppressed)
    return _estimate_parts(
        variable, _ACCESS_USER_FIXED, _ACCESS_USER_FIXED_BYTES, added, suppressed
    )
