"""Faults against the budget: a loopback proxy injects latency, stalls, throttling, 5xx and resets.

For each `ON_ERROR` policy and cache setting (off; on with every entry expired but inside
`CACHE_STALE_IF_ERROR_SECONDS`), sign-ins run through the proxy and every outcome is counted. The
harness asserts no invocation ran past its lookup deadline plus a margin, and none came near 5 s.
"""

import os
import random
import sys
import time
from typing import Any

from bench.population import Population
from bench.report import Progress
from bench.stats import summarize
from shared.config import load_settings
from tools.container import Container
from tools.http_fault_proxy import proxy_process, read_counts, set_rates

__all__ = ("LOOKUP_TIMEOUT_MS", "MARGIN_MS", "RATES", "run")

LOOKUP_TIMEOUT_MS = 300
"""Shorter than the 1500 ms default so a stall costs the bench little; the bound is the same."""
MARGIN_MS = 50.0
RATES = {
    "latency": 0.20,
    "latency_median_ms": 15.0,
    "latency_sigma": 1.0,
    "stall": 0.03,
    "stall_seconds": 6.0,
    "throttle": 0.05,
    "error5xx": 0.03,
    "reset": 0.02,
}
_CONFIGS = (
    ("deny", False),
    ("allow", False),
    ("deny", True),
    ("allow", True),
)


def run(
    env: dict[str, str], upstream: str, population: Population, per_config: int, progress: Progress
) -> dict[str, Any]:
    """Run `per_config` sign-ins for each policy and cache setting through the fault proxy."""
    users = population.names[:100]
    results: dict[str, Any] = {
        "lookup_timeout_ms": LOOKUP_TIMEOUT_MS,
        "margin_ms": MARGIN_MS,
        "rates": RATES,
        "configs": {},
    }
    violations: list[str] = []
    with proxy_process(upstream, seed=11) as proxy:
        for policy, cached in _CONFIGS:
            name = f"ON_ERROR={policy}, cache {'on+stale' if cached else 'off'}"
            settings = load_settings(
                {
                    **env,
                    "AWS_ENDPOINT_URL_DYNAMODB": proxy,
                    "ON_ERROR": policy,
                    "LOOKUP_TIMEOUT_MS": str(LOOKUP_TIMEOUT_MS),
                    **(
                        {"CACHE_TTL_SECONDS": "0.001", "CACHE_STALE_IF_ERROR_SECONDS": "600"}
                        if cached
                        else {}
                    ),
                }
            )
            container = Container(settings)
            set_rates(proxy, {})
            if cached:
                for user in users:  # every entry is in the cache, and expires at once
                    container.call(population.event(user))
            injected_before = read_counts(proxy)
            set_rates(proxy, RATES)
            draw = random.Random(policy + str(cached)).choice
            outcomes = {
                "claims_added": 0,
                "allowed_without_claims": 0,
                "denied": 0,
                "served_stale": 0,
            }
            latencies = []
            saved, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 (closed below)
            try:
                for _ in range(per_config):
                    event = population.event(draw(users))
                    started = time.perf_counter()
                    result = container.call(event)
                    latencies.append(time.perf_counter() - started)
                    outcomes[result.log["outcome"]] += 1
                    outcomes["served_stale"] += result.log["cache"] == "stale"
            finally:
                sys.stdout.close()
                sys.stdout = saved
            set_rates(proxy, {})
            injected_after = read_counts(proxy)
            container.close()
            summary = summarize(latencies)
            results["configs"][name] = {
                "summary": summary,
                "outcomes": outcomes,
                "injected": {
                    k: injected_after[k] - injected_before.get(k, 0) for k in injected_after
                },
                "over_deadline_plus_margin": sum(
                    1 for s in latencies if s * 1000 > LOOKUP_TIMEOUT_MS + MARGIN_MS
                ),
                "at_or_over_4000_ms": sum(1 for s in latencies if s >= 4.0),
            }
            if summary["max_ms"] > LOOKUP_TIMEOUT_MS + MARGIN_MS:
                violations.append(f"{name}: max {summary['max_ms']:.1f} ms past deadline + margin")
            if summary["max_ms"] >= 4000:
                violations.append(f"{name}: an invocation came near Cognito's 5 s")
            progress.step(f"faults: {name}")
    results["violations"] = violations
    return results
