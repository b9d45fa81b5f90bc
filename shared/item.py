"""DynamoDB AttributeValue maps -> plain JSON values, decoded with msgspec.

S is a string; N an int when it is integral, else an exact `decimal.Decimal` (never a float:
DynamoDB numbers carry 38 digits, a float 17); BOOL a bool; NULL None; L a list; M a dict; SS and
NS sorted lists (never a `set`: the Lambda runtime cannot marshal one). The Lambda runtime writes
a Decimal as its exact text, and `shared.models.encode_json` does the same. Binary values (B, BS)
have no JSON form and are left out; no bytes or datetime is ever returned. Pure: no I/O, no
logging.
"""

import re
from decimal import Decimal
from typing import Final

import msgspec

from shared.errors import ItemError
from shared.models import JSONValue

__all__ = ("Item", "decode_item")

Item = dict[str, JSONValue]
"""A profile item as plain JSON values, keyed by attribute name."""


class _AttributeValue(msgspec.Struct):
    """One DynamoDB AttributeValue as botocore parses it: exactly one field is set."""

    S: str | None = None
    N: str | None = None
    BOOL: bool | None = None
    NULL: bool | None = None
    M: "dict[str, _AttributeValue] | None" = None
    L: "list[_AttributeValue] | None" = None
    SS: list[str] | None = None
    NS: list[str] | None = None
    B: bytes | None = None
    BS: list[bytes] | None = None


class _Omit:
    """Marks a binary value, which has no JSON form."""


_OMIT: Final = _Omit()
_ITEM_TYPE: Final = dict[str, _AttributeValue]


_NUMBER: Final = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
"""DynamoDB's number text: ASCII digits only. `Decimal` and `int` also accept other scripts'
digits, surrounding spaces, `"1_0"`, `"NaN"` and `"Infinity"`, none of which DynamoDB holds."""

_MAX_DIGITS: Final = 38
_MIN_EXPONENT: Final = -130
_MAX_EXPONENT: Final = 125
"""DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 to 9.99...E+125."""


_SHORT_INTEGER: Final = _MAX_DIGITS
"""Text this short with no fraction or exponent is an integer inside DynamoDB's range."""


def _number(text: str) -> int | Decimal:
    """An exact number: an int when integral, else a Decimal; ItemError past DynamoDB's range."""
    if _NUMBER.fullmatch(text) is None:
        raise ItemError(f"item holds a malformed number `N` ({len(text)} characters)")
    if len(text) <= _SHORT_INTEGER and "." not in text and "e" not in text and "E" not in text:
        return int(text)
    # Decimal() parses exactly whatever its context's precision; as_tuple and int() are exact.
    number = Decimal(text)
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # NaN or Infinity: the pattern lets neither through
        raise ItemError("item holds a number `N` that is not finite")
    significant = "".join(map(str, digits)).strip("0")
    if not significant:
        return 0
    if len(significant) > _MAX_DIGITS or not _MIN_EXPONENT <= number.adjusted() <= _MAX_EXPONENT:
        raise ItemError("item holds a number `N` outside DynamoDB's range")
    if exponent >= 0 or not any(digits[exponent:]):
        return int(number)
    return number


def _plain(value: _AttributeValue) -> JSONValue | _Omit:
    if value.S is not None:
        return value.S
    if value.N is not None:
        return _number(value.N)
    if value.BOOL is not None:
        return value.BOOL
    if value.NULL is not None:
        return None
    if value.M is not None:
        return _plain_map(value.M)
    if value.L is not None:
        return [p for p in map(_plain, value.L) if p is not _OMIT]
    # Sets have no order; sorted, the same item always gives the same answer (Cognito retries).
    if value.SS is not None:
        return sorted(value.SS)
    if value.NS is not None:
        return sorted(_number(n) for n in value.NS)
    if value.B is not None or value.BS is not None:
        return _OMIT
    raise ItemError("item holds an AttributeValue with no known type")


def _plain_map(values: dict[str, _AttributeValue]) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for name, value in values.items():
        plain = _plain(value)
        if plain is not _OMIT:
            out[name] = plain
    return out


def decode_item(raw: object) -> Item:
    """Decode a GetItem `Item` (AttributeValue map) into plain JSON values.

    Raises
    ------
    ItemError
        The map is not AttributeValues (msgspec's path says where) or a number is malformed.
    """
    try:
        values = msgspec.convert(raw, _ITEM_TYPE)
    except msgspec.ValidationError as exc:
        raise ItemError(f"malformed item: {exc}") from exc
    try:
        return _plain_map(values)
    except RecursionError:
        raise ItemError("item nests too deeply") from None
