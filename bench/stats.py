"""Percentiles and summaries, in milliseconds, with Cognito's 5000 ms budget alongside."""

import random
import statistics
from collections.abc import Sequence

__all__ = ("BUDGET_MS", "percentile", "ratio_interval", "summarize")

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


def ratio_interval(
    numerator: Sequence[float],
    denominator: Sequence[float],
    fraction: float,
    *,
    seed: int,
    resamples: int = 200,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """The `confidence` interval of percentile(numerator) / percentile(denominator).

    A paired bootstrap: the two sequences are one value per round each (`time_rounds`), and
    each resample draws rounds with replacement, both values of a round together, so what
    the machine did in a round weighs on both sides alike.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError("one value per round on each side")
    rng = random.Random(seed)
    rounds = range(len(numerator))
    ratios = []
    for _ in range(resamples):
        picked = rng.choices(rounds, k=len(numerator))
        top = percentile([numerator[i] for i in picked], fraction)
        bottom = percentile([denominator[i] for i in picked], fraction)
        ratios.append(top / bottom)
    tail = (1 - confidence) / 2
    return percentile(ratios, tail), percentile(ratios, 1 - tail)
