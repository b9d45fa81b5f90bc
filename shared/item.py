"""DynamoDB AttributeValue maps -> plain JSON values, decoded with msgspec.

S is a string; N an int when it is integral, else an exact `decimal.Decimal` (never a float:
DynamoDB numbers carry 38 digits, a float 17); BOOL a bool; NULL None; L a list; M a dict; SS and
NS sorted lists (never a `set`: the Lambda runtime cannot marshal one). The Lambda runtime writes
a Decimal as its exact text, and `shared.models.encode_json` does the same. Binary values (B, BS)
have no JSON form and are left out; no bytes or datetime is ever returned. Pure: no I/O, no
logging.
"""

from decimal import (
    Context,
    Decimal,
    DecimalException,
    Inexact,
    InvalidOperation,
    Overflow,
    Subnormal,
)
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


_MAX_DIGITS: Final = 38
_EXACT: Final = Context(
    prec=_MAX_DIGITS,
    Emax=125,
    Emin=-130,
    traps=[InvalidOperation, Overflow, Inexact, Subnormal],
)
"""DynamoDB's numbers: up to 38 significant digits, magnitude 1E-130 to 9.99...E+125. Reading
through this context raises on anything else instead of rounding it."""


def _number(text: str) -> int | Decimal:
    """An exact number: an int when integral, else a Decimal; ItemError past DynamoDB's range."""
    # The common case first: a plain integer of at most 38 ASCII digits (`isascii` is O(1)).
    if text.isdigit():
        if text.isascii() and len(text) <= _MAX_DIGITS:
            return int(text)
    elif text[:1] == "-" and text.isascii() and len(text) <= _MAX_DIGITS + 1 and text[1:].isdigit():
        return int(text)
    # Decimal also reads other scripts' digits, spaces, underscores and a leading `+`: DynamoDB
    # writes none of them.
    if not text.isascii() or "_" in text or text[:1] == "+" or text != text.strip():
        raise ItemError(f"item holds a malformed number `N` ({len(text)} characters)")
    try:
        number = _EXACT.create_decimal(text)
    except InvalidOperation:
        raise ItemError(f"item holds a malformed number `N` ({len(text)} characters)") from None
    except DecimalException as exc:  # Inexact (over 38 digits), Overflow, Subnormal
        raise ItemError(f"item holds a number `N` outside DynamoDB's range ({exc!r})") from None
    if not number.is_finite():
        raise ItemError("item holds a number `N` that is not finite")
    if number == number.to_integral_value():
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
