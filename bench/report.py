"""Progress, terminal tables, the JSON results file and the latency plot."""

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import percentile

__all__ = ("RESULTS", "RUNS", "Progress", "plot_cdf", "table", "write_json")

RESULTS = Path(__file__).resolve().parent / "results"
"""Where the committed reference lives (`reference.json`, `reference-cdf.png`)."""
RUNS = RESULTS / "runs"
"""Where every run writes (git ignores it): `bench-<time>.json`, `latest.json`, the plot."""


class Progress:
    """A one-line progress bar on standard error (a plain line per step when not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.started = time.monotonic()
        self._tty = sys.stderr.isatty()

    def step(self, label: str, amount: int = 1) -> None:
        self.done = min(self.total, self.done + amount)
        width = 30
        filled = int(width * self.done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {100 * self.done / self.total:3.0f}% "
            f"{time.monotonic() - self.started:5.1f}s {label}"
        )
        if self._tty:
            sys.stderr.write("\r" + line.ljust(100)[:100])
            if self.done >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            if abs(value) < 0.1:
                return f"{value:.4f}"
            return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(header)]
    lines = [f"\n{title}", "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return "\n".join(lines)


def write_json(results: dict[str, Any], *, reference: bool = False) -> Path:
    """Write results to `runs/bench-<time>.json` and `runs/latest.json`; return the first.

    With `reference`, also to the committed `reference.json` (`make bench-reference` only).
    """
    RUNS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RUNS / f"bench-{stamp}.json"
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    (RUNS / "latest.json").write_text(text)
    if reference:
        (RESULTS / "reference.json").write_text(text)
    return path


def plot_cdf(series: dict[str, Sequence[float]], path: Path, title: str) -> Path:
    """Latency CDFs (milliseconds, log x axis), one line per series, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5))
    for name, seconds in series.items():
        ms = sorted(s * 1000 for s in seconds)
        if not ms:
            continue
        fractions = [(i + 1) / len(ms) for i in range(len(ms))]
        axes.plot(ms, fractions, label=f"{name} (p99 {percentile(ms, 0.99):.2f} ms)")
    axes.set_xscale("log")
    axes.set_xlabel("latency per invocation (ms, log scale)")
    axes.set_ylabel("fraction of invocations")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
