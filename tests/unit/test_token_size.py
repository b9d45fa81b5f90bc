"""The token size estimate against real RS256 tokens, signed here with a 2048-bit key.

Each claim set is written the way each Java JSON writer Cognito may use would write it (json-smart,
whose escapes public Cognito tokens show; Jackson escaping every non-ASCII character and `/`;
Gson's HTML-safe escapes; and plain UTF-8 as orjson writes it), with numbers kept exact or
re-read as doubles, each writer implemented here character by character, independently of
`shared.token_size`. Every one is signed and verified. The claim: the estimate is never below
any of them; with the worst `kid` (42 slashes) it equals the longest; with any other kid it is
above the longest by at most what the kid's missing slashes would have added to the header (56
characters at most), so never more than 3% above a token of 1,867 characters or more.
"""

import base64
import json
import math
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.event import Event, decode_event
from shared.tokens.cognito import (
    HEADER_CHARS,
    SIGNATURE_CHARS,
    access_token_claims,
    base64url_chars,
    id_token_claims,
    token_length,
)
from shared.tokens.issued import Issued, token_sizes
from shared.tokens.size import estimate_token
from shared.tokens.writers import FORMS, claim_forms
from tests.conftest import load_event
from tools.token_preview import preview_tokens

_PRIVATE_KEY: Final = rsa.generate_private_key(public_exponent=65537, key_size=2048)
WORST_KID: Final = "/" * 42 + "8="  # the 43rd character of 32 bytes in base64 carries 4 bits
WRITERS: Final = ("json-smart", "ascii-only", "html-safe", "utf-8")
NUMBERS: Final = ("exact", "double")

# --- the writers -------------------------------------------------------------------------------

_SHORT: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                 "\t": "\\t"}  # fmt: skip


def _u(code: int) -> str:
    return f"\\u{code:04x}"


def _character(character: str, writer: str) -> str:
    if character in _SHORT:
        return _SHORT[character]
    code = ord(character)
    if code < 0x20:
        return _u(code)
    if writer == "json-smart":
        if character == "/":
            return "\\/"
        if 0x7F <= code <= 0x9F or 0x2000 <= code <= 0x20FF:
            return _u(code)
    elif writer == "ascii-only":
        if character == "/":
            return "\\/"
        if code > 0xFFFF:
            code -= 0x10000
            return _u(0xD800 + (code >> 10)) + _u(0xDC00 + (code & 0x3FF))
        if code > 0x7F:
            return _u(code)
    elif writer == "html-safe" and character in "<>&='\u2028\u2029":
        return _u(code)
    return character


def _java_double(value: float) -> str:
    """Java 19+'s `Double.toString`: the shortest digits, plain in [1e-3, 1e7), else `d.dE<n>`."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    first = exponent + len(digits) - 1  # the power of ten of the first digit
    head = "-" if sign else ""
    if 1e-3 <= abs(value) < 1e7:
        if first >= 0:
            whole, fraction = digits[: first + 1].ljust(first + 1, "0"), digits[first + 1 :]
        else:
            whole, fraction = "0", "0" * (-first - 1) + digits
        return f"{head}{whole}.{fraction or '0'}"
    return f"{head}{digits[0]}.{digits[1:] or '0'}E{first}"


def _write(value: Any, writer: str, numbers: str) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(value) if numbers == "exact" else _java_double(float(value))
    if isinstance(value, float):
        return repr(value) if numbers == "exact" else _java_double(value)
    if isinstance(value, str):
        return '"' + "".join(_character(c, writer) for c in value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ",".join(_write(item, writer, numbers) for item in value) + "]"
    assert isinstance(value, dict)
    members = (
        f"{_write(k, writer, numbers)}:{_write(v, writer, numbers)}" for k, v in value.items()
    )
    return "{" + ",".join(members) + "}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(header: str, payload: str) -> str:
    signing_input = f"{_b64(header.encode())}.{_b64(payload.encode())}"
    signature = _PRIVATE_KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _verified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of an RS256 token whose signature the public key verifies."""
    header, payload, signature = token.split(".")
    _PRIVATE_KEY.public_key().verify(
        _unb64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return json.loads(_unb64(header)), json.loads(_unb64(payload))


def _signed(claims: Mapping[str, Any], kid: str) -> dict[tuple[str, str], str]:
    """The token each writer and number form makes of `claims`, signed and verified."""
    tokens: dict[tuple[str, str], str] = {}
    seen: dict[tuple[str, str], str] = {}
    for writer in WRITERS:
        header = "{" + f'"kid":{_write(kid, writer, "exact")},"alg":"RS256"' + "}"
        for numbers in NUMBERS:
            payload = _write(dict(claims), writer, numbers)
            if (header, payload) not in seen:
                token = _sign(header, payload)
                header_claims, token_claims = _verified(token)
                assert header_claims == {"kid": kid, "alg": "RS256"}
                assert set(token_claims) == set(claims)
                seen[header, payload] = token
            tokens[writer, numbers] = seen[header, payload]
    return tokens


def _header_slack(kid: str) -> int:
    """What the worst kid's slashes add to a json-smart header over this kid's."""
    return HEADER_CHARS - base64url_chars(len('{"kid":"","alg":"RS256"}') + 44 + kid.count("/"))


def _final(
    cognito: Mapping[str, Any], added: Mapping[str, Any], suppressed: list[str]
) -> dict[str, Any]:
    claims = {**cognito, **added}
    for name in suppressed:
        claims.pop(name, None)
    return claims


def _check(
    cognito: Mapping[str, Any], added: Mapping[str, Any], suppressed: list[str], kid: str
) -> None:
    estimate = estimate_token(cognito, added, suppressed)
    claims = _final(cognito, added, suppressed)
    payloads = tuple(len(_write(claims, w, n).encode()) for w, n in FORMS)
    assert estimate.payload == payloads
    for numbers in NUMBERS:  # plain UTF-8 is never longer than a writer that escapes more
        plain = len(_write(claims, "utf-8", numbers).encode())
        assert all(
            plain <= size for (_, n), size in zip(FORMS, payloads, strict=True) if n == numbers
        )
    lengths = {form: len(token) for form, token in _signed(claims, kid).items()}
    longest = max(lengths.values())
    assert estimate.token_bytes >= longest, lengths
    assert estimate.token_bytes - longest <= _header_slack(kid)
    assert estimate.token_bytes <= max(1.03 * longest, longest + 56)
    worst = {form: len(token) for form, token in _signed(claims, WORST_KID).items()}
    assert estimate.token_bytes == max(worst.values()), worst


# --- strategies ----------------------------------------------------------------------------------

_SPECIALS: Final = "/<>&='\"\\\x7f\x00\x1f\n\t\x85\u2000\u20ac\u2028\u2029é日😀\U0010fffd"
_characters = st.one_of(st.characters(codec="utf-8"), st.sampled_from(_SPECIALS))
_text = st.text(_characters, max_size=24)
_plain = st.text(string.ascii_letters + string.digits + "-._@", min_size=1, max_size=24)
_decimals = st.one_of(
    st.builds(
        lambda mantissa, power: Decimal(mantissa).scaleb(power),
        st.integers(-(10**38) + 1, 10**38 - 1),
        st.integers(-130, 87),
    ),
    st.sampled_from([Decimal("1.00000000000000000001"), Decimal("1E-7"), Decimal("0.001"),
                     Decimal("-9999999.5"), Decimal("12345678.9"), Decimal("0.1")]),
)  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**40), 10**40),
    _decimals,
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5)),
    max_leaves=20,
)
_names = st.one_of(
    st.text(_characters, min_size=1, max_size=16),
    st.sampled_from(["email", "name", "custom:tenant", "address", "cognito:groups", "plan"]),
)
_added = st.dictionaries(_names, _values, max_size=8)
_random_kids = st.builds(
    lambda key: base64.b64encode(key).decode(), st.binary(min_size=32, max_size=32)
)
_kids = st.one_of(_random_kids, st.just(WORST_KID), st.just("A" * 43 + "="))


@st.composite
def _events(draw: st.DrawFn) -> tuple[Event, dict[str, Any], dict[str, Any]]:
    """A decoded event, its raw form and its user attributes."""
    machine = draw(st.booleans())
    region = draw(st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "ap-southeast-5"]))
    attributes: dict[str, Any] = {}
    if not machine:
        attributes = {"sub": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
                      "cognito:user_status": "CONFIRMED", "email_verified": "true"}  # fmt: skip
        extra = st.one_of(_plain, _text)
        attributes |= draw(
            st.dictionaries(
                st.sampled_from(["email", "name", "address", "custom:tenant", "identities",
                                 "phone_number", "updated_at", "locale"]),
                extra, max_size=6,
            )
        )  # fmt: skip
    event = {
        "version": "3" if machine else "2",
        "triggerSource": "TokenGeneration_ClientCredentials"
        if machine
        else "TokenGeneration_Authentication",
        "region": region,
        "userPoolId": f"{region}_AbCdEfGhI",
        "userName": "ClientCredentials" if machine else draw(st.one_of(_plain, _text)),
        "callerContext": {"clientId": "1example23456789abcdefghij"},
        "request": {"userAttributes": attributes, "scopes": []},
    }
    return decode_event(event), event, attributes


@st.composite
def _cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    event, _, attributes = draw(_events())
    groups = draw(st.lists(st.one_of(_plain, _text), max_size=60))
    scopes = draw(st.lists(st.text(string.ascii_letters + "/.:_-", min_size=1), max_size=12))
    if event.is_machine_client or draw(st.booleans()):
        cognito = access_token_claims(event, scopes=scopes, groups=groups)
    else:
        roles = [f"arn:aws:iam::123456789012:role/{g}" for g in groups[:5]]
        cognito = id_token_claims(
            event,
            attributes,
            groups=groups,
            roles=roles,
            preferred_role=roles[0] if roles else None,
        )
    added = draw(_added)
    names = sorted({*cognito, *added})
    suppressed = draw(st.lists(st.sampled_from(names), max_size=4)) if names else []
    return cognito, added, suppressed


# --- the estimate against signed tokens ----------------------------------------------------------

_SLOW: Final = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SLOW
@given(case=_cases(), kid=_kids)
def test_estimate_is_never_below_a_signed_token_and_exact_for_the_worst_kid(
    case: tuple[dict[str, Any], dict[str, Any], list[str]], kid: str
) -> None:
    _check(*case, kid=kid)


def _docs_event() -> tuple[Event, dict[str, Any]]:
    raw = load_event("aws-docs-v2-test-event.json")
    return decode_event(raw), raw["request"]["userAttributes"]


@pytest.mark.parametrize(
    "added",
    [
        {},
        {"entitlements": [f"entitlement-{i:05d}/read" for i in range(2000)]},
        {"bio": "😀" * 5000, "name": "日本語" * 3000, "cafe": "é" * 4000},
        {"controls": "".join(map(chr, range(0x20))) * 50,
         "c1": "".join(map(chr, range(0x7F, 0xA0)))},
        {"html": "<a href='x'>&amp;=</a>" * 300, "separators": "\u2028\u2029\u2000" * 100},
        {"del": "\x7f" * 7, "slash": "/"},
        {"del": "\x7f" * 20, "punctuation": "\u2000\u20ff", "c1": "\x80\x9f",
         "not": "\u1fff\u2100\xa0"},
        {"huge": 10**120, "decimal": Decimal("1.00000000000000000001"), "tiny": Decimal("1E-130"),
         "floats": [1e-7, 1e22, 0.1, -0.0, 5e-324, 1.7976931348623157e308]},
        {"nested": {"a": [{"b": [{"c": ["/" * 100]}]}] * 20}},
    ],
    ids=["empty", "many-groups-like", "astral-and-cjk", "controls", "html", "del", "json-smart",
         "numbers",
         "nested"],
)  # fmt: skip
def test_estimate_on_large_and_corner_claim_sets(added: dict[str, Any]) -> None:
    event, attributes = _docs_event()
    groups = [f"group-{i}" for i in range(500)]
    cognito = id_token_claims(
        event, attributes, groups=groups, roles=["arn:aws:iam::1:role/r"], preferred_role=None
    )
    _check(cognito, added, ["phone_number"], kid=WORST_KID)
    _check(
        access_token_claims(event, scopes=["openid"], groups=groups), added, [], kid="A" * 43 + "="
    )


def test_suppressed_claims_take_no_bytes() -> None:
    event, attributes = _docs_event()
    cognito = id_token_claims(event, attributes, groups=None, roles=None, preferred_role=None)
    bare = estimate_token(cognito, {})
    suppressed = estimate_token(cognito, {"big": "x" * 5000}, ["big", "email"])
    without_email = estimate_token({k: v for k, v in cognito.items() if k != "email"}, {})
    assert suppressed.payload == without_email.payload
    assert suppressed.token_bytes < bare.token_bytes
    assert suppressed.saving("big") == (0,) * len(FORMS)
    assert suppressed.saving("not-added") == (0,) * len(FORMS)


# --- the fast estimators: the same answer --------------------------------------------------------

_RESERVED_NAMES = st.sampled_from(["iss", "aud", "jti", "version", "token_use", "amr", "sub",
                                   "username", "cognito:username", "email", "scope"])  # fmt: skip


def _answer(
    data: st.DataObject, added: dict[str, Any], groups: list[str] | None, v2: bool
) -> dict[str, Any]:
    """A `response` object of either shape carrying `added`, suppressions, scopes and groups."""
    suppress_names = st.one_of(_RESERVED_NAMES, st.sampled_from([*added, "email", "x"]))
    overrides = {
        "groupsToOverride": groups,
        "iamRolesToOverride": data.draw(st.lists(_plain.map(lambda n: f"arn:aws:iam::1:role/{n}"))),
        "preferredRole": data.draw(st.none() | _plain | st.lists(_plain, max_size=2)),
    }
    details: dict[str, Any] = {}
    if data.draw(st.booleans()):
        details["groupOverrideDetails"] = overrides
    id_generation = {
        "claimsToAddOrOverride": added,
        "claimsToSuppress": data.draw(st.lists(suppress_names, max_size=4)),
    }
    if not v2:
        return {"claimsOverrideDetails": {**details, **id_generation}}
    scopes = st.lists(st.sampled_from(["openid", "orders/read", "orders/write", "a:b"]))
    access_generation = {
        "claimsToAddOrOverride": added,
        "claimsToSuppress": data.draw(st.lists(suppress_names, max_size=4)),
        "scopesToAdd": data.draw(scopes),
        "scopesToSuppress": data.draw(scopes),
    }
    return {
        "claimsAndScopeOverrideDetails": {
            **details,
            "idTokenGeneration": id_generation,
            "accessTokenGeneration": access_generation,
        }
    }


def _long_way(issued: Issued) -> dict[str, int]:
    """Each token's full estimate from what `Issued` reads: the reference."""
    sizes = {}
    if not issued.decoded.is_machine_client:
        attributes, added, suppressed, groups, roles, preferred = issued.id_inputs()
        claims = id_token_claims(
            issued.decoded, attributes, groups=groups, roles=roles, preferred_role=preferred
        )
        sizes["id"] = estimate_token(claims, added, suppressed).token_bytes
    if issued.v2:
        added, suppressed, scopes, groups = issued.access_inputs()
        claims = access_token_claims(issued.decoded, scopes=scopes, groups=groups)
        sizes["access"] = estimate_token(claims, added, suppressed).token_bytes
    return sizes


def _holds_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list | tuple):
        return any(map(_holds_float, value))
    return isinstance(value, dict) and any(map(_holds_float, value.values()))


@settings(max_examples=400, deadline=None)
@given(
    event=_events(),
    groups=st.none() | st.lists(_plain, max_size=5),
    added=st.dictionaries(st.one_of(_names, _RESERVED_NAMES), _values, max_size=6),
    v2=st.booleans(),
    data=st.data(),
)
def test_fast_sizes_equal_the_full_estimate(
    event: tuple[Event, dict[str, Any], dict[str, Any]],
    groups: list[str] | None,
    added: dict[str, Any],
    v2: bool,
    data: st.DataObject,
) -> None:
    # GIVEN an answer of either shape (V1 sends strings), with groups overridden or not
    decoded, raw, _ = event
    if not v2:
        added = {name: value if isinstance(value, str) else "v" for name, value in added.items()}
    response = _answer(data, added, groups, v2 or decoded.is_machine_client)
    # THEN the fast way sizes each token exactly as the full estimate does, and so does it
    # without walking for floats when ours hold none
    reference = _long_way(Issued(raw, decoded, response))
    assert token_sizes(raw, response, decoded) == reference
    if not _holds_float(added):
        issued = Issued(raw, decoded, response, floats=False)
        assert {
            **({} if decoded.is_machine_client else {"id": issued.id_bytes()}),
            **({"access": issued.access_bytes()} if issued.v2 else {}),
        } == reference


# --- savings: what a shedder subtracts -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(case=_cases(), data=st.data())
def test_savings_are_exactly_what_leaving_claims_out_takes_off(
    case: tuple[dict[str, Any], dict[str, Any], list[str]], data: st.DataObject
) -> None:
    cognito, added, suppressed = case
    estimate = estimate_token(cognito, added, suppressed)
    shed = data.draw(st.lists(st.sampled_from(sorted(added)), unique=True)) if added else []
    kept = {name: value for name, value in added.items() if name not in shed}
    after = estimate_token(cognito, kept, suppressed)
    subtracted = list(estimate.payload)
    for name in shed:
        subtracted = [a - b for a, b in zip(subtracted, estimate.saving(name), strict=True)]
    assert after.payload == tuple(subtracted)
    assert after.token_bytes == token_length(after.payload)


@given(name=_names, value=_values)
@example(name="n", value=Decimal("1.00000000000000000001"))
@example(name="n", value=1e-7)
@example(name="é/", value=["\x7f", {"<": "\U0001f600"}])
def test_claim_forms_are_each_writers_member_bytes(name: str, value: Any) -> None:
    members = tuple(len(_write({name: value}, w, n).encode()) - 1 for w, n in FORMS)
    assert claim_forms(name, value) == members


# --- units ----------------------------------------------------------------------------------------


def test_fixed_parts_of_a_token() -> None:
    assert base64url_chars(2048 // 8) == SIGNATURE_CHARS
    assert len(_b64(('{"kid":"' + "\\/" * 42 + '8=","alg":"RS256"}').encode())) == HEADER_CHARS
    for size in range(64):
        assert base64url_chars(size) == len(_b64(b"x" * size))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 500, 4096])
def test_token_length_takes_each_forms_own_header(size: int) -> None:
    fixed = 1 + SIGNATURE_CHARS + 1
    same = (size,) * len(FORMS)
    assert token_length(same) == HEADER_CHARS + base64url_chars(size) + fixed
    # Gson's header does not escape `/`: a longer payload there wins only past the difference.
    html_safe = len('{"kid":"","alg":"RS256"}') + 44 + 5
    gap = HEADER_CHARS - base64url_chars(html_safe)
    larger = (size, size, size, size, size + 3 * gap // 4 + 3, size + 3 * gap // 4 + 3)
    assert token_length(larger) > token_length(same)
    assert token_length(larger) == base64url_chars(html_safe) + base64url_chars(larger[-1]) + fixed


# --- Cognito's own claims ------------------------------------------------------------------------


def _preview_names(event: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    tokens = preview_tokens(event, {"claimsAndScopeOverrideDetails": None})
    return tokens["id_token"], tokens["access_token"]


_PLACEHOLDERS: Final = {"auth_time", "iat", "exp", "jti"}


@pytest.mark.parametrize(
    "name",
    ["v2-authentication.json", "v1-authentication.json", "v3-client-credentials.json",
     "aws-docs-v2-test-event.json", "policy-hosted-auth.json"],
)  # fmt: skip
def test_cognito_claims_hold_what_the_preview_shows(name: str) -> None:
    raw = load_event(name)
    event = decode_event(raw)
    request = raw.get("request") or {}
    configuration = request.get("groupConfiguration") or {}
    groups = configuration.get("groupsToOverride")
    preferred = configuration.get("preferredRole")
    preview_id, preview_access = _preview_names(raw)
    access = access_token_claims(event, scopes=request.get("scopes") or [], groups=groups)
    for claim, value in preview_access.items():
        if claim not in _PLACEHOLDERS:
            assert access[claim] == value, claim
    if preview_id is None:
        assert event.is_machine_client
        with pytest.raises(ValueError, match="no ID token"):
            id_token_claims(event, {}, groups=None, roles=None, preferred_role=None)
        return
    id_claims = id_token_claims(
        event,
        request.get("userAttributes") or {},
        groups=groups,
        roles=configuration.get("iamRolesToOverride"),
        preferred_role=preferred[0] if isinstance(preferred, list) else preferred,
    )
    for claim, value in preview_id.items():
        if claim not in _PLACEHOLDERS and claim != "cognito:preferred_role":
            assert id_claims[claim] == value, claim
    assert {"at_hash", "origin_jti", "event_id", "acr", "amr"} <= set(id_claims)
    assert "cognito:user_status" not in id_claims


def test_cognito_claims_stand_in_for_what_the_event_lacks() -> None:
    event = decode_event({"triggerSource": "TokenGeneration_Authentication"})
    attributes = {"address": "1 Main St", "custom:n": Decimal("1.5"), "custom:f": [1e-7]}
    claims = id_token_claims(event, attributes, groups=[], roles=[], preferred_role=None)
    assert claims["address"] == {"formatted": "1 Main St"}
    # Cognito sends strings: anything else counts as its JSON text (never shorter in a token)
    assert (claims["custom:n"], claims["custom:f"]) == ("1.5", "[1e-7]")
    assert len(claims["sub"]) == 36
    assert len(claims["aud"]) == 26
    assert "cognito:groups" not in claims
    assert claims["iss"].startswith("https://cognito-idp.ap-southeast-5.amazonaws.com/")
    china = decode_event({"userPoolId": "cn-north-1_AbC", "triggerSource": "x"})
    issuer = access_token_claims(china, scopes=[], groups=None)["iss"]
    assert issuer == "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC"


def test_machine_access_token_has_no_user_claims() -> None:
    event = decode_event(load_event("v3-client-credentials.json"))
    claims = access_token_claims(event, scopes=["orders/read", "admin/all"], groups=["x"])
    assert claims["sub"] == claims["client_id"] == "7machine0client0id"
    assert claims["scope"] == "orders/read admin/all"
    assert not {"username", "cognito:groups", "device_key", "origin_jti"} & set(claims)


def test_lone_surrogates_are_sized_not_refused() -> None:
    event, attributes = _docs_event()
    cognito = id_token_claims(event, attributes, groups=None, roles=None, preferred_role=None)
    with_lone = estimate_token(cognito, {"bad\ud800": "x\udfff"})
    replaced = estimate_token(cognito, {"bad\ufffd": "x\ufffd"})
    assert (with_lone.token_bytes, with_lone.payload) == (replaced.token_bytes, replaced.payload)


def test_not_json_is_refused() -> None:
    with pytest.raises(TypeError):
        estimate_token({}, {"x": object()})
