"""The claims budget: how many bytes of JSON the claims taken from the data may fill per token.

`CLAIMS_BUDGET_BYTES` bounds, per token, the compact JSON of the claims the rules take from the
items (defaults included); static claims are the mapping's own, bounded at load, and never
dropped. `size_bound` gives a cheap upper bound per value, so the exact measure (`fit_budget`)
runs only when the bound says the budget may be exceeded. Pure: no I/O, no logging.
"""

from decimal import Decimal

from shared.values import JSONValue, encode_json

__all__ = ("fit_budget", "size_bound")


def size_bound(value: JSONValue) -> int:
    """An upper bound of the bytes of `value`'s compact JSON, cheap when it is a scalar."""
    if type(value) is str:
        return 6 * len(value) + 2  # at worst every character is a `\uXXXX` escape
    if type(value) is int:
        return value.bit_length() // 3 + 2  # log10(2) < 1/3; one more for the sign
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, Decimal):
        return len(str(value))
    return len(encode_json(value))


def fit_budget(
    claims: dict[str, JSONValue],
    names: list[str],
    budget: int,
    dropped: list[tuple[str, str]],
) -> None:
    """Drop the largest of `names` from `claims` until their compact JSON fits `budget` bytes.

    Ties go by name, so the same item always gives the same answer (Cognito retries); each
    dropped claim is named with reason `over_budget`.
    """
    sizes = {
        name: len(encode_json(name)) + 1 + len(encode_json(claims[name]))
        for name in names
        if name in claims
    }
    # The size of `{"a":1,"b":2}`: every entry, a comma between two, the braces.
    total = sum(sizes.values()) + len(sizes) + 1
    if total <= budget:
        return
    for name in sorted(sizes, key=lambda n: (-sizes[n], n)):
        del claims[name]
        dropped.append((name, "over_budget"))
        total -= sizes[name] + 1
        if total <= budget:
            return
