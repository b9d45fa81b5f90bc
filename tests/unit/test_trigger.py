"""The pipeline with a fake profile source: policies, deadlines, cache use, logs.

Every test drives `shared.trigger.answer` through `tools.container.Container`, the path the Lambda
handler runs; outcomes are read from the invocation's log line.
"""

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import simplejson

from shared.claims import load_rules, parse_rules
from shared.claims.model import DEFAULT_RULES, Rules
from shared.errors import (
    DENIED_NO_PROFILE,
    DENIED_UNAVAILABLE,
    ItemError,
    SignInDenied,
    StoreError,
    StoreThrottled,
    StoreTimeout,
    StoreUnavailable,
)
from shared.lookup.sources import ItemRead, QueryRead
from shared.values import Item
from tests.conftest import EVENTS, FakeClock, load_event, make_settings
from tools.container import Container

JANE = {"id": "USER#jane.doe", "first_name": "Jane", "last_name": "Doe", "interesting_value": 7}


class FakeSource:
    """Items by partition key value (any table); can fail or stall; records what it was asked."""

    def __init__(self, items: dict[str, Item] | None = None) -> None:
        self.items = items if items is not None else {"USER#jane.doe": JANE}
        self.lists: dict[str, list[Item]] = {}
        self.error: StoreError | None = None
        self.stall = False
        self.calls: list[tuple[str, str, float]] = []

    async def _wait(self, timeout: float) -> None:
        if self.stall:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.Event().wait()
            except TimeoutError:
                raise StoreTimeout("stalled") from None
        if self.error is not None:
            raise self.error

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        self.calls.append(("GetItem", read.key[0][1], timeout))
        await self._wait(timeout)
        return self.items.get(read.key[0][1])

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        self.calls.append(("BatchGetItem", ",".join(r.key[0][1] for r in reads), timeout))
        await self._wait(timeout)
        return [self.items.get(read.key[0][1]) for read in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        self.calls.append(("Query", read.partition + "|" + (read.prefix or ""), timeout))
        await self._wait(timeout)
        return self.lists.get(read.partition, [])


_MADE: list[Container] = []


@pytest.fixture(autouse=True)
def _close_containers() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _container(
    source: FakeSource,
    clock: FakeClock | None = None,
    mapping: Rules | None = None,
    **env: str,
) -> Container:
    env.setdefault("METRICS", "false")
    container = Container(
        make_settings(**env), source=source, mapping=mapping, clock=clock or FakeClock()
    )
    _MADE.append(container)
    return container


def test_trigger_found_adds_claims_and_keeps_groups() -> None:
    source = FakeSource()
    event = load_event("v2-authentication.json")
    answer = _container(source).invoke(event)
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {
        "first_name": "Jane",
        "last_name": "Doe",
    }
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == {"interesting_value": 7}
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["readers", "editors"]
    # The whole event comes back, untouched but for `response`; the input is not mutated.
    assert {k: v for k, v in answer.items() if k != "response"} == {
        k: v for k, v in event.items() if k != "response"
    }
    assert event["response"] == {"claimsAndScopeOverrideDetails": None}
    ((operation, key, timeout),) = source.calls
    assert (operation, key) == ("GetItem", "USER#jane.doe")
    assert timeout == pytest.approx(1.5, abs=0.05)
    simplejson.dumps(answer)


def test_trigger_is_idempotent() -> None:
    container = _container(FakeSource())
    event = load_event("v2-authentication.json")
    assert container.invoke(event) == container.invoke(event)


def test_trigger_machine_client_uses_client_key() -> None:
    source = FakeSource({"CLIENT#7machine0client0id": {"interesting_value": "m2m"}})
    answer = _container(source).invoke(load_event("v3-client-credentials.json"))
    assert source.calls[0][:2] == ("GetItem", "CLIENT#7machine0client0id")
    assert answer["response"] == {
        "claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {"claimsToAddOrOverride": {"interesting_value": "m2m"}}
        }
    }


def test_trigger_v1_event_gets_v1_shape() -> None:
    answer = _container(FakeSource()).invoke(load_event("v1-authentication.json"))
    assert set(answer["response"]) == {"claimsOverrideDetails"}
    assert answer["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"] == {
        "first_name": "Jane",
        "last_name": "Doe",
    }


def test_trigger_response_format_override() -> None:
    container = _container(FakeSource(), RESPONSE_FORMAT="v1")
    answer = container.invoke(load_event("v2-authentication.json"))
    assert set(answer["response"]) == {"claimsOverrideDetails"}


def test_trigger_missing_allow_keeps_groups_without_claims() -> None:
    call = _container(FakeSource()).call(load_event("v2-missing-user.json"))
    assert (call.log["outcome"], call.log["reason"]) == ("allowed_without_claims", "missing")
    assert call.response is not None
    details = call.response["response"]["claimsAndScopeOverrideDetails"]
    assert details == {
        "groupOverrideDetails": {
            "groupsToOverride": ["readers"],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    }


def test_trigger_missing_deny_raises_safe_message() -> None:
    container = _container(FakeSource(), ON_MISSING="deny")
    with pytest.raises(SignInDenied) as caught:
        container.invoke(load_event("v2-missing-user.json"))
    assert str(caught.value) == DENIED_NO_PROFILE


def test_trigger_no_user_name_answers_without_store_claims() -> None:
    source = FakeSource()
    event = load_event("v2-authentication.json")
    del event["userName"]
    call = _container(source).call(event)
    assert (call.log["outcome"], call.log["reason"], call.log["cache"]) == (
        "allowed_without_claims",
        "no_key",
        "none",
    )
    assert source.calls == []
    assert call.response is not None
    details = call.response["response"]["claimsAndScopeOverrideDetails"]
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["readers", "editors"]


@pytest.mark.parametrize(
    "error",
    [
        StoreTimeout("GetItem timed out: ReadTimeoutError http://10.0.0.1/"),
        StoreThrottled("DynamoDB throttled GetItem: ThrottlingException"),
        StoreUnavailable("DynamoDB rejected GetItem: ResourceNotFoundException (HTTP 400)"),
        ItemError("malformed item: Expected `str`"),
    ],
)
def test_trigger_store_error_deny_by_default(error: StoreError) -> None:
    source = FakeSource()
    source.error = error
    container = _container(source)
    with pytest.raises(SignInDenied) as caught:
        container.invoke(load_event("v2-authentication.json"))
    # The user sees a fixed message; the operator detail goes to the log only.
    assert str(caught.value) == DENIED_UNAVAILABLE
    assert str(error) not in str(caught.value)
    (line,) = container.lines
    assert line["level"] == "WARNING"
    assert line["outcome"] == "denied"
    assert line["error_kind"] == error.kind
    assert line["error"] == str(error)


def test_trigger_store_error_allow_keeps_groups() -> None:
    source = FakeSource()
    source.error = StoreUnavailable("down")
    call = _container(source, ON_ERROR="allow").call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["reason"], call.log["error_kind"]) == (
        "allowed_without_claims",
        "store_error",
        "unavailable",
    )
    assert call.response is not None
    details = call.response["response"]["claimsAndScopeOverrideDetails"]
    assert set(details) == {"groupOverrideDetails"}


def test_trigger_deadline_is_cut_to_remaining_time() -> None:
    source = FakeSource()
    container = _container(source, LOOKUP_TIMEOUT_MS="1500", DEADLINE_MARGIN_MS="300")
    container.invoke(load_event("v2-authentication.json"), remaining_ms=1000)
    assert source.calls[0][2] == pytest.approx(0.7, abs=0.05)


def test_trigger_no_time_left_is_a_timeout_without_lookup() -> None:
    source = FakeSource()
    container = _container(source, DEADLINE_MARGIN_MS="300")
    call = container.call(load_event("v2-authentication.json"), remaining_ms=250)
    assert (call.log["outcome"], call.log["error_kind"]) == ("denied", "timeout")
    assert source.calls == []


def test_trigger_stalled_store_times_out_within_deadline() -> None:
    source = FakeSource()
    source.stall = True
    container = _container(source, LOOKUP_TIMEOUT_MS="50")
    started = container.loop.time()
    call = container.call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["error_kind"]) == ("denied", "timeout")
    assert container.loop.time() - started < 1.0  # bounded by the 50 ms lookup timeout


def test_trigger_cache_hit_skips_store_and_serves_stale_on_error() -> None:
    source, clock = FakeSource(), FakeClock()
    container = _container(
        source, clock=clock, CACHE_TTL_SECONDS="60", CACHE_STALE_IF_ERROR_SECONDS="300"
    )
    event = load_event("v2-authentication.json")
    assert container.call(event).log["cache"] == "miss"
    assert container.call(event).log["cache"] == "hit"
    assert len(source.calls) == 1
    clock.advance(120)
    source.error = StoreThrottled("throttled")
    stale = container.call(event)
    assert (stale.log["outcome"], stale.log["cache"]) == ("claims_added", "stale")
    assert stale.response is not None
    details = stale.response["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"]["first_name"] == "Jane"
    clock.advance(300)
    assert container.call(event).log["outcome"] == "denied"


def test_trigger_cache_separates_user_and_client_keys() -> None:
    # GIVEN templates that render the same key for a user and a machine client
    source = FakeSource({"X": {"first_name": "user", "interesting_value": "shared"}})
    container = _container(
        source, USER_KEY="{userName}", CLIENT_KEY="{clientId}", CACHE_TTL_SECONDS="60"
    )
    user = load_event("v2-authentication.json")
    user["userName"] = "X"
    machine = load_event("v3-client-credentials.json")
    machine["callerContext"]["clientId"] = "X"
    container.invoke(user)
    call = container.call(machine)
    # THEN the machine lookup is not answered from the user's entry (projections differ)
    assert call.log["cache"] == "miss"
    assert len(source.calls) == 2


def _unusable(event: dict[str, Any]) -> dict[str, Any]:
    event["request"]["scopes"] = "openid"  # a string where Cognito sends a list
    return event


def test_trigger_unusable_event_denied_by_default() -> None:
    call = _container(FakeSource()).call(_unusable(load_event("v2-authentication.json")))
    assert (call.log["outcome"], call.log["reason"], call.denied) == (
        "denied",
        "bad_event",
        DENIED_UNAVAILABLE,
    )


@pytest.mark.parametrize(
    ("name", "details"),
    [
        ("v2-authentication.json", "claimsAndScopeOverrideDetails"),
        ("v1-authentication.json", "claimsOverrideDetails"),
        ("v3-client-credentials.json", "claimsAndScopeOverrideDetails"),
    ],
)
@pytest.mark.parametrize(
    "foreign",
    [
        {"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["admin"]}}},
        {"claimsOverrideDetails": {"claimsToAddOrOverride": {"role": "admin"}}},
        {"claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": []}}},
        {"anything": "else"},
    ],
)
def test_trigger_unusable_event_allowed_answers_without_any_change(
    name: str, details: str, foreign: dict[str, Any]
) -> None:
    # GIVEN an event we cannot decode, arriving with a `response` that is not ours
    event = load_event(name)
    event["userName"] = ["not", "a", "string"]
    event["response"] = foreign
    call = _container(FakeSource(), ON_ERROR="allow").call(event)
    # THEN allow means the tokens as Cognito would issue them: a blank answer of the event's
    # shape, never the claims, scopes or group override the event carried in
    assert (call.log["outcome"], call.log["reason"]) == ("allowed_without_claims", "bad_event")
    assert call.response is not None
    assert call.response["response"] == {details: None}
    assert {k: v for k, v in call.response.items() if k != "response"} == {
        k: v for k, v in event.items() if k != "response"
    }


def test_trigger_non_object_event_is_denied_even_when_allowing() -> None:
    call = _container(FakeSource(), ON_ERROR="allow").call(["not", "an", "event"])
    assert call.log["outcome"] == "denied"


def test_trigger_logs_one_line_without_user_data() -> None:
    container = _container(FakeSource())
    container.invoke(load_event("v2-authentication.json"), request_id="req-1")
    container.invoke(load_event("v2-authentication.json"), request_id="req-2")
    assert [line["cold_start"] for line in container.lines] == [True, False]
    first = container.lines[0]
    assert first["level"] == "INFO"
    assert first["function_request_id"] == "req-1"
    assert (first["outcome"], first["reason"], first["cache"], first["shape"]) == (
        "claims_added",
        "found",
        "off",
        "v2",
    )
    text = json.dumps(container.lines)
    for secret in ("jane.doe", "Jane", "Doe", "a1b2c3d4", "readers"):
        assert secret not in text


def test_trigger_log_level_warning_silences_info() -> None:
    container = _container(FakeSource(), LOG_LEVEL="WARNING")
    container.invoke(load_event("v2-authentication.json"))
    assert container.lines == []


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts how often it is asked to run something."""

    runs = 0

    def run_until_complete(self, future: Any) -> Any:
        self.runs += 1
        return super().run_until_complete(future)


def test_trigger_answer_serves_cache_hits_without_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = CountingLoop()
    monkeypatch.setattr(asyncio, "new_event_loop", lambda: loop)
    source = FakeSource()
    container = _container(source, CACHE_TTL_SECONDS="60")
    event = load_event("v2-authentication.json")
    first = container.invoke(event)
    assert loop.runs == 1
    # A fresh hit is answered synchronously: same answer, no store call, no loop run.
    assert container.invoke(event) == first
    assert (len(source.calls), loop.runs) == (1, 1)
    # A miss does run on the loop.
    container.invoke(load_event("v2-missing-user.json"))
    assert loop.runs == 2


_REQUIRED_TENANT = b'[[user.claims]]\nattribute = "tenant"\ntokens = ["access"]\nrequired = true\n'


@pytest.mark.parametrize(
    ("policy", "outcome", "denied"),
    [("allow", "allowed_without_claims", None), ("deny", "denied", DENIED_NO_PROFILE)],
)
def test_trigger_missing_required_attribute_follows_on_missing(
    policy: str, outcome: str, denied: str | None
) -> None:
    mapping = parse_rules(_REQUIRED_TENANT, source="m.toml", toml=True)
    container = _container(FakeSource(), mapping=mapping, ON_MISSING=policy)
    call = container.call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["reason"], call.denied) == (
        outcome,
        "missing_required",
        denied,
    )


def test_trigger_logs_dropped_claim_names_never_values() -> None:
    source = FakeSource({"USER#jane.doe": {"first_name": {"secret": "v4lue"}, "last_name": None}})
    mapping = parse_rules(
        b'[[user.claims]]\nattribute = "first_name"\ntokens = ["id"]\ntype = "string"\n'
        b'[[user.claims]]\nattribute = "last_name"\ntokens = ["id"]\n',
        source="m.toml",
        toml=True,
    )
    container = _container(source, mapping=mapping)
    container.invoke(load_event("v2-authentication.json"))
    (line,) = container.lines
    assert line["dropped_claims"] == [["first_name", "wrong_type"], ["last_name", "null"]]
    assert "v4lue" not in json.dumps(line)


def test_trigger_log_line_is_bounded_whatever_the_item_holds() -> None:
    # GIVEN an item whose suppression list makes 10,000 claims drop (reserved names)
    mapping = parse_rules(b'[user.suppress]\nid_from = "hide"\n', source="m.toml", toml=True)
    item = {"id": "USER#jane.doe", "hide": ["sub"] * 10_000}
    container = _container(FakeSource({"USER#jane.doe": item}), mapping=mapping)
    container.invoke(load_event("v2-authentication.json"))
    (line,) = container.lines
    # THEN the line names a few, counts the rest, and stays small
    assert line["dropped_total"] == 10_000
    assert len(line["dropped_claims"]) == 20
    assert len(json.dumps(line)) < 4_000


def test_trigger_emits_emf_metrics_without_user_data() -> None:
    source = FakeSource()
    container = _container(source, CACHE_TTL_SECONDS="60", METRICS="true")
    event = load_event("v2-authentication.json")
    container.invoke(event)
    container.invoke(event)
    container.invoke(load_event("v2-missing-user.json"))
    source.error = StoreThrottled("throttled")
    with pytest.raises(SignInDenied):
        container.invoke(load_event("v1-authentication.json") | {"userName": "other"})
    first, hit, missing, failed = container.lines
    for record in container.lines:
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "CognitoPretoken"
        assert directive["Dimensions"] == [["Service"]]
        assert record["Service"] == "cognito-pretoken"
        for metric in directive["Metrics"]:
            assert metric["Name"] in record
        assert record["Latency"] >= 0
    assert (first["ColdStart"], first["CacheMiss"], first["ClaimsAdded"]) == (1, 1, 1)
    assert (hit["ColdStart"], hit["CacheHit"], hit["CacheMiss"]) == (0, 1, 0)
    assert missing["ProfileMissing"] == 1
    assert (failed["StoreError"], failed["Denied"], failed["Error_throttled"]) == (1, 1, 1)
    text = json.dumps(container.lines)
    for secret in ("jane.doe", "Jane", "a1b2c3d4", "readers"):
        assert secret not in text


def test_trigger_counts_dropped_claims_by_reason() -> None:
    source = FakeSource({"USER#jane.doe": {"first_name": None, "last_name": None}})
    container = _container(source, METRICS="true")
    container.invoke(load_event("v2-authentication.json"))
    (record,) = container.lines
    assert (record["ClaimsDropped"], record["Dropped_null"]) == (2, 2)


def test_trigger_settings_choose_the_mapping() -> None:
    built_in = _container(FakeSource()).deps
    assert (built_in.user.section, built_in.client.section) == (
        DEFAULT_RULES.user,
        DEFAULT_RULES.client,
    )
    example = str(EVENTS / "claims.example.toml")
    named = _container(FakeSource(), CLAIMS_CONFIG=example).deps
    assert named.user.section == load_rules(example).user


@pytest.mark.parametrize(("budget", "kept"), [("1024", False), ("65536", True)])
def test_trigger_claims_budget_setting_reaches_the_mapping(budget: str, kept: bool) -> None:
    # GIVEN a 2 KB first name and CLAIMS_BUDGET_BYTES set
    source = FakeSource({"USER#jane.doe": {"first_name": "x" * 2048, "last_name": "Doe"}})
    call = _container(source, CLAIMS_BUDGET_BYTES=budget).call(load_event("v2-authentication.json"))
    assert call.response is not None
    claims = call.response["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
    assert ("first_name" in claims["claimsToAddOrOverride"]) is kept
    assert (["first_name", "over_budget"] in call.log.get("dropped_claims", [])) is not kept
