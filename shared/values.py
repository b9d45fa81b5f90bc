"""Plain JSON values: what items, claims and answers are made of, and how they are written.

A plain JSON value is a str, int (of any size), `decimal.Decimal` (an exact non-integral
DynamoDB number), float, bool, None, a list of them or a dict of str to them: never a `set`,
`datetime`, NaN or Infinity, which the Lambda runtime cannot marshal. `Item` is a profile item in
that form; `lookup_path` walks a dotted attribute path into it; `encode_json` writes a value as
compact JSON with every number exact. Pure: no I/O, no logging, no project imports.
"""

from decimal import Decimal
from typing import Any, Final, TypeAlias

import orjson

__all__ = ("ABSENT", "Item", "JSONValue", "encode_json", "lookup_path", "number_text")

JSONValue: TypeAlias = Any
"""A plain JSON value: str, int, float, `Decimal` (an exact non-integral DynamoDB number), bool,
None, list of JSONValue, dict[str, JSONValue]."""

Item = dict[str, JSONValue]
"""A profile item as plain JSON values, keyed by attribute name."""

ABSENT: Final = object()
"""What `lookup_path` returns where a path leads nowhere (apart from a present `null`)."""


def lookup_path(item: object, path: tuple[str, ...]) -> object:
    """The value at a dotted attribute path (`("profile", "plan")`), or `ABSENT`."""
    value = item
    for key in path:
        if not isinstance(value, dict):
            return ABSENT
        value = value.get(key, ABSENT)
        if value is ABSENT:
            return ABSENT
    return value


def number_text(value: int | Decimal) -> str:
    """A number's decimal text as DynamoDB writes it: digits and a point, never an exponent.

    `str(Decimal)` switches to exponent form below 1e-6 (`1E-7`), which a key or a V1 claim
    must not: `TENANT#0.0000001` is the key the data means.
    """
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _exact(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(number_text(value))
    raise TypeError(f"`{type(value).__name__}` is not a plain JSON value")


def _text(value: JSONValue) -> str:
    """Compact JSON text, slow path: integers past 64 bits, which orjson refuses."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return orjson.dumps(value).decode()
    if isinstance(value, int | Decimal):
        return number_text(value)
    if isinstance(value, list):
        return "[" + ",".join(map(_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_text(k)}:{_text(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"`{type(value).__name__}` is not a plain JSON value")


def encode_json(value: JSONValue) -> bytes:
    """Encode a plain JSON value as compact UTF-8 JSON, every number exact.

    A `Decimal` is written as its exact decimal text (`number_text`: `0.0000001`, never
    `1E-7`), an integer of any size as its digits; orjson alone stops at 64-bit integers and
    refuses `Decimal`.

    Raises
    ------
    TypeError
        `value` holds something that is not a plain JSON value.
    """
    try:
        return orjson.dumps(value, default=_exact)
    except TypeError:
        return _text(value).encode()
