"""Heavy sign-in load: K containers (processes) in parallel over a Zipf-distributed population."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import Progress

__all__ = ("run",)

ROOT = Path(__file__).resolve().parents[1]


def run(
    env: dict[str, str], containers: int, size: int, sign_ins: int, reads_before: int | None,
    read_counter: Any, progress: Progress, *, tenants: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run `sign_ins` sign-ins split over `containers` processes; report the cost and the tail.

    `tenants`: the users are `bench.population.ModelPopulation`'s, across that many tenants
    (the environment names the data model's mapping and store); else `Population`'s.
    """
    model = () if tenants is None else ("model", str(tenants))
    child_env = {**os.environ, **env, "CACHE_TTL_SECONDS": env.get("CACHE_TTL_SECONDS", "60")}
    share = sign_ins // containers
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.load_child",
                str(size),
                str(share),
                str(100 + index),
                *model,
            ],
            cwd=ROOT,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(containers)
    ]
    reports = []
    for child in children:
        stdout, stderr = child.communicate(timeout=600)
        if child.returncode != 0:
            raise RuntimeError(f"load container failed:\n{stderr[-2000:]}")
        line = next(x for x in reversed(stdout.splitlines()) if x.startswith("BENCH "))
        reports.append(json.loads(line.removeprefix("BENCH ")))
        progress.step("load: container done")
    wall = time.perf_counter() - started
    total = share * containers
    hits = sum(r["hits"] for r in reports)
    loads = sum(r["loads"] for r in reports)
    reads = None if reads_before is None else read_counter() - reads_before
    busiest = max(r["busy_seconds"] for r in reports)
    return {
        "containers": containers,
        "population": size,
        "sign_ins": total,
        "cache_ttl_seconds": float(child_env["CACHE_TTL_SECONDS"]),
        "throughput_per_second": total / busiest,
        "wall_seconds_with_cold_starts": wall,
        "p99_ms_worst_container": max(r["summary"]["p99_ms"] for r in reports),
        "p50_ms_median_container": sorted(r["summary"]["p50_ms"] for r in reports)[
            len(reports) // 2
        ],
        "max_ms": max(r["summary"]["max_ms"] for r in reports),
        "cache_hit_ratio": hits / max(1, hits + loads),
        "dynamodb_reads_per_sign_in": (reads if reads is not None else loads) / total,
        "dynamodb_reads_counted_at": "server" if reads is not None else "client (cache loads)",
        "cache_loads_per_sign_in_second_half": sum(r["second_half_loads"] for r in reports)
        / max(1, sum(r["second_half_count"] for r in reports)),
        "peak_rss_mb_per_container": [r["peak_rss_mb"] for r in reports],
        "containers_detail": reports,
    }
