"""Soak: many invocations in one process with the cache on and more users than it holds.

Memory must stay flat once the cache is full (RSS and tracemalloc, start against end), and open
sockets and asyncio tasks must not grow. The store is the DynamoDB stub in its own process, so
the run measures the handler, not the server. `make soak` runs the full 100,000 invocations;
`tests/integration/test_soak.py` asserts the same bounds on a smaller run.

`python -m tools.soak [--invocations N] [--users U] [--max-entries M]`
"""

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from shared.config import load_settings
from shared.errors import SignInDenied
from tools.container import Container
from tools.ddb_stub import stats, stub_process

__all__ = ("run",)

_TEMPLATE = Path(__file__).resolve().parents[1] / "events" / "v2-authentication.json"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _snapshot(loop: asyncio.AbstractEventLoop, cache_size: int) -> dict[str, float]:
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    return {
        "rss_mb": _rss_mb(),
        "tracemalloc_mb": current / 2**20,
        "open_fds": _open_fds(),
        "asyncio_tasks": len(asyncio.all_tasks(loop)),
        "cache_entries": cache_size,
    }


def run(invocations: int, users: int, max_entries: int, seed: int = 3) -> dict[str, Any]:
    """Run the soak; return the snapshots after warm-up and at the end, and the store reads."""
    template = json.loads(_TEMPLATE.read_text())
    items = [
        {
            "id": {"S": f"USER#soak-{i}"},
            "first_name": {"S": f"First{i}"},
            "last_name": {"S": f"Last{i}"},
            "interesting_value": {"N": str(i)},
        }
        for i in range(users)
    ]
    draw = random.Random(seed).randrange
    with tempfile.TemporaryDirectory() as folder:
        items_file = Path(folder) / "items.json"
        items_file.write_text(json.dumps(items))
        with stub_process(items_file) as endpoint:
            settings = load_settings(
                {
                    "TABLE_NAME": "profiles",
                    "AWS_REGION": "us-east-1",
                    "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
                    "CACHE_TTL_SECONDS": "3600",
                    "CACHE_MAX_ENTRIES": str(max_entries),
                }
            )
            container = Container(settings, logs="discard")
            deps, loop = container.deps, container.loop
            assert deps.cache is not None

            def invoke(count: int) -> int:
                denied = 0
                for _ in range(count):
                    event = dict(template)
                    event["userName"] = f"soak-{draw(users)}"
                    try:
                        container.invoke(event)
                    except SignInDenied:
                        denied += 1
                return denied

            tracemalloc.start()
            warmup = max(max_entries * 2, invocations // 10)
            invoke(warmup)
            start = _snapshot(loop, len(deps.cache))
            reads_before = stats(endpoint).get("GetItem", 0)
            started = time.perf_counter()
            denied = invoke(invocations)
            seconds = time.perf_counter() - started
            end = _snapshot(loop, len(deps.cache))
            reads = stats(endpoint).get("GetItem", 0) - reads_before
            tracemalloc.stop()
            container.close()
    return {
        "invocations": invocations,
        "users": users,
        "cache_max_entries": max_entries,
        "warmup_invocations": warmup,
        "seconds": seconds,
        "denied": denied,
        "store_reads": reads,
        "cache_hit_ratio": 1 - reads / invocations,
        "start": start,
        "end": end,
    }


def main(argv: list[str] | None = None) -> int:
    # botocore signs every request, even to the local stub: any credentials will do.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "soak")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "soak")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invocations", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--max-entries", type=int, default=10_000)
    args = parser.parse_args(argv)
    report = run(args.invocations, args.users, args.max_entries)
    start, end = report["start"], report["end"]
    print(json.dumps(report, indent=2))
    print(
        f"\n{report['invocations']} invocations in {report['seconds']:.1f} s, "
        f"{report['users']} users, cache bound {report['cache_max_entries']}, "
        f"hit ratio {report['cache_hit_ratio']:.1%}\n"
        f"RSS {start['rss_mb']:.1f} -> {end['rss_mb']:.1f} MB; tracemalloc "
        f"{start['tracemalloc_mb']:.2f} -> {end['tracemalloc_mb']:.2f} MB; open fds "
        f"{start['open_fds']} -> {end['open_fds']}; asyncio tasks {start['asyncio_tasks']} -> "
        f"{end['asyncio_tasks']}; cache entries {end['cache_entries']}",
        file=sys.stderr,
    )
    grew = (
        end["tracemalloc_mb"] - start["tracemalloc_mb"] > 2 or end["open_fds"] > start["open_fds"]
    )
    return 1 if grew or report["denied"] else 0


if __name__ == "__main__":
    sys.exit(main())
