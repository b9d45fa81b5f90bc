"""Response bodies decode from bytes in one pass: a bad body is told apart from a bad item."""

import msgspec
import pytest

from shared.errors import ItemError
from shared.lookup.wire import decode_batch_get, decode_get_item, decode_query


def test_decode_get_item_found_missing_and_bare() -> None:
    body = b'{"Item": {"id": {"S": "USER#a"}, "l": {"L": [{"BOOL": true}, {"NULL": true}]}}}'
    assert decode_get_item(body) == {"id": "USER#a", "l": [True, None]}
    assert decode_get_item(b"{}") is None
    assert decode_get_item(b'{"Item": {"id": {"S": "USER#a"}}}') == {"id": "USER#a"}


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'"text"', b'{"Item": {'])
def test_decode_get_item_corrupted_body_is_not_an_item_error(body: bytes) -> None:
    # A corrupted response is the store's failure (unavailable), never "no item".
    with pytest.raises(msgspec.DecodeError) as caught:
        decode_get_item(body)
    assert not isinstance(caught.value, ItemError)


@pytest.mark.parametrize(
    "body",
    [b'{"Item": 5}', b'{"Item": {"id": {"S": 12}}}', b'{"Item": {"id": {"X": "?"}}}'],
)
def test_decode_get_item_malformed_item_is_item_error(body: bytes) -> None:
    with pytest.raises(ItemError):
        decode_get_item(body)


def test_decode_batch_get_items_and_unprocessed_keys_as_sent() -> None:
    body = (
        b'{"Responses": {"t": [{"id": {"S": "a"}}]},'
        b' "UnprocessedKeys": {"t": {"Keys": [{"id": {"S": "b"}, "n": {"N": "1.50"}}],'
        b' "ProjectionExpression": "#a0"}}}'
    )
    items, unprocessed = decode_batch_get(body)
    assert items == {"t": [{"id": "a"}]}
    # The key goes back to DynamoDB exactly as it came: a number keeps its text.
    assert unprocessed == {"t": [{"id": {"S": "b"}, "n": {"N": "1.50"}}]}
    assert decode_batch_get(b"{}") == ({}, {})


def test_decode_query_items_and_last_key() -> None:
    body = b'{"Items": [{"id": {"S": "a"}}, {"id": {"S": "b"}}], "Count": 2,'
    body += b' "LastEvaluatedKey": {"id": {"S": "b"}}}'
    assert decode_query(body) == ([{"id": "a"}, {"id": "b"}], {"id": {"S": "b"}})
    assert decode_query(b'{"Items": [], "Count": 0}') == ([], None)
    with pytest.raises(ItemError, match="Query"):
        decode_query(b'{"Items": [{"id": {"S": 1}}]}')
