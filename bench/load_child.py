"""One warm container under heavy sign-in load: `python -m bench.load_child SIZE COUNT SEED`
(`... SEED model TENANTS` for the data model's users, `bench.population.ModelPopulation`).

Imports the real entry point (`handler.app`), then answers COUNT Zipf-drawn sign-ins from a
population of SIZE users, one at a time as a Lambda container does. The last line of standard
output is `BENCH {json}`: latencies summary, busy time, cache counters and peak RSS.
"""

import json
import os
import resource
import sys
import time

from bench.population import ModelPopulation, Population
from bench.stats import summarize


def main() -> None:
    size, count, seed = (int(arg) for arg in sys.argv[1:4])
    from handler import app

    population = (
        ModelPopulation(size, int(sys.argv[5])) if sys.argv[4:5] == ["model"] else Population(size)
    )
    events = [population.event(name) for name in population.sample(count, seed)]
    latencies = []
    cache = app.DEPS.cache
    half, half_loads = count // 2, 0
    saved, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 (closed below)
    try:
        started = time.perf_counter()
        for number, event in enumerate(events):
            if number == half and cache is not None:
                half_loads = cache.loads
            begun = time.perf_counter()
            app.handler(event, None)
            latencies.append(time.perf_counter() - begun)
        busy = time.perf_counter() - started
    finally:
        sys.stdout.close()
        sys.stdout = saved
    result = {
        "count": count,
        "busy_seconds": busy,
        "summary": summarize(latencies),
        "hits": cache.hits if cache else 0,
        "loads": cache.loads if cache else count,
        # Loads (one DynamoDB request each, unless batched) in the second half alone: the
        # container's steady state, its cache filled.
        "second_half_loads": cache.loads - half_loads if cache else count - half,
        "second_half_count": count - half,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    sys.stdout.write("\nBENCH " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
