"""DynamoDB's wire format: AttributeValue maps and response bodies -> plain JSON values.

S is a string; N an int when it is integral, else an exact `decimal.Decimal` (never a float:
DynamoDB numbers carry 38 digits, a float 17); BOOL a bool; NULL None; L a list; M a dict; SS and
NS sorted lists (never a `set`: the Lambda runtime cannot marshal one). The Lambda runtime writes
a Decimal as its exact text, and `shared.values.encode_json` does the same. Binary values (B, BS)
have no JSON form and are left out; no bytes or datetime is ever returned. `decode_get_item`,
`decode_batch_get` and `decode_query` read a DynamoDB response body (bytes) straight into these
Structs with one msgspec decoder each, never through `json` or float. Pure: no I/O, no logging.
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
from typing import Final, TypeVar

import msgspec

from shared.errors import ItemError
from shared.values import Item, JSONValue

__all__ = (
    "RawKey",
    "decode_batch_get",
    "decode_get_item",
    "decode_item",
    "decode_query",
)


class _AttributeValue(msgspec.Struct):
    """One DynamoDB AttributeValue as the wire JSON holds it: exactly one field is set."""

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


# Response bodies, decoded from bytes in one pass. A key (LastEvaluatedKey, UnprocessedKeys) only
# ever holds S, N or B values, each a JSON string, so it is kept as sent, ready to send back.
_T = TypeVar("_T")
_Values = dict[str, _AttributeValue]
RawKey = dict[str, dict[str, str]]
"""A key as DynamoDB JSON (`{"id": {"S": "USER#x"}}`), exactly as the response carried it."""


class _GetItemOutput(msgspec.Struct):
    Item: _Values | None = None


class _Keys(msgspec.Struct):
    Keys: list[RawKey]


class _BatchGetOutput(msgspec.Struct):
    Responses: dict[str, list[_Values]] = {}
    UnprocessedKeys: dict[str, _Keys] = {}


class _QueryOutput(msgspec.Struct):
    Items: list[_Values] = []
    LastEvaluatedKey: RawKey | None = None


class _Envelope(msgspec.Struct):
    """Any response object, its fields left undecoded: tells a bad body from a bad item."""


_GET_ITEM: Final = msgspec.json.Decoder(_GetItemOutput)
_BATCH_GET: Final = msgspec.json.Decoder(_BatchGetOutput)
_QUERY: Final = msgspec.json.Decoder(_QueryOutput)
_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)


def _decode_body(decoder: "msgspec.json.Decoder[_T]", body: bytes, action: str) -> _T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        # Only on the error path: a second, shallow look says whose fault it is. Anything but a
        # JSON object is a corrupted response; an object whose items do not decode is an item.
        _ENVELOPE.decode(body)
        raise ItemError(f"malformed {action} response: {exc}") from exc


def _items(raw: list[dict[str, _AttributeValue]]) -> list[Item]:
    try:
        return [_plain_map(values) for values in raw]
    except RecursionError:
        raise ItemError("item nests too deeply") from None


def decode_get_item(body: bytes) -> Item | None:
    """Decode a GetItem response body into the item, or None when there is none.

    Raises
    ------
    msgspec.DecodeError
        The body is not a JSON object (a corrupted response, not an item).
    ItemError
        The object holds an item that is not AttributeValues (msgspec's path says where), or a
        malformed number.
    """
    output = _decode_body(_GET_ITEM, body, "GetItem")
    return None if output.Item is None else _items([output.Item])[0]


def decode_batch_get(body: bytes) -> tuple[dict[str, list[Item]], dict[str, list[RawKey]]]:
    """Decode a BatchGetItem response body: the items per table, and the keys left unprocessed.

    Raises
    ------
    msgspec.DecodeError
        The body is not a JSON object.
    ItemError
        An item or a key does not decode.
    """
    output = _decode_body(_BATCH_GET, body, "BatchGetItem")
    items = {table: _items(raw) for table, raw in output.Responses.items()}
    return items, {table: keys.Keys for table, keys in output.UnprocessedKeys.items()}


def decode_query(body: bytes) -> tuple[list[Item], RawKey | None]:
    """Decode a Query response body: the page's items and the key to continue from, if any.

    Raises
    ------
    msgspec.DecodeError
        The body is not a JSON object.
    ItemError
        An item or the key does not decode.
    """
    output = _decode_body(_QUERY, body, "Query")
    return _items(output.Items), output.LastEvaluatedKey
