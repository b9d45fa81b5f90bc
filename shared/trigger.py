"""The async core: event -> key -> cache/store -> claims -> response, under a deadline and a policy.

Owns the per-container dependencies (`open_deps` / `Deps.aclose`), the lookup deadline (the lookup
timeout, cut to the invocation's remaining time less a margin), the `ON_MISSING` and `ON_ERROR`
policies, and the one log line (with its EMF metrics) per invocation. The steps are split so that
the handler answers a fresh cache hit synchronously (`plan`, `from_cache`, `report`) and runs the
event loop only for a lookup (`look_up`). `SignInDenied`, with a fixed user-safe message, is the
only exception it lets reach Cognito.
"""

import asyncio
import time
from collections.abc import Awaitable
from contextlib import AsyncExitStack
from typing import Any, Final, Literal, Protocol

import msgspec

from shared.cache import Clock, TTLCache
from shared.claims import DEFAULT_MAPPING, EMPTY_CLAIMS, ClaimSet, Mapping, apply_mapping
from shared.config import Settings
from shared.errors import (
    DENIED_NO_PROFILE,
    DENIED_UNAVAILABLE,
    EventError,
    SignInDenied,
    StoreError,
    StoreTimeout,
)
from shared.item import Item
from shared.keys import KeyBuilder, KeyTemplate
from shared.mapping import load_mapping
from shared.models import Event, JSONValue, decode_event
from shared.response import build_response, choose_shape
from shared.store import Store, open_client
from shared.telemetry import Logger

__all__ = (
    "Deps",
    "Invocation",
    "Outcome",
    "Plan",
    "ProfileSource",
    "answer",
    "build_deps",
    "conclude",
    "decide",
    "evaluate",
    "from_cache",
    "logger_for",
    "look_up",
    "mapping_for",
    "open_deps",
    "plan",
    "process",
    "report",
)

Outcome = Literal["claims_added", "allowed_without_claims", "denied"]
Reason = Literal["found", "missing", "missing_required", "no_key", "store_error", "bad_event"]
CacheResult = Literal["off", "hit", "miss", "shared", "stale", "none"]

_MS: Final = 1000.0


class ProfileSource(Protocol):
    """Where profile items come from: `shared.store.Store` in production, fakes in unit tests."""

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        """Return the item at `key` or None; raise `StoreError` within `timeout` seconds."""
        ...


class Deps:
    """Everything an invocation needs, built once per container by `open_deps`."""

    __slots__ = ("_stack", "cache", "invocations", "keys", "logger", "mapping", "settings", "store")

    def __init__(
        self,
        *,
        settings: Settings,
        keys: KeyBuilder,
        store: ProfileSource,
        cache: TTLCache[Item] | None,
        mapping: Mapping,
        logger: Logger,
        stack: AsyncExitStack | None = None,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.store = store
        self.cache = cache
        self.mapping = mapping
        self.logger = logger
        self.invocations = 0
        self._stack = stack or AsyncExitStack()

    async def aclose(self) -> None:
        """Close the DynamoDB client. Idempotent; the deps are unusable afterwards."""
        await self._stack.aclose()


def logger_for(settings: Settings) -> Logger:
    """The logger `settings` describe: level, service name, and EMF metrics when on."""
    return Logger(
        settings.service_name,
        settings.log_level,
        metrics_namespace=settings.metrics_namespace if settings.metrics else None,
    )


def mapping_for(settings: Settings) -> Mapping:
    """The claim mapping `settings` names (`CLAIMS_CONFIG`), or the built-in reference one.

    Raises
    ------
    ConfigError
        The mapping file is missing or invalid.
    """
    if settings.claims_config is None:
        return DEFAULT_MAPPING
    return load_mapping(settings.claims_config)


def build_deps(
    settings: Settings,
    store: ProfileSource,
    *,
    mapping: Mapping | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
    stack: AsyncExitStack | None = None,
) -> Deps:
    """Assemble the dependencies around a profile source (tests pass a fake one).

    `mapping` defaults to the one `settings` names (`CLAIMS_CONFIG`), else the built-in one.

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    mapping = mapping or mapping_for(settings)
    keys = KeyBuilder(
        KeyTemplate("USER_KEY", settings.user_key), KeyTemplate("CLIENT_KEY", settings.client_key)
    )
    cache: TTLCache[Item] | None = None
    if settings.cache_enabled:
        cache = TTLCache(
            ttl=settings.cache_ttl_seconds,
            max_entries=settings.cache_max_entries,
            negative_ttl=settings.cache_negative_ttl_seconds,
            stale_if_error=settings.cache_stale_if_error_seconds,
            clock=clock,
        )
    return Deps(
        settings=settings,
        keys=keys,
        store=store,
        cache=cache,
        mapping=mapping,
        logger=logger or logger_for(settings),
        stack=stack,
    )


async def open_deps(
    settings: Settings,
    *,
    mapping: Mapping | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
) -> Deps:
    """Build the per-container dependencies around one DynamoDB client, entered once.

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    mapping = mapping or mapping_for(settings)
    stack = AsyncExitStack()
    try:
        client = await open_client(settings, stack)
        store = Store(
            client,
            settings,
            user_attributes=mapping.user.attributes,
            client_attributes=mapping.client.attributes,
        )
        return build_deps(settings, store, mapping=mapping, clock=clock, logger=logger, stack=stack)
    except BaseException:
        await stack.aclose()
        raise


class Invocation(msgspec.Struct, frozen=True):
    """What one invocation decided, for the log line, metrics, tests and the bench.

    Parameters
    ----------
    response
        The event with `response` filled in; None when denied.
    outcome
        `claims_added`, `allowed_without_claims` or `denied`.
    reason
        Why: `found`, `missing`, `no_key`, `store_error`, `bad_event`.
    cache
        How the profile was obtained: `off` (no cache), `hit`, `miss`, `shared`, `stale`,
        `none` (no lookup).
    shape
        `v1` or `v2`, or None for an unusable event.
    error
        Operator detail of a store or event error (never shown to the user).
    error_kind
        Low-cardinality class of that error.
    dropped
        Claim or scope names not emitted, with the reason (names only, never values).
    denied_message
        The fixed user-safe message when denied.
    """

    response: dict[str, JSONValue] | None
    outcome: Outcome
    reason: Reason
    cache: CacheResult
    shape: str | None = None
    error: str | None = None
    error_kind: str | None = None
    dropped: tuple[tuple[str, str], ...] = ()
    denied_message: str | None = None


def _deadline_seconds(settings: Settings, remaining_ms: int | None) -> float:
    budget_ms = float(settings.lookup_timeout_ms)
    if remaining_ms is not None:
        budget_ms = min(budget_ms, remaining_ms - settings.deadline_margin_ms)
    return budget_ms / _MS


class Plan(msgspec.Struct, frozen=True):
    """A usable event, ready for its lookup.

    Parameters
    ----------
    event
        The raw event, returned with `response` replaced.
    decoded
        What the trigger reads from it.
    shape
        Response shape.
    key
        Lookup key.
    cache_key
        Key in the cache: user and machine items are projected differently, so they never share.
    """

    event: dict[str, Any]
    decoded: Event
    shape: Literal["v1", "v2"]
    key: str
    cache_key: str

    @property
    def machine(self) -> bool:
        """Whether this is a V3 machine-client request."""
        return self.decoded.is_machine_client


def _answer(
    event: dict[str, Any], decoded: Event, claims: ClaimSet, shape: Literal["v1", "v2"]
) -> dict[str, JSONValue]:
    answer = dict(event)
    answer["response"] = build_response(decoded, claims, shape)
    return answer


def _without_profile(
    event: dict[str, Any],
    decoded: Event,
    shape: Literal["v1", "v2"],
    reason: Reason,
    cache: CacheResult,
    *,
    settings: Settings,
) -> Invocation:
    if settings.on_missing == "deny":
        return Invocation(None, "denied", reason, cache, shape, denied_message=DENIED_NO_PROFILE)
    return Invocation(
        _answer(event, decoded, EMPTY_CLAIMS, shape), "allowed_without_claims", reason, cache, shape
    )


def plan(event: Any, deps: Deps) -> Plan | Invocation:
    """Decode the event and build its key; an `Invocation` when no lookup is needed."""
    settings = deps.settings
    try:
        decoded = decode_event(event)
    except EventError as exc:
        if settings.on_error == "allow" and isinstance(event, dict):
            # Nothing usable to build on: hand the event back untouched.
            return Invocation(
                event, "allowed_without_claims", "bad_event", "none", None, str(exc), "bad_event"
            )
        return Invocation(
            None, "denied", "bad_event", "none", None, str(exc), "bad_event",
            denied_message=DENIED_UNAVAILABLE,
        )  # fmt: skip
    shape = choose_shape(decoded, settings.response_format)
    key = deps.keys.build(decoded)
    if key is None:
        return _without_profile(event, decoded, shape, "no_key", "none", settings=settings)
    cache_key = ("c:" if decoded.is_machine_client else "u:") + key
    return Plan(event, decoded, shape, key, cache_key)


def conclude(plan: Plan, item: Item | None, cache: CacheResult, deps: Deps) -> Invocation:
    """Turn the looked-up item (None: no profile) into the answer, under `ON_MISSING`."""
    if item is None:
        return _without_profile(
            plan.event, plan.decoded, plan.shape, "missing", cache, settings=deps.settings
        )
    mapping = deps.mapping
    section = mapping.client if plan.machine else mapping.user
    claims = apply_mapping(section, item, plan.decoded.client_id)
    if claims.missing_required is not None:
        # A profile without a required attribute is no usable profile: ON_MISSING decides.
        return _without_profile(
            plan.event, plan.decoded, plan.shape, "missing_required", cache,
            settings=deps.settings,
        )  # fmt: skip
    return Invocation(
        _answer(plan.event, plan.decoded, claims, plan.shape), "claims_added", "found", cache,
        plan.shape, dropped=claims.dropped,
    )  # fmt: skip


def from_cache(plan: Plan, deps: Deps) -> Invocation | None:
    """Answer from a fresh cache entry without touching the event loop; None on a miss."""
    if deps.cache is None:
        return None
    hit = deps.cache.peek(plan.cache_key)
    if hit is None:
        return None
    return conclude(plan, hit.value, "hit", deps)


async def look_up(plan: Plan, remaining_ms: int | None, deps: Deps) -> Invocation:
    """Fetch the profile under the deadline (through the cache when on) and conclude.

    Store errors are settled here by `ON_ERROR`; only `asyncio.CancelledError` escapes.
    """
    settings = deps.settings
    timeout = _deadline_seconds(settings, remaining_ms)
    machine = plan.machine

    def load() -> Awaitable[Item | None]:
        return deps.store.get(plan.key, machine=machine, timeout=timeout)

    if timeout <= 0:

        async def expired() -> Item | None:
            raise StoreTimeout("no time left for the lookup before the invocation deadline")

        load = expired  # a fresh or a stale cache entry can still answer
    cache: CacheResult = "off" if deps.cache is None else "miss"
    try:
        if deps.cache is None:
            item = await load()
        else:
            result = await deps.cache.get(plan.cache_key, load)
            item, cache = result.value, result.outcome
    except StoreError as exc:
        if settings.on_error == "allow":
            return Invocation(
                _answer(plan.event, plan.decoded, EMPTY_CLAIMS, plan.shape),
                "allowed_without_claims", "store_error", cache, plan.shape, str(exc), exc.kind,
            )  # fmt: skip
        return Invocation(
            None, "denied", "store_error", cache, plan.shape, str(exc), exc.kind,
            denied_message=DENIED_UNAVAILABLE,
        )  # fmt: skip
    return conclude(plan, item, cache, deps)


async def evaluate(event: Any, remaining_ms: int | None, deps: Deps) -> Invocation:
    """Decide the answer for one event. Never raises except `asyncio.CancelledError`.

    Parameters
    ----------
    event
        The raw event as the Lambda runtime decoded it.
    remaining_ms
        The invocation's remaining time, or None when unknown (tests, tools).
    deps
        The per-container dependencies.
    """
    planned = plan(event, deps)
    if isinstance(planned, Invocation):
        return planned
    return from_cache(planned, deps) or await look_up(planned, remaining_ms, deps)


_MISSING_REASONS: Final = frozenset({"missing", "missing_required", "no_key"})


def _metrics(
    result: Invocation, latency_ms: float, cold_start: bool, deps: Deps
) -> dict[str, float]:
    metrics: dict[str, float] = {
        "Latency": latency_ms,
        "ColdStart": int(cold_start),
        "ClaimsAdded": int(result.outcome == "claims_added"),
        "Denied": int(result.outcome == "denied"),
        "ProfileMissing": int(result.reason in _MISSING_REASONS),
        "StoreError": int(result.reason == "store_error"),
        "ClaimsDropped": len(result.dropped),
    }
    if deps.cache is not None:
        metrics["CacheHit"] = int(result.cache == "hit")
        metrics["CacheMiss"] = int(result.cache in ("miss", "shared"))
        metrics["CacheStale"] = int(result.cache == "stale")
    if result.error_kind is not None:
        metrics["Error_" + result.error_kind] = 1
    for _, reason in result.dropped:
        name = "Dropped_" + reason
        metrics[name] = metrics.get(name, 0) + 1
    return metrics


def report(
    result: Invocation, deps: Deps, started: float, request_id: str | None
) -> dict[str, JSONValue]:
    """Write the invocation's log line and return its answer.

    Parameters
    ----------
    result
        What `evaluate` decided.
    deps
        The per-container dependencies.
    started
        `time.perf_counter()` when the invocation began.
    request_id
        The Lambda request id, for the log line.

    Raises
    ------
    SignInDenied
        The policy denies this sign-in; the message is a fixed user-safe string.
    """
    cold_start = deps.invocations == 0
    deps.invocations += 1
    logger = deps.logger
    level = "INFO" if result.error is None else "WARNING"
    latency_ms = round((time.perf_counter() - started) * _MS, 3)
    fields: dict[str, object] | None = None
    if logger.enabled(level):
        fields = {
            "cold_start": cold_start,
            "function_request_id": request_id,
            "outcome": result.outcome,
            "reason": result.reason,
            "cache": result.cache,
            "shape": result.shape,
            "latency_ms": latency_ms,
        }
        if result.error is not None:
            fields["error_kind"] = result.error_kind
            fields["error"] = result.error
        if result.dropped:
            # Claim names and reasons only: a dropped value is never logged.
            fields["dropped_claims"] = [list(pair) for pair in result.dropped]
    metrics = _metrics(result, latency_ms, cold_start, deps) if logger.metrics_on else None
    logger.log(level, "pretoken", fields, metrics)
    if result.response is None:
        raise SignInDenied(result.denied_message or DENIED_UNAVAILABLE)
    return result.response


def decide(
    event: Any, remaining_ms: int | None, deps: Deps, loop: asyncio.AbstractEventLoop
) -> Invocation:
    """`evaluate` from synchronous code: a fresh cache hit never touches `loop`.

    `loop` must be the one `deps` was opened on, and not running.
    """
    result = plan(event, deps)
    if isinstance(result, Invocation):
        return result
    return from_cache(result, deps) or loop.run_until_complete(look_up(result, remaining_ms, deps))


def answer(
    event: Any,
    remaining_ms: int | None,
    deps: Deps,
    loop: asyncio.AbstractEventLoop,
    *,
    request_id: str | None = None,
) -> dict[str, JSONValue]:
    """Answer one event from synchronous code, as the Lambda handler does: `decide`, `report`.

    Raises
    ------
    SignInDenied
        The policy denies this sign-in; the message is a fixed user-safe string.
    """
    started = time.perf_counter()
    return report(decide(event, remaining_ms, deps, loop), deps, started, request_id)


async def process(
    event: Any, remaining_ms: int | None, deps: Deps, *, request_id: str | None = None
) -> dict[str, JSONValue]:
    """Answer one event on a running loop: `evaluate`, then `report`.

    Raises
    ------
    SignInDenied
        The policy denies this sign-in; the message is a fixed user-safe string.
    """
    started = time.perf_counter()
    return report(await evaluate(event, remaining_ms, deps), deps, started, request_id)
