"""`shared.lookup.limits`: the constants DynamoDB's limits fix, held to what they stand for."""

from shared.lookup.limits import _MOST_PROJECTED, MAX_PROJECTION_BYTES, _expression_bytes


def test_lookup_most_projected_attributes_fill_the_expression_limit() -> None:
    assert _expression_bytes(_MOST_PROJECTED) <= MAX_PROJECTION_BYTES
    assert _expression_bytes(_MOST_PROJECTED + 1) > MAX_PROJECTION_BYTES
