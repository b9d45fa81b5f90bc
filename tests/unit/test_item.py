"""AttributeValue maps decode to plain JSON values that the Lambda runtime can marshal."""

from typing import Any

import pytest
import simplejson

from shared.errors import ItemError
from shared.item import decode_item


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
        "float": 1.5,
        "exp": 1000.0,
        "yes": True,
        "null": None,
        "list": ["a", 1, False, None],
        "map": {"inner": {"deep": "x"}, "n": 0.25},
        "ss": ["a", "b"],
        "ns": [1, 2.5],
        "listbin": ["kept"],
    }
    # Only plain JSON types: no set, Decimal, bytes or datetime reaches a response.
    assert _walk_types(item) <= {dict, list, str, int, float, bool, type(None)}
    simplejson.dumps(item)


def test_decode_item_empty() -> None:
    assert decode_item({}) == {}


@pytest.mark.parametrize(
    "raw",
    [
        {"a": {}},
        {"a": {"N": "abc"}},
        {"a": {"N": "1e999"}},
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
