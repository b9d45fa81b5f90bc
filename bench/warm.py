"""Warm latency in one process: ours (cache off, cache on, cache hits), our lookup alone, ours on
the other transports (aiohttp, h11 parsing), peers.

Each round calls every contender once on the same event, in an order shuffled afresh each round
(seeded), so drift in the machine's speed falls on all of them alike and no contender always
runs right after the same other one (a rotating order did that, and skewed small differences).
Standard output goes to /dev/null while measuring, so every contender's log line costs the same.

`python -m bench.warm ENV_JSON USERS ROUNDS NAIVE_ROUNDS HIT_ROUNDS` runs it in a fresh process
(the bench's TLS mode: every client built against the HTTPS stub) and prints `BENCH {json}`, the
summaries without the latencies, as its last line.
"""

import contextlib
import gc
import importlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.population import Population
from bench.report import Progress
from bench.stats import summarize
from shared.config import load_settings
from shared.lookup.sources import ItemRead
from tools.container import Container

__all__ = ("SEED", "in_child", "run")

SEED = 7
"""Seeds the sign-in draw and the per-round order of the contenders."""

Call = Callable[[dict[str, Any]], object]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


def timed(call: Call, event: dict[str, Any], cpu: list[float] | None = None) -> float:
    started, used = time.perf_counter(), time.thread_time()
    call(event)
    if cpu is not None:
        cpu.append(time.thread_time() - used)
    return time.perf_counter() - started


def run(
    env: dict[str, str],
    population: Population,
    rounds: int,
    naive_rounds: int,
    hit_rounds: int,
    progress: Progress,
) -> dict[str, Any]:
    """Measure every contender over `rounds` Zipf-drawn sign-ins after a warm-up."""
    os.environ.update(env)  # the peers read their configuration at import, as in Lambda
    peers = {
        name: importlib.import_module(f"bench.peers.{name}").handler
        for name in (
            "boto3_plain",
            "powertools_plain",
            "aiobotocore_tuned",
            "sigv4_http",
            "ours_aiohttp",
            "ours_h11",
        )
    }
    naive = importlib.import_module("bench.peers.aioboto3_naive").handler
    off = load_settings(env)
    on = load_settings({**env, "CACHE_TTL_SECONDS": "300"})
    # Two containers, as handler.app builds them; log lines are built, then discarded.
    ours_off = Container(off, logs="discard")
    ours_on = Container(on, logs="discard")
    loop = ours_off.loop
    user_lookup = ours_off.deps.user.lookup
    assert user_lookup is not None  # the bench's users have a key
    primary, consistent = user_lookup.primary, user_lookup.consistent

    def lookup_only(event: dict[str, Any]) -> object:
        read = ItemRead(
            source=primary, key=tuple((a, "USER#" + event["userName"]) for a, _ in primary.key)
        )
        return loop.run_until_complete(
            ours_off.deps.store.get_item(read, consistent=consistent, timeout=1.5)
        )

    contenders: dict[str, Call] = {
        "ours (cache off)": ours_off.invoke,
        "ours (cache on)": ours_on.invoke,
        # Our store's lookup alone (client, deadline, item decoding), none of the pipeline
        # around it: splits our overhead from the client's.
        "ours: lookup only": lookup_only,
        # The same pipeline on the other transports issue 21 measured (bench.peers).
        "ours on aiohttp (cache off)": lambda e: peers["ours_aiohttp"](e, None),
        "ours, h11 parsing (cache off)": lambda e: peers["ours_h11"](e, None),
        "ours on tuned aiobotocore": lambda e: peers["aiobotocore_tuned"](e, None),
        "plain boto3": lambda e: peers["boto3_plain"](e, None),
        "Powertools + boto3": lambda e: peers["powertools_plain"](e, None),
        "physical limit (SigV4 + http.client)": lambda e: peers["sigv4_http"](e, None),
    }
    names = list(contenders)
    warmup = max(200, rounds // 10)
    draws = population.sample(warmup + rounds, seed=SEED)
    shuffle = random.Random(SEED).shuffle
    events = [population.event(name) for name in draws]
    latencies: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    hits_before = 0
    cache = ours_on.deps.cache
    assert cache is not None
    with quiet():
        for event in events[:warmup]:
            for name in names:
                contenders[name](event)
        # As handler.app does after init: long-lived objects out of the collector's way.
        gc.freeze()
        progress.step("warm: warm-up done")
        hits_before, loads_before = cache.hits, cache.loads
        step = max(1, rounds // 10)
        order = names[:]
        for index, event in enumerate(events[warmup:]):
            shuffle(order)
            for name in order:
                latencies[name].append(timed(contenders[name], event, cpu[name]))
            if (index + 1) % step == 0:
                progress.step(f"warm: {index + 1}/{rounds} rounds")
        hits, loads = cache.hits - hits_before, cache.loads - loads_before
        # Only fresh hits: users already cached, answered without the event loop.
        hot = [population.event(name) for name in population.names[:50]]
        for event in hot:
            ours_on.invoke(event)
        hit_latencies = []
        hit_started = time.perf_counter()
        for index in range(hit_rounds):
            hit_latencies.append(timed(contenders["ours (cache on)"], hot[index % len(hot)]))
        hit_elapsed = time.perf_counter() - hit_started
        progress.step("warm: cache hits")
        naive_latencies = [
            timed(lambda e: naive(e, None), event) for event in events[:naive_rounds]
        ]
        progress.step("warm: aioboto3 asyncio.run per call")
    latencies["ours (cache hit only)"] = hit_latencies
    latencies["aioboto3, asyncio.run per call"] = naive_latencies
    ours_off.close()
    ours_on.close()
    for module in ("aiobotocore_tuned", "ours_aiohttp", "ours_h11"):
        sys.modules[f"bench.peers.{module}"].close()
    summaries = {name: summarize(values) for name, values in latencies.items()}
    for name, used in cpu.items():
        # CPU this thread spent per invocation: the client side is CPU-bound (botocore builds,
        # signs and parses every request), so this is where our own work shows.
        summaries[name]["cpu_mean_us"] = 1e6 * sum(used) / max(1, len(used))
    gc.unfreeze()
    floor = summaries["ours: lookup only"]
    return {
        "rounds": rounds,
        "naive_rounds": naive_rounds,
        "order_seed": SEED,
        "population": population.size,
        "summaries": summaries,
        "cache_on_hit_ratio": hits / max(1, hits + loads),
        "ours_off_over_lookup_p99": summaries["ours (cache off)"]["p99_ms"] / floor["p99_ms"],
        "ours_off_over_lookup_p50": summaries["ours (cache off)"]["p50_ms"] / floor["p50_ms"],
        "cache_hit_per_second_one_core": hit_rounds / hit_elapsed,
        "latencies": latencies,
    }


def in_child(
    env: dict[str, str], users: int, rounds: int, naive_rounds: int, hit_rounds: int
) -> dict[str, Any]:
    """`run` in a fresh process on `env` (its own clients, imports and collector); no latencies.

    Raises
    ------
    RuntimeError
        The child failed.
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench.warm", json.dumps(env), str(users), str(rounds),
         str(naive_rounds), str(hit_rounds)],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"warm run in a child failed:\n{done.stderr[-3000:]}")
    line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("BENCH "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    return result


def main() -> None:
    env = json.loads(sys.argv[1])
    users, rounds, naive_rounds, hit_rounds = (int(a) for a in sys.argv[2:6])
    result = run(env, Population(users), rounds, naive_rounds, hit_rounds, Progress(12))
    result.pop("latencies")
    sys.stdout.write("\nBENCH " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
