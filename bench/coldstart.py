"""Cold start: fresh processes doing import, init and a first invocation, in shuffled rounds."""

import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.report import Progress
from bench.stats import percentile
from bench.variants import VARIANTS

__all__ = ("SEED", "TRUST_VARIABLES", "VARIANTS", "child_environment", "import_profile", "run")

ROOT = Path(__file__).resolve().parents[1]
_PHASES = ("import_ms", "init_ms", "first_call_ms", "process_ms")
SEED = 10
"""Seeds the per-round order of the variants."""
TRUST_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "AWS_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
"""Where a machine may point TLS clients at its roots; Lambda sets none. Only a mode's own
`AWS_CA_BUNDLE` (the TLS mode's throwaway CA) reaches a contender."""


def _start(
    variant: str, event: dict[str, Any], env: dict[str, str], *flags: str
) -> tuple[float, str, str]:
    # Bytecode is cached as a deployment package ships it: the warm-up must be able to write it.
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, "-m", "bench.coldstart_child", variant, json.dumps(event)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {variant} failed:\n{done.stderr[-2000:]}")
    return wall, done.stdout, done.stderr


def _measure(variant: str, event: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
    wall, stdout, _ = _start(variant, event, env)
    line = next(x for x in reversed(stdout.splitlines()) if x.startswith("BENCH "))
    result: dict[str, float] = json.loads(line.removeprefix("BENCH "))
    result["process_ms"] = wall * 1000
    return result


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 0.9),
        "min": min(values),
        "max": max(values),
    }


def run(
    runs: int, event: dict[str, Any], env: dict[str, str], progress: Progress
) -> dict[str, Any]:
    """Start every variant `runs` times, interleaved, after one warm-up each.

    Every round starts each variant once, in an order shuffled afresh (seeded, so a run repeats),
    so no variant always follows the same other one. The warm-up writes bytecode caches, as a
    deployment package ships them; its times are dropped. Ratios are ours/peer for each round,
    so drift in the machine's speed cancels out.
    """
    names = list(VARIANTS)
    for name in names:
        _measure(name, event, env)
        progress.step(f"cold start: warm-up {name}")
    samples: dict[str, list[dict[str, float]]] = defaultdict(list)
    shuffle = random.Random(SEED).shuffle
    for round_number in range(runs):
        order = names[:]
        shuffle(order)
        for name in order:
            samples[name].append(_measure(name, event, env))
        progress.step(f"cold start: round {round_number + 1}/{runs}")
    results: dict[str, Any] = {"runs": runs, "order_seed": SEED, "variants": {}}
    for name in names:
        results["variants"][name] = {
            "label": VARIANTS[name].label,
            **{phase: _summary([s[phase] for s in samples[name]]) for phase in _PHASES},
        }
    ratios = {}
    for name in names:
        if name == "ours":
            continue
        pairs = [
            o["process_ms"] / p["process_ms"]
            for o, p in zip(samples["ours"], samples[name], strict=True)
        ]
        ratios[name] = {"median": statistics.median(pairs), "p90": percentile(pairs, 0.9)}
    results["ratio_ours_over_peer_process"] = ratios
    return results


def import_profile(event: dict[str, Any], env: dict[str, str], top: int = 12) -> dict[str, Any]:
    """Where our import time goes: `-X importtime`, self time summed by top-level package."""
    _, _, stderr = _start("ours", event, env, "-X", "importtime")
    by_package: dict[str, float] = defaultdict(float)
    by_module: list[tuple[float, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (
            p.strip() for p in line.removeprefix("import time:").split("|")
        )
        module = name.strip()
        micros = float(self_us)
        by_package[module.split(".")[0]] += micros
        by_module.append((micros, module))
    packages = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    modules = sorted(by_module, reverse=True)[:top]
    return {
        "total_self_ms": sum(by_package.values()) / 1000,
        "top_packages_ms": [[name, us / 1000] for name, us in packages],
        "top_modules_self_ms": [[name, us / 1000] for us, name in modules],
    }


def child_environment(base: dict[str, str]) -> dict[str, str]:
    """The environment every cold-start child gets: the caller's, then `base` over it.

    Bytecode suppression and the machine's `TRUST_VARIABLES` are dropped first, so what a
    contender trusts is what `base` (the mode) says: nothing (OpenSSL's and each SDK's
    defaults), or the TLS mode's `AWS_CA_BUNDLE`.
    """
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", *TRUST_VARIABLES):
        env.pop(name, None)
    return {**env, **base}
