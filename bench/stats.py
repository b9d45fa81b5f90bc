"""Percentiles and summaries, in milliseconds, with Cognito's 5000 ms budget alongside."""

import statistics
from collections.abc import Sequence

__all__ = ("BUDGET_MS", "percentile", "summarize")

BUDGET_MS = 5000.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (any order)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean in ms, and p99 and max as fractions of the 5 s budget."""
    ms = [s * 1000 for s in seconds]
    summary = {
        "count": float(len(ms)),
        "p50_ms": percentile(ms, 0.50),
        "p90_ms": percentile(ms, 0.90),
        "p99_ms": percentile(ms, 0.99),
        "p99_9_ms": percentile(ms, 0.999),
        "max_ms": max(ms) if ms else float("nan"),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
    }
    summary["p99_budget"] = summary["p99_ms"] / BUDGET_MS
    summary["max_budget"] = summary["max_ms"] / BUDGET_MS
    return summary
