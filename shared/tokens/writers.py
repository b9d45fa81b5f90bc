"""Bytes of JSON as each writer Cognito may use would write it, from orjson's compact text.

Cognito writes its tokens' JSON in Java. Public tokens show `"iss":"https:\\/\\/cognito-idp`, a
json-smart style writer, which also escapes DEL, U+0080..U+009F and U+2000..U+20FF. Other Java
writers escape differently: Jackson with ESCAPE_NON_ASCII writes every non-ASCII character as
`\\uXXXX` (6 bytes, 12 for an astral one, against 2 to 4 in UTF-8; Jackson 3 also escapes `/`),
Gson's HTML-safe default writes `<`, `>`, `&`, `=`, `'`, U+2028 and U+2029 as `\\uXXXX`. Each
is computed exactly from orjson's text (`WRITERS`: what `escapes` adds for each), and key order
never changes a length.

Numbers: integers are written exactly (a Java long or BigInteger). A decimal or a float may be
kept exact (a BigDecimal: the text the Lambda runtime sends, `str()` of it) or read as a double
and written by `Double.toString` (`1E-7` becomes `1.0E-7`, `1.00000000000000000001` becomes
`1.0`); `numbers_in` gives what each form adds to orjson's text (`NUMBER_FORMS`). Java 19+'s
shortest-digit `Double.toString` is modelled. Pure: orjson and the stdlib, no I/O.
"""

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, TypeAlias

from shared.values import JSONValue, encode_json, number_text

__all__ = (
    "FORMS",
    "NUMBER_FORMS",
    "UNESCAPED_ASCII",
    "WRITERS",
    "Forms",
    "claim_forms",
    "encode",
    "escapes",
    "has_inexact",
    "number_forms",
    "numbers_in",
    "spread",
)

WRITERS: Final = ("json-smart", "ascii-only", "html-safe")
NUMBER_FORMS: Final = ("exact", "double")
FORMS: Final = tuple((writer, numbers) for writer in WRITERS for numbers in NUMBER_FORMS)
"""What each place of a `Forms` vector counts: a writer and how numbers are written."""

Forms: TypeAlias = tuple[int, ...]
"""Payload bytes (or a claim's share of them) in each of `FORMS`, in that order."""

_ESCAPED_SOMEWHERE: Final = b"/<>&='\x7f"
UNESCAPED_ASCII: Final = bytes(b for b in range(0x80) if b not in _ESCAPED_SOMEWHERE)
"""ASCII bytes every writer leaves as they are (or escapes as orjson does: `"`, `\\`, controls):
`text.translate(None, UNESCAPED_ASCII)` is what some writer escapes."""
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


def escapes(text: bytes) -> tuple[int, int, int]:
    """Bytes each writer adds to orjson's compact UTF-8 `text`: json-smart, ASCII-only, HTML-safe.

    orjson escapes `"`, `\\` and control characters as every writer does (`\\n` short, the
    rest `\\u00XX`); the writers differ in the rest (module docstring). The ASCII-only writer
    (Jackson with ESCAPE_NON_ASCII; Jackson 3 also escapes `/` by default) escapes `/` too.
    """
    # What some writer escapes: a few bytes of a payload, often only the slashes of URLs.
    special = text.translate(None, UNESCAPED_ASCII)
    slashes = special.count(b"/")
    if slashes == len(special):
        return slashes, slashes, 0
    dels = special.count(b"\x7f")
    if special.isascii():  # `<>&='` and DEL only: no character of more than one byte
        return slashes + 5 * dels, slashes, 5 * (len(special) - slashes - dels)
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


def _scrub(value: JSONValue) -> JSONValue:
    """`value` with lone surrogates (no UTF-8 form) as U+FFFD, which no writer makes shorter."""
    if isinstance(value, str):
        return re.sub(_SURROGATE, "\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {re.sub(_SURROGATE, "\ufffd", k): _scrub(v) for k, v in value.items()}
    return value


def encode(value: JSONValue) -> bytes:
    """`encode_json(value)`, lone surrogates sized as U+FFFD (orjson refuses them).

    Raises
    ------
    TypeError
        `value` holds something that is not a plain JSON value.
    """
    try:
        return encode_json(value)
    except TypeError:
        return encode_json(_scrub(value))


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


_DECIMALS: dict[str, tuple[int, int]] = {}
"""What writing a decimal exact and as a double adds to orjson's text, by its text (equal
decimals may differ in it: `1.0`, `1.00`): profiles repeat the same numbers."""
_DECIMALS_AT_MOST: Final = 4096


def _decimal_forms(number: Decimal) -> tuple[int, int]:
    text = str(number)  # what the Lambda runtime sends, and a BigDecimal writes
    forms = _DECIMALS.get(text)
    if forms is None:
        sent = len(number_text(number))  # what encode_json writes
        exact = len(text)
        forms = exact - sent, (_java_double_chars(float(number)) or exact) - sent
        if len(_DECIMALS) >= _DECIMALS_AT_MOST:
            _DECIMALS.clear()
        _DECIMALS[text] = forms
    return forms


def number_forms(numbers: Iterable[Decimal | float]) -> tuple[int, int]:
    """Bytes the numbers add to orjson's text (exact, as a double), summed over `numbers`."""
    exact = double = 0
    for number in numbers:
        if isinstance(number, Decimal):
            more_exact, more_double = _decimal_forms(number)
            exact += more_exact
            double += more_double
        else:
            sent = len(encode_json(number))
            exact_chars = len(repr(number))  # the Lambda runtime's simplejson writes repr()
            exact += exact_chars - sent
            double += (_java_double_chars(number) or exact_chars) - sent
    return exact, double


_FLAT: Final = frozenset({str, int, bool, type(None)})
"""Kinds of value every writer renders the same: no inexact number can hide inside."""


def has_inexact(values: Iterable[JSONValue]) -> bool:
    """Whether `values` may hold a Decimal or a float (a cheap test: False is certain)."""
    return not _FLAT.issuperset(map(type, values))


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


_NO_NUMBERS: Final = (0, 0)


def numbers_in(values: Iterable[JSONValue]) -> tuple[int, int]:
    """What the inexact numbers in `values` add to orjson's text: (exact, as doubles)."""
    found: list[Decimal | float] = []
    _inexact_numbers(values, found)
    return number_forms(found) if found else _NO_NUMBERS


def spread(writers: tuple[int, int, int], numbers: tuple[int, int]) -> Forms:
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
    text = encode({name: value})
    member = len(text) - 1  # less the braces, plus the comma that joins it to the others
    smart, ascii_only, html_safe = escapes(text)
    writers = (member + smart, member + ascii_only, member + html_safe)
    return spread(writers, numbers_in((value,)))
