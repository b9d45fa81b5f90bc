"""What one invocation decided (`Invocation`), and its one log line with EMF metrics.

The pipeline (`shared.trigger`) settles every event into an `Invocation`; `log_invocation` writes
the single JSON line for it (Powertools keys, low-cardinality facts only) with CloudWatch EMF
metrics in the same line. The line is bounded: lists are capped and operator detail is cut, so
no event can make it large; dropped claims appear by name (or position) and reason, never with
a value, and an explained invocation's trace (`EXPLAIN_*`) by position and code, capped too.
With a token budget on, each budgeted token's estimated size is a `TokenBytes` metric per
`Token` (metrics-only lines before the invocation's). Pure but for the logger it is given.
"""

from typing import Final, Literal

import msgspec

from shared.lookup import CacheResult
from shared.telemetry import DimensionValues, Logger
from shared.values import JSONValue

__all__ = (
    "MAX_EXPLAIN_CHARS",
    "MAX_EXPLAIN_ENTRIES",
    "Invocation",
    "Outcome",
    "Reason",
    "log_invocation",
)

Outcome = Literal["claims_added", "allowed_without_claims", "denied"]
"""What the invocation decided about the tokens."""
Reason = Literal[
    "found", "missing", "missing_required", "no_key", "store_error", "bad_event", "grant_denied"
]

MAX_LOGGED_DROPS: Final = 20
"""Dropped claims named in one log line; the rest are counted (`dropped_total`)."""
MAX_ERROR_CHARS: Final = 300
"""Operator detail kept in one log line."""
MAX_NAME_CHARS: Final = 128
"""Characters of one dropped claim's name kept in the log line."""
MAX_EXPLAIN_ENTRIES: Final = 64
"""Entries of an explained invocation's trace in its log line; the rest are counted
(`explain_total`)."""
MAX_EXPLAIN_CHARS: Final = 160
"""Characters of one trace entry (`user.grants[2]=not_held:groups_any`) kept in the log line."""
_MISSING_REASONS: Final = frozenset({"missing", "missing_required", "no_key"})


class Invocation(msgspec.Struct, frozen=True, kw_only=True):
    """What one invocation decided, for the answer, the log line and its metrics.

    Parameters
    ----------
    response
        The event with `response` filled in; None when denied.
    outcome
        `claims_added`, `allowed_without_claims` or `denied`.
    reason
        Why: `found`, `missing`, `missing_required`, `no_key`, `store_error`, `bad_event`.
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
        Claim or scope names (or positions) not emitted, with the reason; never values.
    denied_message
        The fixed user-safe message when denied.
    denied_by
        The position of the grant that denied (`user.grants[2]`), never a value.
    metadata_ignored
        Allowlisted `clientMetadata` values ignored (not a string, or too long).
    token_bytes
        Each budgeted token's estimated size, `(("id", 1834),)`; None with the budgets off.
    over_budget
        The budgeted tokens that do not fit even with every sheddable claim shed.
    explain
        The mapping's trace when this invocation was explained (`EXPLAIN_*`): `(position,
        code)` pairs, never a value; None when it was not.
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
    denied_by: str | None = None
    metadata_ignored: int = 0
    token_bytes: DimensionValues | None = None
    over_budget: tuple[str, ...] = ()
    explain: tuple[tuple[str, str], ...] | None = None


def _metrics(
    result: Invocation, latency_ms: float, cold_start: bool, cache_on: bool
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
    if cache_on:
        metrics["CacheHit"] = int(result.cache == "hit")
        metrics["CacheMiss"] = int(result.cache in ("miss", "shared"))
        metrics["CacheStale"] = int(result.cache == "stale")
    if result.error_kind is not None:
        metrics["Error_" + result.error_kind] = 1
    if result.denied_by is not None:
        metrics["GrantDenied"] = 1
    if result.metadata_ignored:
        metrics["MetadataIgnored"] = result.metadata_ignored
    if result.over_budget:
        metrics["TokenOverBudget"] = len(result.over_budget)
    for _, reason in result.dropped:
        name = "Dropped_" + reason
        metrics[name] = metrics.get(name, 0) + 1
    return metrics


def _dropped(dropped: tuple[tuple[str, str], ...]) -> dict[str, object]:
    """The dropped claims' fields in the log line: `[name, reason]` pairs, capped and cut."""
    named = [[name[:MAX_NAME_CHARS], reason] for name, reason in dropped[:MAX_LOGGED_DROPS]]
    if len(dropped) > MAX_LOGGED_DROPS:
        return {"dropped_claims": named, "dropped_total": len(dropped)}
    return {"dropped_claims": named}


def _explained(trace: tuple[tuple[str, str], ...]) -> dict[str, object]:
    """The trace's fields in the log line: `position=code` entries, capped and cut."""
    entries = [f"{at}={code}"[:MAX_EXPLAIN_CHARS] for at, code in trace[:MAX_EXPLAIN_ENTRIES]]
    if len(trace) > MAX_EXPLAIN_ENTRIES:
        return {"explain": entries, "explain_total": len(trace)}
    return {"explain": entries}


def log_invocation(
    result: Invocation,
    logger: Logger,
    *,
    latency_ms: float,
    cold_start: bool,
    cache_on: bool,
    request_id: str | None,
) -> None:
    """Write the invocation's one line: INFO, or WARNING when an error was met.

    Parameters
    ----------
    result
        What the pipeline decided.
    logger
        Where the line goes.
    latency_ms
        Time from the event's arrival to its answer.
    cold_start
        Whether this is the container's first invocation.
    cache_on
        Whether the cache metrics apply.
    request_id
        The Lambda request id.
    """
    level = "INFO" if result.error is None else "WARNING"
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
        if result.denied_by is not None:
            fields["denied_by"] = result.denied_by  # a grant's position in the mapping file
        if result.metadata_ignored:
            fields["metadata_ignored"] = result.metadata_ignored
        if result.over_budget:  # each token's size is its own metrics line (`TokenBytes`)
            fields["over_budget"] = list(result.over_budget)
        if result.error is not None:
            fields["error_kind"] = result.error_kind
            fields["error"] = result.error[:MAX_ERROR_CHARS]
        if result.dropped:
            fields.update(_dropped(result.dropped))
        if result.explain is not None:
            fields.update(_explained(result.explain))
    metrics = _metrics(result, latency_ms, cold_start, cache_on) if logger.metrics_on else None
    sizes = result.token_bytes
    # `TokenBytes` per `Token`: metrics-only lines, before the invocation's, in its write
    by_token = ("TokenBytes", "Token", sizes) if sizes else None
    logger.log(level, "pretoken", fields, metrics, by_dimension=by_token)
