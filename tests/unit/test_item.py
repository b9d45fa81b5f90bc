"""AttributeValue maps decode to plain JSON values that the Lambda runtime can marshal."""

import json
from decimal import Decimal
from typing import Any

import pytest
import simplejson
from awslambdaric.lambda_runtime_marshaller import to_json
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.claims.model import ClaimRule, Section
from shared.errors import ItemError
from shared.event import decode_event
from shared.lookup.wire import decode_item
from shared.response import build_response
from tests.unit.claims_helpers import apply_mapping


def _walk_types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {dict}.union(*(_walk_types(v) for v in value.values()))
    if isinstance(value, list):
        return {list}.union(*(_walk_types(v) for v in value))
    return {type(value)}


def test_decode_item_every_type() -> None:
    raw = {
        "s": {"S": "text"},
        "int": {"N": "42"},
        "neg": {"N": "-7"},
        "big": {"N": "12345678901234567890123456789012345678"},
        "float": {"N": "1.5"},
        "exp": {"N": "1E+3"},
        "yes": {"BOOL": True},
        "null": {"NULL": True},
        "list": {"L": [{"S": "a"}, {"N": "1"}, {"BOOL": False}, {"NULL": True}]},
        "map": {"M": {"inner": {"M": {"deep": {"S": "x"}}}, "n": {"N": "0.25"}}},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["2.5", "1"]},
        "bin": {"B": b"\x00\x01"},
        "bs": {"BS": [b"\x00"]},
        "listbin": {"L": [{"B": b"\x00"}, {"S": "kept"}]},
    }
    item = decode_item(raw)
    assert item == {
        "s": "text",
        "int": 42,
        "neg": -7,
        "big": 12345678901234567890123456789012345678,
        "float": Decimal("1.5"),
        "exp": 1000,
        "yes": True,
        "null": None,
        "list": ["a", 1, False, None],
        "map": {"inner": {"deep": "x"}, "n": Decimal("0.25")},
        "ss": ["a", "b"],
        "ns": [1, Decimal("2.5")],
        "listbin": ["kept"],
    }
    # Only plain JSON types: no set, float, bytes or datetime reaches a response; a Decimal is
    # an exact non-integral number, which the Lambda runtime writes as its text.
    assert _walk_types(item) <= {dict, list, str, int, Decimal, bool, type(None)}
    simplejson.dumps(item)


def test_decode_item_empty() -> None:
    assert decode_item({}) == {}


@pytest.mark.parametrize(
    "raw",
    [
        {"a": {}},
        {"a": {"N": "abc"}},
        {"a": {"N": "1e999"}},
        {"a": {"N": "NaN"}},
        {"a": {"N": "-Infinity"}},
        {"a": {"N": "Infinity"}},
        {"a": {"N": "sNaN"}},
        {"a": {"N": ""}},
        {"a": {"N": "-"}},
        {"a": {"N": "1e"}},
        {"a": {"N": " 1"}},
        {"a": {"N": "1 "}},
        {"a": {"N": "1_000"}},
        {"a": {"N": "+1"}},
        {"a": {"N": "\u0663"}},
        {"a": {"N": "\uff11.5"}},
        {"a": {"N": "1E+126"}},
        {"a": {"N": "1E-131"}},
        {"a": {"N": "1" * 39}},
        {"a": {"N": "1." + "1" * 38}},
        {"a": {"N": "1E+999999999"}},
        {"a": {"NS": ["1", "x"]}},
        {"a": {"S": 5}},
        {"a": "plain"},
        {"a": {"L": "x"}},
        [],
    ],
)
def test_decode_item_malformed_raises_item_error(raw: object) -> None:
    with pytest.raises(ItemError):
        decode_item(raw)


def test_decode_item_error_names_no_values() -> None:
    with pytest.raises(ItemError) as caught:
        decode_item({"secret_attr": {"N": "s3cr3t-value"}})
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.00000000000000000001", Decimal("1.00000000000000000001")),
        ("9223372036854775809", 2**63 + 1),
        ("-9223372036854775809", -(2**63) - 1),
        ("1E+3", 1000),
        ("1.0", 1),
        ("-0", 0),
        ("0.000", 0),
        ("1.5E-7", Decimal("1.5E-7")),
        ("1E-130", Decimal("1E-130")),
        ("9.9999999999999999999999999999999999999E+125", 10**126 - 10**88),
        (".5", Decimal("0.5")),
        ("0.1", Decimal("0.1")),
        ("1" * 38, int("1" * 38)),
        ("-" + "9" * 38, -int("9" * 38)),
        ("0" * 50 + "7", 7),
    ],
)
def test_decode_item_numbers_are_exact(text: str, expected: int | Decimal) -> None:
    value = decode_item({"n": {"N": text}})["n"]
    assert type(value) is type(expected)
    assert value == expected
    assert Decimal(to_json(value)) == Decimal(text)


_digits = st.text(alphabet="0123456789", min_size=1, max_size=38)


@st.composite
def _dynamodb_numbers(draw: st.DrawFn) -> str:
    """Number text DynamoDB can hold: 1..38 significant digits, magnitude 1E-130..9.9E+125."""
    digits = draw(_digits).lstrip("0") or "0"
    if digits == "0":
        return draw(st.sampled_from(["0", "-0", "0.0", "0E+5", "0.000E-3"]))
    sign = draw(st.sampled_from(["", "-"]))
    low, high = -130 - (len(digits) - 1), 125 - (len(digits) - 1)
    exponent = draw(st.integers(low, high))
    style = draw(st.sampled_from(["e", "E", "point"]))
    if style == "point" and -60 < exponent < 0:
        cut = len(digits) + exponent
        text = digits[:cut] + "." + digits[cut:] if cut > 0 else "0." + "0" * -cut + digits
        return sign + text
    if style == "point" and 0 <= exponent < 60:
        return sign + digits + "0" * exponent
    letter = "e" if style == "point" else style
    return f"{sign}{digits}{letter}{exponent:+d}"


@settings(max_examples=500, deadline=None)
@given(text=_dynamodb_numbers())
def test_property_dynamodb_numbers_round_trip_exactly(text: str) -> None:
    # GIVEN any number DynamoDB can hold, alone and nested in a list and a map
    item = decode_item(
        {"n": {"N": text}, "l": {"L": [{"N": text}]}, "m": {"M": {"k": {"N": text}}}}
    )
    assert not any(isinstance(v, float) for v in (item["n"], item["l"][0], item["m"]["k"]))
    # WHEN it goes out through the Lambda runtime (V2) and as V1's string
    section = Section(
        rules=tuple(ClaimRule(path=(a,), claim=a, tokens=("id",)) for a in ("n", "l", "m"))
    )
    claims = apply_mapping(section, item)
    v2 = build_response(decode_event({"version": "2"}), claims, "v2", machine=False)
    wire = json.loads(to_json(v2), parse_float=Decimal, parse_int=Decimal)
    sent = wire["claimsAndScopeOverrideDetails"]["idTokenGeneration"]["claimsToAddOrOverride"]
    v1 = build_response(decode_event({"version": "1"}), claims, "v1", machine=False)
    strings = v1["claimsOverrideDetails"]["claimsToAddOrOverride"]
    # THEN every digit survives
    exact = Decimal(text)
    assert sent["n"] == sent["l"][0] == sent["m"]["k"] == exact
    assert Decimal(strings["n"]) == exact
    assert json.loads(strings["l"], parse_float=Decimal, parse_int=Decimal) == [exact]
    assert json.loads(strings["m"], parse_float=Decimal, parse_int=Decimal) == {"k": exact}
