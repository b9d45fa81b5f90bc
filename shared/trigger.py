"""The pipeline: event -> plan -> (cache | store) -> claims -> response -> log line.

`answer` is the one entry, synchronous, as the Lambda handler calls it; tests, bench, soak and
`make invoke` drive the same function (through `tools.container`). A fresh cache hit is answered
without touching the event loop; a lookup runs its async core (`_look_up`) on the loop the
dependencies were opened on, under the lookup deadline (the lookup timeout, cut to the
invocation's remaining time less a margin).

Decisions, each made in one place: user or machine client in `_plan` (the `Principal`);
`ON_MISSING` in `_on_missing`; `ON_ERROR` in `_on_error`. `SignInDenied`, with a fixed user-safe
message, is the only exception `answer` raises.
"""

import time
from collections.abc import Awaitable
from typing import Any, Final, Literal

import msgspec

from shared.claims import EMPTY_CLAIMS, ClaimSet, apply_mapping
from shared.deps import Deps, Principal
from shared.errors import (
    DENIED_NO_PROFILE,
    DENIED_UNAVAILABLE,
    EventError,
    PretokenError,
    SignInDenied,
    StoreError,
    StoreTimeout,
)
from shared.invocation import CacheResult, Invocation, Reason, log_invocation
from shared.item import Item
from shared.models import Event, JSONValue, decode_event
from shared.response import Shape, blank_response, build_response, choose_shape

__all__ = ("answer",)

_MS: Final = 1000.0


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A usable event, ready for its lookup: everything decided before any I/O."""

    event: dict[str, Any]
    decoded: Event
    principal: Principal
    shape: Shape
    key: str | None
    """The item's key; None when the event lacks what the key template needs."""


def answer(
    event: Any, deps: Deps, *, remaining_ms: int | None = None, request_id: str | None = None
) -> dict[str, JSONValue]:
    """Answer one pre token generation event and write its log line.

    Parameters
    ----------
    event
        The raw event as the Lambda runtime decoded it.
    deps
        The per-container dependencies; their loop must not be running.
    remaining_ms
        The invocation's remaining time, or None when unknown (tools).
    request_id
        The Lambda request id, for the log line.

    Raises
    ------
    SignInDenied
        The policy denies this sign-in; the message is a fixed user-safe string.
    """
    started = time.perf_counter()
    plan = _plan(event, deps)
    if isinstance(plan, Invocation):
        result = plan
    elif plan.key is None:
        result = _on_missing(plan, "no_key", "none", deps)
    else:
        key = plan.key
        result = _from_cache(plan, key, deps) or deps.loop.run_until_complete(
            _look_up(plan, key, remaining_ms, deps)
        )
    cold_start = deps.invocations == 0
    deps.invocations += 1
    log_invocation(
        result,
        deps.logger,
        latency_ms=round((time.perf_counter() - started) * _MS, 3),
        cold_start=cold_start,
        cache_on=deps.cache is not None,
        request_id=request_id,
    )
    if result.response is None:
        raise SignInDenied(result.denied_message or DENIED_UNAVAILABLE)
    return result.response


def _plan(event: Any, deps: Deps) -> _Plan | Invocation:
    """Decode the event, decide who it is for and build its key; an `Invocation` if that is all."""
    try:
        decoded = decode_event(event)
    except EventError as exc:
        return _on_error(event, None, error=exc, reason="bad_event", cache="none", deps=deps)
    principal = deps.client if decoded.is_machine_client else deps.user
    shape = choose_shape(decoded, deps.settings.response_format)
    key = principal.key.render(decoded)
    return _Plan(event=event, decoded=decoded, principal=principal, shape=shape, key=key)


def _from_cache(plan: _Plan, key: str, deps: Deps) -> Invocation | None:
    """Answer from a fresh cache entry without touching the event loop; None on a miss."""
    if deps.cache is None:
        return None
    hit = deps.cache.peek(plan.principal.cache_prefix + key)
    if hit is None:
        return None
    return _conclude(plan, hit.value, "hit", deps)


def _deadline_seconds(deps: Deps, remaining_ms: int | None) -> float:
    budget_ms = float(deps.settings.lookup_timeout_ms)
    if remaining_ms is not None:
        budget_ms = min(budget_ms, remaining_ms - deps.settings.deadline_margin_ms)
    return budget_ms / _MS


async def _look_up(plan: _Plan, key: str, remaining_ms: int | None, deps: Deps) -> Invocation:
    """Fetch the profile under the deadline (through the cache when on) and conclude."""
    timeout = _deadline_seconds(deps, remaining_ms)
    machine = plan.principal.machine

    def load() -> Awaitable[Item | None]:
        return deps.store.get(key, machine=machine, timeout=timeout)

    if timeout <= 0:

        async def expired() -> Item | None:
            raise StoreTimeout("no time left for the lookup before the invocation deadline")

        load = expired  # a fresh or a stale cache entry can still answer
    cache: CacheResult = "off" if deps.cache is None else "miss"
    try:
        if deps.cache is None:
            item = await load()
        else:
            result = await deps.cache.get(plan.principal.cache_prefix + key, load)
            item, cache = result.value, result.outcome
    except StoreError as exc:
        return _on_error(plan.event, plan, error=exc, reason="store_error", cache=cache, deps=deps)
    return _conclude(plan, item, cache, deps)


def _conclude(plan: _Plan, item: Item | None, cache: CacheResult, deps: Deps) -> Invocation:
    """Apply the principal's mapping to the item (None: no profile)."""
    if item is None:
        return _on_missing(plan, "missing", cache, deps)
    claims = apply_mapping(plan.principal.section, item, plan.decoded.client_id)
    if claims.missing_required is not None:
        # A profile without a required attribute is no usable profile: ON_MISSING decides.
        return _on_missing(plan, "missing_required", cache, deps)
    return Invocation(
        response=_respond(plan, claims),
        outcome="claims_added",
        reason="found",
        cache=cache,
        shape=plan.shape,
        dropped=claims.dropped,
    )


def _respond(plan: _Plan, claims: ClaimSet) -> dict[str, JSONValue]:
    """The event with only `response` replaced: fields we do not model pass through."""
    answer = dict(plan.event)
    answer["response"] = build_response(
        plan.decoded, claims, plan.shape, machine=plan.principal.machine
    )
    return answer


def _on_missing(plan: _Plan, reason: Reason, cache: CacheResult, deps: Deps) -> Invocation:
    """`ON_MISSING`: no profile (or no key, or a required attribute absent)."""
    if deps.settings.on_missing == "deny":
        return Invocation(
            response=None,
            outcome="denied",
            reason=reason,
            cache=cache,
            shape=plan.shape,
            denied_message=DENIED_NO_PROFILE,
        )
    return Invocation(
        response=_respond(plan, EMPTY_CLAIMS),
        outcome="allowed_without_claims",
        reason=reason,
        cache=cache,
        shape=plan.shape,
    )


def _on_error(
    event: Any,
    plan: _Plan | None,
    *,
    error: PretokenError,
    reason: Literal["bad_event", "store_error"],
    cache: CacheResult,
    deps: Deps,
) -> Invocation:
    """`ON_ERROR`: the store failed, or the event is unusable (no plan).

    Allow means "the tokens Cognito would issue without us": the answer carries no claim, scope
    or group change, and never echoes a `response` the event arrived with.
    """
    kind = error.kind if isinstance(error, StoreError) else "bad_event"
    shape = plan.shape if plan is not None else None
    if deps.settings.on_error == "allow" and isinstance(event, dict):
        if plan is not None:
            response = _respond(plan, EMPTY_CLAIMS)
        else:
            response = dict(event)
            response["response"] = blank_response(event, deps.settings.response_format)
        return Invocation(
            response=response,
            outcome="allowed_without_claims",
            reason=reason,
            cache=cache,
            shape=shape,
            error=str(error),
            error_kind=kind,
        )
    return Invocation(
        response=None,
        outcome="denied",
        reason=reason,
        cache=cache,
        shape=shape,
        error=str(error),
        error_kind=kind,
        denied_message=DENIED_UNAVAILABLE,
    )
