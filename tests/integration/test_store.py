"""The store's client against a moto server over HTTP, with faults injected in between, and
against a scripted server where DynamoDB's rarer answers (unprocessed keys) must be shown."""

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import boto3
import pytest
import simplejson

from shared.errors import (
    DENIED_UNAVAILABLE,
    ItemError,
    SignInDenied,
    StoreThrottled,
    StoreTimeout,
    StoreUnavailable,
)
from shared.lookup import Store
from shared.lookup.codec import MalformedResponse, ProtocolError, ResponseTruncated
from shared.lookup.keys import KeyTemplate
from shared.lookup.sources import ItemRead, ItemSource, QueryRead, QuerySource
from tests.conftest import EVENTS, load_event
from tests.integration.conftest import TABLE, Harness, Scripted
from tests.support.scripted_http import Recorded, ScriptedServer
from tools.fault_proxy import FaultProxy, http_response
from tools.local_dynamodb import FAKE_CREDENTIALS, put_items

pytestmark = pytest.mark.integration

Build = Callable[..., Harness]
T = TypeVar("T")

THROTTLED = http_response(
    400,
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"The level of configured provisioned throughput for the table was exceeded."}',
)
SERVER_ERROR = http_response(500, b'{"__type":"com.amazonaws.dynamodb#InternalServerError"}')
MALFORMED = http_response(200, b'{"Item": {"first_name": ', "OK")
WRONG_TYPES = http_response(
    200, b'{"Item": {"id": {"S": "USER#x"}, "first_name": {"S": 12}}}', "OK"
)
# Answers the transport's codec refuses: cut short (the proxy closes after them), not HTTP.
TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" + b'{"Item": {'
NOT_HTTP = b"SSH-2.0-OpenSSH_9.6\r\n\r\n"


def _get(h: Harness, key: str, machine: bool = False, timeout: float = 1.5) -> Any:
    lookup = (h.deps.client if machine else h.deps.user).lookup
    assert lookup is not None
    source = lookup.primary
    read = ItemRead(source=source, key=((source.key[0][0], key),))
    consistent = lookup.consistent
    return h.loop.run_until_complete(
        h.deps.store.get_item(read, consistent=consistent, timeout=timeout)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_store_found_projects_only_mapped_attributes(harness: Build) -> None:
    item = _get(harness(), "USER#jane.doe")
    # `notes` is in the item but no rule reads it, so GetItem never fetched it.
    assert item == {
        "id": "USER#jane.doe",
        "first_name": "Jane",
        "last_name": "Doe",
        "interesting_value": "tier-gold",
    }


def test_store_missing_item_is_none(harness: Build) -> None:
    assert _get(harness(), "USER#nobody") is None


def test_store_item_with_no_mapped_attribute_is_found(endpoint: str, harness: Build) -> None:
    put_items(endpoint, TABLE, [{"id": {"S": "USER#bare"}, "other": {"S": "x"}}])
    assert _get(harness(), "USER#bare") == {"id": "USER#bare"}


def test_store_machine_projection_and_consistent_read(harness: Build) -> None:
    item = _get(harness(CONSISTENT_READ="true"), "CLIENT#7machine0client0id", machine=True)
    assert item == {
        "id": "CLIENT#7machine0client0id",
        "interesting_value": {"tenant": "acme", "quota": 1000},
    }


def test_store_decodes_every_attribute_type(endpoint: str, harness: Build) -> None:
    put_items(
        endpoint,
        TABLE,
        [
            {
                "id": {"S": "USER#types"},
                "first_name": {"SS": ["b", "a"]},
                "last_name": {"NS": ["1", "2.5"]},
                "interesting_value": {
                    "M": {
                        "l": {"L": [{"BOOL": True}, {"NULL": True}, {"N": "-3"}]},
                        "bin": {"B": b"\x00"},
                    }
                },
            }
        ],
    )
    item = _get(harness(), "USER#types")
    assert sorted(item["first_name"]) == ["a", "b"]
    assert sorted(item["last_name"]) == [1, 2.5]
    assert item["interesting_value"] == {"l": [True, None, -3]}
    simplejson.dumps(item)


def test_store_missing_table_is_unavailable(harness: Build) -> None:
    h = harness(TABLE_NAME="no-such-table")
    with pytest.raises(StoreUnavailable, match="ResourceNotFoundException"):
        _get(h, "USER#jane.doe")


def test_store_connection_refused_is_unavailable(harness: Build) -> None:
    h = harness(url=f"http://127.0.0.1:{_free_port()}", STORE_MAX_ATTEMPTS="1")
    with pytest.raises(StoreUnavailable):
        _get(h, "USER#jane.doe")


@pytest.mark.parametrize(
    ("canned", "error"),
    [
        (THROTTLED, StoreThrottled),
        (SERVER_ERROR, StoreUnavailable),
        (MALFORMED, StoreUnavailable),
        (WRONG_TYPES, ItemError),
    ],
)
def test_store_translates_faults(
    proxy: FaultProxy, harness: Build, canned: bytes, error: type[Exception]
) -> None:
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="1")
    proxy.set_mode("respond", canned)
    with pytest.raises(error):
        _get(h, "USER#jane.doe")


@pytest.mark.parametrize(
    ("canned", "cause"),
    [(TRUNCATED, ResponseTruncated), (NOT_HTTP, MalformedResponse)],
    ids=["truncated", "not_http"],
)
def test_store_unusable_http_answer_is_unavailable_naming_why(
    proxy: FaultProxy, harness: Build, canned: bytes, cause: type[ProtocolError]
) -> None:
    # The transport raises RequestFailed(ProtocolError); the connection's one table makes it
    # StoreUnavailable (never a missing profile), raised from the codec's error.
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="1")
    proxy.set_mode("respond", canned)
    with pytest.raises(StoreUnavailable, match="not a usable HTTP answer") as caught:
        _get(h, "USER#jane.doe")
    assert isinstance(caught.value.__cause__, cause)
    assert cause.__name__ in str(caught.value)


def test_store_retries_within_attempt_budget(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="2", LOOKUP_TIMEOUT_MS="4000")
    proxy.set_mode("respond", SERVER_ERROR)
    with pytest.raises(StoreUnavailable):
        _get(h, "USER#jane.doe", timeout=4.0)
    assert proxy.connections == 2  # first try plus one retry, never more than the budget


def test_store_reset_connection_is_unavailable(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="1")
    proxy.set_mode("refuse")
    with pytest.raises(StoreUnavailable):
        _get(h, "USER#jane.doe")


def test_store_stall_times_out_at_the_deadline(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint, LOOKUP_TIMEOUT_MS="300")
    proxy.set_mode("stall")
    started = time.monotonic()
    with pytest.raises(StoreTimeout):
        _get(h, "USER#jane.doe", timeout=0.3)
    assert time.monotonic() - started < 0.3 + 0.25


def test_handler_core_reuses_one_client_across_invocations(
    proxy: FaultProxy, harness: Build
) -> None:
    h = harness(url=proxy.endpoint)
    client = h.deps.store.sender  # type: ignore[attr-defined]  # the Store's one connection
    event = load_event("v2-authentication.json")
    answers = [h.invoke(event) for _ in range(30)]
    assert all(a == answers[0] for a in answers)
    assert h.deps.store.sender is client  # type: ignore[attr-defined]
    # moto's werkzeug server closes every connection, so each request connects anew.
    assert proxy.connections == 30


def test_handler_core_recovers_after_store_outage(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="1", LOOKUP_TIMEOUT_MS="500")
    event = load_event("v2-authentication.json")
    good = h.invoke(event)
    proxy.set_mode("refuse")
    with pytest.raises(SignInDenied) as caught:
        h.invoke(event)
    assert str(caught.value) == DENIED_UNAVAILABLE
    proxy.set_mode("stall")
    with pytest.raises(SignInDenied):
        h.invoke(event)
    proxy.set_mode("pass")
    assert h.invoke(event) == good


def test_handler_core_stale_if_error_through_real_store(proxy: FaultProxy, harness: Build) -> None:
    h = harness(
        url=proxy.endpoint,
        CACHE_TTL_SECONDS="0.05",
        CACHE_STALE_IF_ERROR_SECONDS="600",
        STORE_MAX_ATTEMPTS="1",
    )
    event = load_event("v2-authentication.json")
    fresh = h.call(event)
    assert fresh.log["cache"] == "miss"
    h.clock.advance(0.06)  # past the 50 ms TTL, well inside the stale window
    proxy.set_mode("respond", THROTTLED)
    stale = h.call(event)
    assert (stale.log["outcome"], stale.log["cache"]) == ("claims_added", "stale")
    assert stale.response == fresh.response


@pytest.mark.parametrize(
    "name",
    [
        "v1-authentication.json",
        "v2-authentication.json",
        "v3-client-credentials.json",
        "v2-missing-user.json",
        "aws-docs-v2-test-event.json",
        "rust-pretokengen-v2-incoming.json",
        "powertools-python-pretokengen-v1.json",
        "dotnet-pretokengen-v1-newpassword.json",
        "go-pretokengen-v2_0.json",
    ],
)
def test_handler_core_every_sample_marshals(harness: Build, name: str) -> None:
    answer = harness().invoke(load_event(name))
    simplejson.loads(simplejson.dumps(answer))


def test_example_mapping_end_to_end_through_moto(harness: Build) -> None:
    h = harness(CLAIMS_CONFIG=str(EVENTS / "claims.example.toml"))
    # GetItem fetched only what the mapping reads: `notes` never left the table.
    item = _get(h, "USER#jane.doe")
    assert "notes" not in item
    assert item["profile"] == {"plan": "gold", "seats": 25}
    answer = h.invoke(load_event("v2-authentication.json"))
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    access = details["accessTokenGeneration"]
    assert access["claimsToAddOrOverride"]["seats"] == 25
    assert access["claimsToAddOrOverride"]["roles"] == ["editor", "reviewer"]
    assert access["scopesToAdd"] == ["orders/read", "orders/write"]
    assert access["claimsToSuppress"] == ["dev:trace"]  # `sub` from the item was refused
    assert details["idTokenGeneration"]["claimsToSuppress"] == ["phone_number", "email_verified"]
    assert details["groupOverrideDetails"]["groupsToOverride"] == [
        "readers",
        "editors",
        "tenant-acme",
    ]
    machine = h.invoke(load_event("v3-client-credentials.json"))
    machine_access = machine["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
    assert machine_access["claimsToAddOrOverride"] == {
        "client_kind": "machine",
        "tenant": "acme",
        "quota": 1000,
    }
    # A V1 event: ID token only, strings only.
    v1 = h.invoke(load_event("v1-authentication.json"))["response"]["claimsOverrideDetails"]
    assert all(isinstance(v, str) for v in v1["claimsToAddOrOverride"].values())
    simplejson.dumps(answer)


# --- the other reads: composite keys, Query, BatchGetItem --------------------------------------

ORDERS = "orders"  # partition `tenant` (S), sort `sk` (S); index `by_email` on `email`


@pytest.fixture(scope="module")
def tables(endpoint: str) -> str:
    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", **FAKE_CREDENTIALS
    )
    client.create_table(
        TableName=ORDERS,
        KeySchema=[
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "tenant", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "email", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_email",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    put_items(
        endpoint,
        ORDERS,
        [
            {"tenant": {"S": "acme"}, "sk": {"S": f"ORDER#{i}"}, "total": {"N": str(i * 10)},
             "email": {"S": f"buyer{i % 2}@acme.test"}, "note": {"S": "n"}}
            for i in range(1, 5)
        ] + [{"tenant": {"S": "acme"}, "sk": {"S": "PROFILE"}, "name": {"S": "Acme"}}],
    )  # fmt: skip
    return endpoint


def _source(table: str, keys: tuple[str, ...], attributes: tuple[str, ...]) -> ItemSource:
    templates = tuple((name, KeyTemplate(f"test key {name}", "unused")) for name in keys)
    return ItemSource(name=f"test {table}", table=table, key=templates, attributes=attributes)


def _read(source: ItemSource, *values: str) -> ItemRead:
    return ItemRead(source=source, key=tuple(zip((n for n, _ in source.key), values, strict=True)))


def _query(
    index: str | None, partition: str, sort: str | None, limit: int, attributes: tuple[str, ...]
) -> QuerySource:
    template = KeyTemplate("test query key", "unused", use="query")
    return QuerySource(
        name="test query", table=ORDERS, index=index, partition=(partition, template),
        sort_prefix=None if sort is None else (sort, template), limit=limit, attributes=attributes,
    )  # fmt: skip


def _store(h: Harness) -> Store:
    store = h.deps.store
    if not isinstance(store, Store):
        raise TypeError(f"expected the real store, got {type(store).__name__}")
    return store


def _run(h: Harness, read: Awaitable[T]) -> T:
    return h.loop.run_until_complete(read)


def test_store_get_item_composite_key_projects_keys_and_asked(tables: str, harness: Build) -> None:
    h = harness(url=tables)
    read = _read(_source(ORDERS, ("tenant", "sk"), ("total",)), "acme", "ORDER#2")
    item = _run(h, _store(h).get_item(read, consistent=True, timeout=1.5))
    assert item == {"tenant": "acme", "sk": "ORDER#2", "total": 20}


def test_store_get_item_without_asked_attributes_is_not_missing(
    tables: str, harness: Build
) -> None:
    h = harness(url=tables)
    source = _source(ORDERS, ("tenant", "sk"), ("total",))
    store = _store(h)
    bare = _run(h, store.get_item(_read(source, "acme", "PROFILE"), consistent=False, timeout=1.5))
    assert bare == {"tenant": "acme", "sk": "PROFILE"}
    none = _run(h, store.get_item(_read(source, "acme", "NOPE"), consistent=False, timeout=1.5))
    assert none is None


def test_store_query_one_page_with_prefix_and_limit(tables: str, harness: Build) -> None:
    h = harness(url=tables)
    read = QueryRead(source=_query(None, "tenant", "sk", 3, ("sk", "total")), partition="acme",
                     prefix="ORDER#")  # fmt: skip
    items = _run(h, _store(h).query(read, consistent=True, timeout=1.5))
    # One page of at most `limit`, in key order, the projection only; `PROFILE` is not an order.
    assert items == [{"sk": f"ORDER#{i}", "total": i * 10} for i in range(1, 4)]


def test_store_query_an_index(tables: str, harness: Build) -> None:
    h = harness(url=tables)
    read = QueryRead(source=_query("by_email", "email", None, 10, ("total",)),
                     partition="buyer0@acme.test", prefix=None)  # fmt: skip
    # Asked consistent: on an index the store reads eventually consistent (DynamoDB's rule).
    items = _run(h, _store(h).query(read, consistent=True, timeout=1.5))
    assert sorted(i["total"] for i in items) == [20, 40]


def test_store_batch_get_in_order_across_tables(tables: str, harness: Build) -> None:
    h = harness(url=tables)
    orders = _source(ORDERS, ("tenant", "sk"), ("total",))
    profiles = _source(TABLE, ("id",), ("first_name",))
    reads = [
        _read(orders, "acme", "ORDER#3"),
        _read(profiles, "USER#jane.doe"),
        _read(orders, "acme", "NOPE"),
        _read(orders, "acme", "ORDER#1"),
        _read(orders, "acme", "ORDER#3"),  # asked twice: sent once, answered in both places
    ]
    found = _run(h, _store(h).batch_get(reads, consistent=False, timeout=1.5))
    assert found == [
        {"tenant": "acme", "sk": "ORDER#3", "total": 30},
        {"id": "USER#jane.doe", "first_name": "Jane"},
        None,
        {"tenant": "acme", "sk": "ORDER#1", "total": 10},
        {"tenant": "acme", "sk": "ORDER#3", "total": 30},
    ]


def _bodies(server: ScriptedServer) -> list[Any]:
    return [json.loads(r.body) for r in server.requests]


_THROTTLE_BODY = b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}'
_ITEM = b'{"Item": {"id": {"S": "USER#jane.doe"}, "first_name": {"S": "Jane"}}}'
_PROFILES = _source(TABLE, ("id",), ("first_name",))


def test_store_batch_get_asks_again_for_unprocessed_keys(
    scripted: Scripted, harness: Build
) -> None:
    # GIVEN DynamoDB answering one key and leaving the other unprocessed, then answering it
    first = {
        "Responses": {TABLE: [{"id": {"S": "USER#a"}}]},
        "UnprocessedKeys": {TABLE: {"Keys": [{"id": {"S": "USER#b"}}]}},
    }
    second = {"Responses": {TABLE: [{"id": {"S": "USER#b"}, "first_name": {"S": "B"}}]},
              "UnprocessedKeys": {}}  # fmt: skip
    server = scripted([(200, json.dumps(first).encode()), (200, json.dumps(second).encode())])
    h = harness(url=server.endpoint)
    reads = [_read(_PROFILES, "USER#a"), _read(_PROFILES, "USER#b")]
    found = _run(h, _store(h).batch_get(reads, consistent=False, timeout=1.5))
    # THEN both items come back in order, and the second round asked for the unprocessed key only
    assert found == [{"id": "USER#a"}, {"id": "USER#b", "first_name": "B"}]
    second_request = _bodies(server)[1]["RequestItems"][TABLE]
    assert second_request["Keys"] == [{"id": {"S": "USER#b"}}]
    assert set(second_request["ExpressionAttributeNames"].values()) == {"id", "first_name"}


def test_store_batch_get_unprocessed_past_the_deadline_is_throttled(
    scripted: Scripted, harness: Build
) -> None:
    left = {"Responses": {}, "UnprocessedKeys": {TABLE: {"Keys": [{"id": {"S": "USER#a"}}]}}}
    server = scripted([(200, json.dumps(left).encode())])
    h = harness(url=server.endpoint)
    with pytest.raises(StoreThrottled, match="unprocessed"):
        _run(h, _store(h).batch_get([_read(_PROFILES, "USER#a")], consistent=False, timeout=0.3))
    assert len(server.requests) >= 2  # it did ask again while the deadline allowed


def test_store_batch_get_round_cut_by_the_deadline_is_throttled(
    scripted: Scripted, harness: Build
) -> None:
    # GIVEN keys left unprocessed, then a round asking for them again that the deadline cuts
    left = {"Responses": {}, "UnprocessedKeys": {TABLE: {"Keys": [{"id": {"S": "USER#a"}}]}}}
    body = json.dumps(left).encode()
    seen: list[int] = []

    def answer(request: Recorded) -> tuple[int, bytes]:
        seen.append(1)
        if len(seen) > 1:
            time.sleep(0.5)  # past the 0.3 s deadline
        return 200, body

    server = scripted(answer)
    h = harness(url=server.endpoint, LOOKUP_TIMEOUT_MS="300", STORE_MAX_ATTEMPTS="1")
    # THEN the error is what the round before met: a throttle, never a bare timeout
    with pytest.raises(StoreThrottled, match="unprocessed until the deadline"):
        _run(h, _store(h).batch_get([_read(_PROFILES, "USER#a")], consistent=False, timeout=0.3))
    assert len(seen) >= 2


def test_store_retries_a_throttle_then_answers(scripted: Scripted, harness: Build) -> None:
    server = scripted([(400, _THROTTLE_BODY), (200, _ITEM)])
    h = harness(url=server.endpoint, STORE_MAX_ATTEMPTS="2", LOOKUP_TIMEOUT_MS="2000")
    assert _get(h, "USER#jane.doe", timeout=2.0) == {"id": "USER#jane.doe", "first_name": "Jane"}
    assert len(server.requests) == 2
    # Signed as DynamoDB expects: SigV4 over the target, with the region and service in scope.
    headers = server.requests[1].headers
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert "/us-east-1/dynamodb/aws4_request" in headers["Authorization"]


def test_store_does_not_retry_a_client_error(scripted: Scripted, harness: Build) -> None:
    denied = b'{"__type":"com.amazon.coral.service#AccessDeniedException","message":"no"}'
    server = scripted([(400, denied), (200, _ITEM)])
    h = harness(url=server.endpoint, STORE_MAX_ATTEMPTS="3")
    with pytest.raises(StoreUnavailable, match="AccessDeniedException"):
        _get(h, "USER#jane.doe")
    assert len(server.requests) == 1


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"'])
def test_store_corrupted_body_is_unavailable_for_every_read(
    scripted: Scripted, harness: Build, body: bytes
) -> None:
    server = scripted([(200, body)])
    h = harness(url=server.endpoint)
    store = _store(h)
    read = _read(_PROFILES, "USER#x")
    with pytest.raises(StoreUnavailable, match="GetItem"):
        _run(h, store.get_item(read, consistent=False, timeout=1.5))
    with pytest.raises(StoreUnavailable, match="BatchGetItem"):
        _run(h, store.batch_get([read], consistent=False, timeout=1.5))
    query = QueryRead(source=_query(None, "id", None, 1, ()), partition="x", prefix=None)
    with pytest.raises(StoreUnavailable, match="Query"):
        _run(h, store.query(query, consistent=False, timeout=1.5))


def test_store_cancellation_passes_through(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint)
    proxy.set_mode("stall")
    read = _read(_PROFILES, "USER#jane.doe")

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(_store(h).get_item(read, consistent=False, timeout=5))
        await asyncio.sleep(0.05)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        _run(h, cancel_soon())
