"""The real aioboto3 client against a moto server over HTTP, with faults injected in between."""

import socket
import time
from collections.abc import Callable
from typing import Any

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
from shared.lookup import ItemRead
from tests.conftest import EVENTS, load_event
from tests.integration.conftest import TABLE, Harness
from tools.fault_proxy import FaultProxy, http_response
from tools.local_dynamodb import put_items

pytestmark = pytest.mark.integration

Build = Callable[..., Harness]

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


def _get(h: Harness, key: str, machine: bool = False, timeout: float = 1.5) -> Any:
    principal = h.deps.client if machine else h.deps.user
    source = principal.lookup.primary
    read = ItemRead(source=source, key=((source.key[0][0], key),))
    consistent = principal.lookup.consistent
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


def test_store_retries_within_attempt_budget(proxy: FaultProxy, harness: Build) -> None:
    h = harness(url=proxy.endpoint, STORE_MAX_ATTEMPTS="2", LOOKUP_TIMEOUT_MS="4000")
    proxy.set_mode("respond", SERVER_ERROR)
    with pytest.raises(StoreUnavailable):
        _get(h, "USER#jane.doe", timeout=4.0)
    assert proxy.connections == 2  # first try plus one retry, never botocore's default 10


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
    client = h.deps.store._client  # type: ignore[attr-defined]  # the Store's one client
    event = load_event("v2-authentication.json")
    answers = [h.invoke(event) for _ in range(30)]
    assert all(a == answers[0] for a in answers)
    assert h.deps.store._client is client  # type: ignore[attr-defined]
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
