"""The async core with a fake profile source: policies, deadlines, cache use, logs."""

import asyncio
import json
from typing import Any

import pytest
import simplejson

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
from shared.item import Item
from shared.mapping import parse_mapping
from shared.telemetry import Logger
from shared.trigger import Deps, answer, build_deps, evaluate, process
from tests.conftest import FakeClock, load_event, make_settings

JANE = {"id": "USER#jane.doe", "first_name": "Jane", "last_name": "Doe", "interesting_value": 7}


class FakeSource:
    """Profiles by key; can fail or stall on demand; records what it was asked."""

    def __init__(self, items: dict[str, Item] | None = None) -> None:
        self.items = items if items is not None else {"USER#jane.doe": JANE}
        self.error: StoreError | None = None
        self.stall = False
        self.calls: list[tuple[str, bool, float]] = []

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        self.calls.append((key, machine, timeout))
        if self.stall:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.Event().wait()
            except TimeoutError:
                raise StoreTimeout("stalled") from None
        if self.error is not None:
            raise self.error
        return self.items.get(key)


class Lines:
    """Collects log lines written by a Logger."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __call__(self, line: str) -> None:
        self.lines.append(json.loads(line))


def _deps(
    source: FakeSource, lines: Lines | None = None, clock: FakeClock | None = None, **env: str
) -> Deps:
    settings = make_settings(**env)
    logger = Logger("test", settings.log_level, lines or Lines())
    return build_deps(settings, source, logger=logger, clock=clock or FakeClock())


async def test_trigger_found_adds_claims_and_keeps_groups() -> None:
    source = FakeSource()
    event = load_event("v2-authentication.json")
    answer = await process(event, 5000, _deps(source))
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
    assert source.calls == [("USER#jane.doe", False, 1.5)]
    simplejson.dumps(answer)


async def test_trigger_is_idempotent() -> None:
    deps = _deps(FakeSource())
    event = load_event("v2-authentication.json")
    first = await process(event, 5000, deps)
    second = await process(event, 5000, deps)
    assert first == second


async def test_trigger_machine_client_uses_client_key() -> None:
    source = FakeSource({"CLIENT#7machine0client0id": {"interesting_value": "m2m"}})
    answer = await process(load_event("v3-client-credentials.json"), 5000, _deps(source))
    assert source.calls[0][:2] == ("CLIENT#7machine0client0id", True)
    assert answer["response"] == {
        "claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {"claimsToAddOrOverride": {"interesting_value": "m2m"}}
        }
    }


async def test_trigger_v1_event_gets_v1_shape() -> None:
    answer = await process(load_event("v1-authentication.json"), 5000, _deps(FakeSource()))
    assert set(answer["response"]) == {"claimsOverrideDetails"}
    assert answer["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"] == {
        "first_name": "Jane",
        "last_name": "Doe",
    }


async def test_trigger_response_format_override() -> None:
    deps = _deps(FakeSource(), RESPONSE_FORMAT="v1")
    answer = await process(load_event("v2-authentication.json"), 5000, deps)
    assert set(answer["response"]) == {"claimsOverrideDetails"}


async def test_trigger_missing_allow_keeps_groups_without_claims() -> None:
    result = await evaluate(load_event("v2-missing-user.json"), 5000, _deps(FakeSource()))
    assert (result.outcome, result.reason) == ("allowed_without_claims", "missing")
    assert result.response is not None
    details = result.response["response"]["claimsAndScopeOverrideDetails"]
    assert details == {
        "groupOverrideDetails": {
            "groupsToOverride": ["readers"],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    }


async def test_trigger_missing_deny_raises_safe_message() -> None:
    deps = _deps(FakeSource(), ON_MISSING="deny")
    with pytest.raises(SignInDenied) as caught:
        await process(load_event("v2-missing-user.json"), 5000, deps)
    assert str(caught.value) == DENIED_NO_PROFILE


async def test_trigger_no_user_name_answers_without_store_claims() -> None:
    source = FakeSource()
    event = load_event("v2-authentication.json")
    del event["userName"]
    result = await evaluate(event, 5000, _deps(source))
    assert (result.outcome, result.reason, result.cache) == (
        "allowed_without_claims",
        "no_key",
        "none",
    )
    assert source.calls == []
    assert result.response is not None
    details = result.response["response"]["claimsAndScopeOverrideDetails"]
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
async def test_trigger_store_error_deny_by_default(error: StoreError) -> None:
    source, lines = FakeSource(), Lines()
    source.error = error
    with pytest.raises(SignInDenied) as caught:
        await process(load_event("v2-authentication.json"), 5000, _deps(source, lines))
    # The user sees a fixed message; the operator detail goes to the log only.
    assert str(caught.value) == DENIED_UNAVAILABLE
    assert str(error) not in str(caught.value)
    (line,) = lines.lines
    assert line["level"] == "WARNING"
    assert line["outcome"] == "denied"
    assert line["error_kind"] == error.kind
    assert line["error"] == str(error)


async def test_trigger_store_error_allow_keeps_groups() -> None:
    source = FakeSource()
    source.error = StoreUnavailable("down")
    result = await evaluate(
        load_event("v2-authentication.json"), 5000, _deps(source, ON_ERROR="allow")
    )
    assert (result.outcome, result.reason, result.error_kind) == (
        "allowed_without_claims",
        "store_error",
        "unavailable",
    )
    assert result.response is not None
    details = result.response["response"]["claimsAndScopeOverrideDetails"]
    assert set(details) == {"groupOverrideDetails"}


async def test_trigger_deadline_is_cut_to_remaining_time() -> None:
    source = FakeSource()
    deps = _deps(source, LOOKUP_TIMEOUT_MS="1500", DEADLINE_MARGIN_MS="300")
    await evaluate(load_event("v2-authentication.json"), 1000, deps)
    assert source.calls[0][2] == pytest.approx(0.7)


async def test_trigger_no_time_left_is_a_timeout_without_lookup() -> None:
    source = FakeSource()
    deps = _deps(source, DEADLINE_MARGIN_MS="300")
    result = await evaluate(load_event("v2-authentication.json"), 250, deps)
    assert (result.outcome, result.error_kind) == ("denied", "timeout")
    assert source.calls == []


async def test_trigger_stalled_store_times_out_within_deadline() -> None:
    source = FakeSource()
    source.stall = True
    deps = _deps(source, LOOKUP_TIMEOUT_MS="50")
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await evaluate(load_event("v2-authentication.json"), 5000, deps)
    assert (result.outcome, result.error_kind) == ("denied", "timeout")
    assert loop.time() - started < 1.0  # bounded by the 50 ms lookup timeout, not the stall


async def test_trigger_cache_hit_skips_store_and_serves_stale_on_error() -> None:
    source, clock = FakeSource(), FakeClock()
    deps = _deps(source, clock=clock, CACHE_TTL_SECONDS="60", CACHE_STALE_IF_ERROR_SECONDS="300")
    event = load_event("v2-authentication.json")
    assert (await evaluate(event, 5000, deps)).cache == "miss"
    assert (await evaluate(event, 5000, deps)).cache == "hit"
    assert len(source.calls) == 1
    clock.advance(120)
    source.error = StoreThrottled("throttled")
    stale = await evaluate(event, 5000, deps)
    assert (stale.outcome, stale.cache) == ("claims_added", "stale")
    assert stale.response is not None
    details = stale.response["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"]["first_name"] == "Jane"
    clock.advance(300)
    assert (await evaluate(event, 5000, deps)).outcome == "denied"


async def test_trigger_cache_separates_user_and_client_keys() -> None:
    # GIVEN templates that render the same key for a user and a machine client
    source = FakeSource({"X": {"first_name": "user", "interesting_value": "shared"}})
    deps = _deps(source, USER_KEY="{userName}", CLIENT_KEY="{clientId}", CACHE_TTL_SECONDS="60")
    user = load_event("v2-authentication.json")
    user["userName"] = "X"
    machine = load_event("v3-client-credentials.json")
    machine["callerContext"]["clientId"] = "X"
    await evaluate(user, 5000, deps)
    result = await evaluate(machine, 5000, deps)
    # THEN the machine lookup is not answered from the user's entry (projections differ)
    assert result.cache == "miss"
    assert len(source.calls) == 2


@pytest.mark.parametrize("policy", ["deny", "allow"])
async def test_trigger_unusable_event_follows_error_policy(policy: str) -> None:
    event = load_event("v2-authentication.json")
    event["request"]["scopes"] = "openid"
    result = await evaluate(event, 5000, _deps(FakeSource(), ON_ERROR=policy))
    assert result.reason == "bad_event"
    if policy == "deny":
        assert result.outcome == "denied"
    else:
        assert result.response == event


async def test_trigger_non_object_event_is_denied_even_when_allowing() -> None:
    result = await evaluate(["not", "an", "event"], 5000, _deps(FakeSource(), ON_ERROR="allow"))
    assert result.outcome == "denied"


async def test_trigger_logs_one_line_without_user_data() -> None:
    lines = Lines()
    deps = _deps(FakeSource(), lines)
    await process(load_event("v2-authentication.json"), 5000, deps, request_id="req-1")
    await process(load_event("v2-authentication.json"), 5000, deps, request_id="req-2")
    assert [line["cold_start"] for line in lines.lines] == [True, False]
    first = lines.lines[0]
    assert first["level"] == "INFO"
    assert first["function_request_id"] == "req-1"
    assert (first["outcome"], first["reason"], first["cache"], first["shape"]) == (
        "claims_added",
        "found",
        "off",
        "v2",
    )
    text = json.dumps(lines.lines)
    for secret in ("jane.doe", "Jane", "Doe", "a1b2c3d4", "readers"):
        assert secret not in text


async def test_trigger_log_level_warning_silences_info() -> None:
    lines = Lines()
    deps = _deps(FakeSource(), lines, LOG_LEVEL="WARNING")
    await process(load_event("v2-authentication.json"), 5000, deps)
    assert lines.lines == []


class CountingLoop(asyncio.SelectorEventLoop):
    """An event loop that counts how often it is asked to run something."""

    runs = 0

    def run_until_complete(self, future: Any) -> Any:
        self.runs += 1
        return super().run_until_complete(future)


def test_trigger_answer_serves_cache_hits_without_the_loop() -> None:
    source = FakeSource()
    deps = _deps(source, CACHE_TTL_SECONDS="60")
    loop = CountingLoop()
    try:
        event = load_event("v2-authentication.json")
        first = answer(event, 5000, deps, loop)
        assert loop.runs == 1
        # A fresh hit is answered synchronously: same answer, no store call, no loop run.
        assert answer(event, 5000, deps, loop) == first
        assert (len(source.calls), loop.runs) == (1, 1)
        # A miss does run on the loop.
        answer(load_event("v2-missing-user.json"), 5000, deps, loop)
        assert loop.runs == 2
    finally:
        loop.close()


async def test_trigger_missing_required_attribute_follows_on_missing() -> None:
    mapping = parse_mapping(
        b'[[user.claims]]\nattribute = "tenant"\ntokens = ["access"]\nrequired = true\n',
        source="m.toml",
        toml=True,
    )
    source = FakeSource()
    settings = make_settings()
    allow = build_deps(settings, source, mapping=mapping, logger=Logger("t", "INFO", Lines()))
    result = await evaluate(load_event("v2-authentication.json"), 5000, allow)
    assert (result.outcome, result.reason) == ("allowed_without_claims", "missing_required")
    deny = build_deps(make_settings(ON_MISSING="deny"), source, mapping=mapping)
    denied = await evaluate(load_event("v2-authentication.json"), 5000, deny)
    assert (denied.outcome, denied.denied_message) == ("denied", DENIED_NO_PROFILE)


async def test_trigger_logs_dropped_claim_names_never_values() -> None:
    lines = Lines()
    source = FakeSource({"USER#jane.doe": {"first_name": {"secret": "v4lue"}, "last_name": None}})
    mapping = parse_mapping(
        b'[[user.claims]]\nattribute = "first_name"\ntokens = ["id"]\ntype = "string"\n'
        b'[[user.claims]]\nattribute = "last_name"\ntokens = ["id"]\n',
        source="m.toml",
        toml=True,
    )
    deps = build_deps(make_settings(), source, mapping=mapping, logger=Logger("t", "INFO", lines))
    await process(load_event("v2-authentication.json"), 5000, deps)
    (line,) = lines.lines
    assert line["dropped_claims"] == [["first_name", "wrong_type"], ["last_name", "null"]]
    assert "v4lue" not in json.dumps(line)


async def test_trigger_emits_emf_metrics_without_user_data() -> None:
    lines = Lines()
    source = FakeSource()
    settings = make_settings(CACHE_TTL_SECONDS="60")
    logger = Logger("svc", "INFO", lines, metrics_namespace="CognitoPretoken")
    deps = build_deps(settings, source, logger=logger)
    event = load_event("v2-authentication.json")
    await process(event, 5000, deps)
    await process(event, 5000, deps)
    await process(load_event("v2-missing-user.json"), 5000, deps)
    source.error = StoreThrottled("throttled")
    with pytest.raises(SignInDenied):
        await process(load_event("v1-authentication.json") | {"userName": "other"}, 5000, deps)
    first, hit, missing, failed = lines.lines
    for record in lines.lines:
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "CognitoPretoken"
        assert directive["Dimensions"] == [["Service"]]
        assert record["Service"] == "svc"
        for metric in directive["Metrics"]:
            assert metric["Name"] in record
        assert record["Latency"] >= 0
    assert (first["ColdStart"], first["CacheMiss"], first["ClaimsAdded"]) == (1, 1, 1)
    assert (hit["ColdStart"], hit["CacheHit"], hit["CacheMiss"]) == (0, 1, 0)
    assert missing["ProfileMissing"] == 1
    assert (failed["StoreError"], failed["Denied"], failed["Error_throttled"]) == (1, 1, 1)
    text = json.dumps(lines.lines)
    for secret in ("jane.doe", "Jane", "a1b2c3d4", "readers"):
        assert secret not in text


async def test_trigger_counts_dropped_claims_by_reason() -> None:
    lines = Lines()
    source = FakeSource({"USER#jane.doe": {"first_name": None, "last_name": None}})
    logger = Logger("svc", "INFO", lines, metrics_namespace="NS")
    deps = build_deps(make_settings(), source, logger=logger)
    await process(load_event("v2-authentication.json"), 5000, deps)
    (record,) = lines.lines
    assert (record["ClaimsDropped"], record["Dropped_null"]) == (2, 2)
