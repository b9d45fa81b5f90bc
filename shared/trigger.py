"""The pipeline: event -> plan -> (cache | store) -> claims -> response -> log line.

`answer` is the one entry, synchronous, as the Lambda handler calls it; tests, bench, soak and
`make invoke` drive the same function (through `tools.container`). A fresh cache hit, and a
principal whose mapping reads no item (the event alone), are answered without touching the
event loop; a lookup runs its async core (`_look_up`) on the loop the
dependencies were opened on, under the lookup deadline (the lookup timeout, cut to the
invocation's remaining time less a margin).

Decisions, each made in one place: user or machine client by `Deps.principal` (in `_plan`);
`ON_MISSING` in `_on_missing`; `ON_ERROR` in `_on_error`; the mapping, its conditions and
grants by `shared.claims.engine` (in `_conclude`), and a `deny` grant that reads no item also
where tokens are issued without one (`_item_free_denial`); the token budgets by the container's
`shared.tokens.Fitter` wherever tokens are issued (`_fitted`); whether a sign-in is the same as
the user's last on the same items, so its claims are issued again, by the container's
`shared.answer_memo.AnswerMemo` (in `_conclude`). `SignInDenied`, with a fixed
user-safe message, is the only exception `answer` raises.
"""

import time
from typing import Any, Final, Literal

import msgspec

from shared.claims import EMPTY_CLAIMS, ClaimSet, Denial, Trace, apply, denial
from shared.deps import Deps, Principal
from shared.errors import (
    DENIED_NO_PROFILE,
    DENIED_UNAVAILABLE,
    EventError,
    PretokenError,
    SignInDenied,
    StoreError,
)
from shared.event import Event, decode_event
from shared.invocation import Invocation, Reason, log_invocation
from shared.lookup import CacheResult, Profile, Reads, peek, read, read_metadata, render
from shared.response import Shape, blank_response, build_response, choose_shape
from shared.tokens import IssuedClaims
from shared.values import Item, JSONValue

__all__ = ("answer",)

_MS: Final = 1000.0
_EVENT_ONLY: Final = Profile(primary={}, sources={}, cache="none")
"""The profile of a mapping that reads the event alone: no item, always the same (one object,
so a repeated sign-in is the same answer to `shared.answer_memo`)."""


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A usable event, ready for its lookup: everything decided before any I/O."""

    event: dict[str, Any]
    decoded: Event
    principal: Principal
    shape: Shape
    reads: Reads | None
    """What to read; None when the event lacks what the primary key needs, or when the
    principal has no lookup (it reads no item, or no key can be built for it)."""
    metadata: tuple[dict[str, str], int]
    """The allowlisted `clientMetadata` values, and how many were ignored."""
    trace: Trace | None = None
    """Where the mapping's trace goes when this invocation is explained; None: it is not."""


def answer(
    event: Any,
    deps: Deps,
    *,
    remaining_ms: int | None = None,
    request_id: str | None = None,
    trace: Trace | None = None,
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
    trace
        Explain this invocation into this list, whatever `EXPLAIN_*` say (tools); the log line
        carries it too. None: explained only when `EXPLAIN_CLIENTS` / `EXPLAIN_SAMPLE` say so.

    Raises
    ------
    SignInDenied
        The policy denies this sign-in; the message is a fixed user-safe string.
    """
    started = time.perf_counter()
    plan = _plan(event, deps, trace)
    if isinstance(plan, Invocation):
        result = plan
    elif not plan.principal.section.reads_items:
        # The mapping reads the event alone: nothing to read, no loop, no profile to miss.
        result = _conclude(plan, _EVENT_ONLY, deps)
    elif plan.reads is None:
        result = _on_missing(plan, "no_key", "none", deps)
    else:
        cached = peek(plan.reads, deps.cache)
        if cached is not None:
            result = _conclude(plan, cached, deps)
        else:
            result = deps.loop.run_until_complete(_look_up(plan, plan.reads, remaining_ms, deps))
    if not isinstance(plan, Invocation) and plan.trace is not None:
        result = msgspec.structs.replace(result, explain=tuple(plan.trace))
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


def _plan(event: Any, deps: Deps, trace: Trace | None) -> _Plan | Invocation:
    """Decode the event, decide who it is for and what to read; an `Invocation` if that is all."""
    try:
        decoded = decode_event(event)
    except EventError as exc:
        return _on_error(event, None, error=exc, reason="bad_event", cache="none", deps=deps)
    principal = deps.principal(decoded)
    shape = choose_shape(decoded, deps.settings.response_format)
    metadata = read_metadata(decoded, principal.metadata_keys)
    lookup = principal.lookup
    reads = render(lookup, decoded, metadata[0] or None) if lookup is not None else None
    if trace is None and deps.explaining and deps.explains(decoded):
        trace = []
    return _Plan(
        event=event,
        decoded=decoded,
        principal=principal,
        shape=shape,
        reads=reads,
        metadata=metadata,
        trace=trace,
    )


def _deadline_seconds(deps: Deps, remaining_ms: int | None) -> float:
    budget_ms = float(deps.settings.lookup_timeout_ms)
    if remaining_ms is not None:
        budget_ms = min(budget_ms, remaining_ms - deps.settings.deadline_margin_ms)
    return budget_ms / _MS


async def _look_up(plan: _Plan, reads: Reads, remaining_ms: int | None, deps: Deps) -> Invocation:
    """Read the profile under the deadline (through the cache when on) and conclude.

    With no time left, only the cache can answer (a stale entry, when the store is failing).
    """
    timeout = max(_deadline_seconds(deps, remaining_ms), 0.0)
    try:
        profile = await read(reads, deps.store, deps.cache, timeout=timeout)
    except StoreError as exc:
        cache: CacheResult = "off" if deps.cache is None else "miss"
        return _on_error(plan.event, plan, error=exc, reason="store_error", cache=cache, deps=deps)
    return _conclude(plan, profile, deps)


def _conclude(plan: _Plan, profile: Profile, deps: Deps) -> Invocation:
    """Apply the principal's mapping and grants to what was read (no primary: no profile).

    The same sign-in again on the same items is answered with the claims it was issued before
    (`deps.answers`), unless it is explained: the mapping and the token estimates are skipped.
    """
    item = profile.primary
    if item is None:
        return _on_missing(plan, "missing", profile.cache, deps)
    section = plan.principal.section
    memo = deps.answers if plan.trace is None else None
    made = None
    if memo is not None:
        recalled, made = memo.recall(plan.event, plan.decoded, section, profile)
        if recalled is not None:
            return _issued(plan, *recalled, reason="found", cache=profile.cache)
    claims = apply(
        section,
        plan.decoded,
        item,
        sources=profile.sources,
        metadata=plan.metadata,
        budget=deps.settings.claims_budget_bytes,
    )
    if plan.trace is not None:
        from shared.claims import explain_apply  # noqa: PLC0415 (explained invocations only)

        explain_apply(
            plan.trace, section, plan.decoded, item, sources=profile.sources,
            metadata=plan.metadata, budget=deps.settings.claims_budget_bytes, result=claims,
        )  # fmt: skip
    if isinstance(claims, Denial):
        # Before `required`: a deny grant reading the item fires whatever else it lacks.
        return _denied_by(plan, claims, profile.cache)
    if claims.missing_required is not None:
        # A profile without a required attribute is no usable profile: ON_MISSING decides.
        return _on_missing(plan, "missing_required", profile.cache, deps)
    response, issued = _fitted(plan, claims, deps)
    if made is not None and memo is not None:
        memo.remember(made, response, issued)
    return _issued(plan, response, issued, reason="found", cache=profile.cache)


def _denied_by(
    plan: _Plan, denied: Denial, cache: CacheResult, error: PretokenError | None = None
) -> Invocation:
    """A grant denied: the fixed message of `ON_MISSING=deny`; the log names the grant only."""
    return Invocation(
        response=None,
        outcome="denied",
        reason="grant_denied",
        cache=cache,
        shape=plan.shape,
        error=str(error) if error is not None else None,
        error_kind=error.kind if isinstance(error, StoreError) else None,
        denied_message=DENIED_NO_PROFILE,
        denied_by=denied.grant,
        metadata_ignored=plan.metadata[1],
    )


def _item_free_denial(
    plan: _Plan,
    cache: CacheResult,
    error: PretokenError | None = None,
    item: Item | None = None,
) -> Invocation | None:
    """Without a usable profile, a `deny` grant still denies on whatever was read.

    Tokens issued without store claims (`ON_MISSING=allow`, `ON_ERROR=allow`) must not slip
    past a deny rule on the client, trigger source, groups, scopes or `clientMetadata`, nor,
    when the primary item was read before another read failed (`item`), on the item.
    """
    found = denial(plan.principal.section, plan.decoded, item, metadata=plan.metadata)
    if plan.trace is not None:
        from shared.claims import explain_denial  # noqa: PLC0415 (explained invocations only)

        explain_denial(
            plan.trace, plan.principal.section, plan.decoded, item, metadata=plan.metadata,
            found=found,
        )  # fmt: skip
    if found is None:
        return None
    return _denied_by(plan, found, cache, error)


def _fitted(plan: _Plan, claims: ClaimSet, deps: Deps) -> tuple[dict[str, JSONValue], IssuedClaims]:
    """The `response` for `claims`, each token with a budget fitted to it first (none: no
    work), and the claims it issues."""
    machine = plan.principal.machine
    if deps.fitter is None:
        return build_response(plan.decoded, claims, plan.shape, machine=machine), IssuedClaims(
            claims
        )
    fitted = deps.fitter.fit(
        plan.event, plan.decoded, claims, plan.principal.section, shape=plan.shape, machine=machine
    )
    return fitted.response, IssuedClaims(fitted.claims, fitted.token_bytes, fitted.over_budget)


def _issued(
    plan: _Plan,
    response: dict[str, JSONValue],
    issued: IssuedClaims,
    *,
    reason: Reason,
    cache: CacheResult,
    error: PretokenError | None = None,
) -> Invocation:
    """Tokens issued with `response`: the event with only `response` replaced (fields we do not
    model pass through); claims were added only when the mapping gave them (`found`)."""
    answer = dict(plan.event)
    answer["response"] = response
    return Invocation(
        response=answer,
        outcome="claims_added" if reason == "found" else "allowed_without_claims",
        reason=reason,
        cache=cache,
        shape=plan.shape,
        error=str(error) if error is not None else None,
        error_kind=(error.kind if isinstance(error, StoreError) else "bad_event")
        if error
        else None,
        dropped=issued.claims.dropped,
        metadata_ignored=plan.metadata[1],
        token_bytes=issued.token_bytes,
        over_budget=issued.over_budget,
    )


def _without_claims(
    plan: _Plan,
    deps: Deps,
    *,
    reason: Reason,
    cache: CacheResult,
    error: PretokenError | None = None,
) -> Invocation:
    """Tokens issued without store claims (`ON_MISSING=allow`, `ON_ERROR=allow`)."""
    response, issued = _fitted(plan, EMPTY_CLAIMS, deps)
    return _issued(plan, response, issued, reason=reason, cache=cache, error=error)


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
            metadata_ignored=plan.metadata[1],
        )
    if denied := _item_free_denial(plan, cache):
        return denied
    return _without_claims(plan, deps, reason=reason, cache=cache)


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
    ignored = plan.metadata[1] if plan is not None else 0
    if deps.settings.on_error == "allow" and isinstance(event, dict):
        if plan is not None:
            item = error.primary if isinstance(error, StoreError) else None
            if denied := _item_free_denial(plan, cache, error, item):
                return denied
            return _without_claims(plan, deps, reason=reason, cache=cache, error=error)
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
            metadata_ignored=ignored,
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
        metadata_ignored=ignored,
    )
