"""Faults between the handler and a moto server, for every policy and cache state.

A loopback proxy injects throttling, 5xx, answers slower than the deadline, stalls, refused and
reset connections, malformed JSON and malformed items. For each fault, `ON_ERROR` policy and cache
state (off; on with an expired entry inside `CACHE_STALE_IF_ERROR_SECONDS`) the outcome must be
the documented one, the invocation must end within the deadline plus a small margin, nothing but
`SignInDenied` may escape, and what the user sees must be the fixed message.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import simplejson

from shared.errors import DENIED_UNAVAILABLE, SignInDenied
from tests.conftest import EVENTS, load_event, make_settings
from tests.integration.conftest import TABLE, Harness, open_container
from tools.fault_proxy import FaultProxy, Mode, http_response
from tools.local_dynamodb import put_items

pytestmark = pytest.mark.integration

LOOKUP_TIMEOUT_MS = 300
MARGIN_SECONDS = 0.25
"""Room for the answer around the lookup deadline on a busy CI machine."""

_PTE = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"slow down"}'
)
_THROTTLING = (
    b'{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}'
)


@dataclass(frozen=True)
class Fault:
    mode: Mode | str
    canned: bytes = b""
    kind: str = "unavailable"


FAULTS = {
    "provisioned_throughput_exceeded": Fault("respond", http_response(400, _PTE), "throttled"),
    "throttling_exception": Fault("respond", http_response(400, _THROTTLING), "throttled"),
    "http_500": Fault("respond", http_response(500, b'{"__type":"InternalServerError"}')),
    "http_503": Fault("respond", http_response(503, b'{"__type":"ServiceUnavailable"}')),
    "slower_than_deadline": Fault("delay", kind="timeout"),
    "stall": Fault("stall", kind="timeout"),
    "connection_refused": Fault("down"),
    "connection_reset": Fault("refuse"),
    "reset_mid_response": Fault(
        "respond_reset",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b'Content-Length: 400\r\n\r\n{"Item": {"first_name": {"S": "Ja',
    ),
    "malformed_json": Fault("respond", http_response(200, b'{"Item": {"first_name": ', "OK")),
    "malformed_item": Fault(
        "respond",
        http_response(
            200, b'{"Item": {"id": {"S": "USER#jane.doe"}, "first_name": {"S": 12}}}', "OK"
        ),
        "malformed_item",
    ),
}


@pytest.fixture
def container(proxy: FaultProxy) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(**env: str) -> Harness:
        settings = make_settings(
            AWS_ENDPOINT_URL_DYNAMODB=proxy.endpoint,
            LOOKUP_TIMEOUT_MS=str(LOOKUP_TIMEOUT_MS),
            # One attempt by default: each fault is met once (retries have their own test).
            **{"STORE_MAX_ATTEMPTS": "1", **env},
        )
        made.append(open_container(settings))
        return made[-1]

    yield build
    for item in made:
        item.close()


def _inject(proxy: FaultProxy, fault: Fault) -> None:
    if fault.mode == "down":
        proxy.close()
    elif fault.mode == "delay":
        proxy.set_mode("delay", delay=2 * LOOKUP_TIMEOUT_MS / 1000)
    else:
        proxy.set_mode(fault.mode, fault.canned)  # type: ignore[arg-type]  # the other modes


@pytest.mark.parametrize("cached", [False, True], ids=["cache_off", "cache_stale"])
@pytest.mark.parametrize("policy", ["deny", "allow"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_outcome_deadline_and_message(
    proxy: FaultProxy, container: Callable[..., Harness], name: str, policy: str, cached: bool
) -> None:
    fault = FAULTS[name]
    env = {"ON_ERROR": policy}
    if cached:
        env |= {"CACHE_TTL_SECONDS": "60", "CACHE_STALE_IF_ERROR_SECONDS": "300"}
    c = container(**env)
    event = load_event("v2-authentication.json")
    fresh = None
    if cached:
        # GIVEN a profile cached a minute ago: expired, but inside the stale window
        fresh = c.invoke(event)
        c.clock.advance(61)
    _inject(proxy, fault)
    started = time.monotonic()
    result = c.call(event)
    elapsed = time.monotonic() - started
    # THEN it ends within the deadline plus a margin, whatever the fault
    assert elapsed < LOOKUP_TIMEOUT_MS / 1000 + MARGIN_SECONDS, f"{name}: {elapsed:.3f} s"
    if cached:
        assert (result.log["outcome"], result.log["cache"]) == ("claims_added", "stale")
        assert result.response == fresh
        return
    assert result.log["reason"] == "store_error"
    assert result.log["error_kind"] == fault.kind
    if policy == "allow":
        assert result.log["outcome"] == "allowed_without_claims"
        assert result.response is not None
        details = result.response["response"]["claimsAndScopeOverrideDetails"]
        assert set(details) == {"groupOverrideDetails"}
        assert details["groupOverrideDetails"]["groupsToOverride"] == ["readers", "editors"]
        simplejson.dumps(result.response)
        return
    assert result.log["outcome"] == "denied"
    with pytest.raises(SignInDenied) as caught:
        c.invoke(event)
    assert str(caught.value) == DENIED_UNAVAILABLE


@pytest.mark.parametrize(
    ("name", "kind"),
    [("provisioned_throughput_exceeded", "throttled"), ("http_500", "unavailable")],
)
def test_fault_with_retries_reports_the_fault_not_the_deadline(
    proxy: FaultProxy, container: Callable[..., Harness], name: str, kind: str
) -> None:
    # GIVEN retries whose backoff (standard mode: random, up to 1 s) may outlast the deadline
    c = container(STORE_MAX_ATTEMPTS="3")
    _inject(proxy, FAULTS[name])
    started = time.monotonic()
    result = c.call(load_event("v2-authentication.json"))
    assert time.monotonic() - started < LOOKUP_TIMEOUT_MS / 1000 + MARGIN_SECONDS
    # THEN the operator sees what DynamoDB said, whether or not the deadline cut a retry short
    assert (result.log["outcome"], result.log["error_kind"]) == ("denied", kind)


def test_fault_stale_entry_outside_window_is_not_served(
    proxy: FaultProxy, container: Callable[..., Harness]
) -> None:
    c = container(CACHE_TTL_SECONDS="60", CACHE_STALE_IF_ERROR_SECONDS="300")
    event = load_event("v2-authentication.json")
    c.invoke(event)
    c.clock.advance(60 + 301)
    proxy.set_mode("refuse")
    result = c.call(event)
    assert (result.log["outcome"], result.log["error_kind"]) == ("denied", "unavailable")


def test_fault_item_of_400_kb_is_served_within_the_deadline(
    endpoint: str, proxy: FaultProxy, container: Callable[..., Harness]
) -> None:
    # GIVEN a profile at DynamoDB's item size limit, most of it in mapped attributes
    big = "x" * 190_000
    put_items(
        endpoint,
        TABLE,
        [
            {
                "id": {"S": "USER#big.item"},
                "first_name": {"S": big},
                "last_name": {"S": big},
                "notes": {"S": "y" * 15_000},
            }
        ],
    )
    c = container()
    event = load_event("v2-authentication.json") | {"userName": "big.item"}
    started = time.monotonic()
    result = c.call(event)
    assert time.monotonic() - started < LOOKUP_TIMEOUT_MS / 1000 + MARGIN_SECONDS
    assert result.log["outcome"] == "claims_added"
    assert result.response is not None
    claims = result.response["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
    assert claims["claimsToAddOrOverride"]["first_name"] == big
    simplejson.dumps(result.response)


def test_fault_item_with_wrong_claim_types_drops_those_claims(
    endpoint: str, container: Callable[..., Harness]
) -> None:
    put_items(
        endpoint,
        TABLE,
        [{"id": {"S": "USER#typed"}, "first_name": {"N": "7"}, "last_name": {"S": "Doe"}}],
    )
    c = container(CLAIMS_CONFIG=str(EVENTS / "claims.example.toml"))
    event = load_event("v2-authentication.json") | {"userName": "typed"}
    result = c.call(event)
    # The example mapping requires `tenant_id`: without it the profile counts as missing.
    assert (result.log["outcome"], result.log["reason"]) == (
        "allowed_without_claims",
        "missing_required",
    )
    put_items(
        endpoint,
        TABLE,
        [{"id": {"S": "USER#typed"}, "first_name": {"N": "7"}, "tenant_id": {"S": "t"},
          "beta": {"S": "yes"}}],
    )  # fmt: skip
    result = c.call(event)
    assert result.log["outcome"] == "claims_added"
    assert sorted(result.log["dropped_claims"]) == [
        ["beta_features", "wrong_type"],
        ["first_name", "wrong_type"],
    ]
    assert result.response is not None
    text = simplejson.dumps(result.response)
    assert '"first_name"' not in text.split("claimsToSuppress")[0]
