"""Containers timed side by side: each round invokes every one once, in an order shuffled afresh.

A machine shared with other work slows whatever runs while it is busy; interleaving lets every
container meet the same quiet and busy moments, so the ratios between them hold. The long-lived
objects are frozen out of the collector's way during the rounds, as `handler.app` does after
init.
"""

import gc
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from tools.container import Container

__all__ = ("time_rounds",)


def time_rounds(
    containers: Mapping[str, Container],
    event: Callable[[str, int], dict[str, Any]],
    rounds: int,
    *,
    seed: int,
) -> dict[str, list[float]]:
    """Each container's invocation times (seconds), one per round.

    `event(name, round)` is the event the container `name` is invoked with in that round
    (0-based); the order of the containers is shuffled by a `random.Random(seed)` each round.
    """
    latencies: dict[str, list[float]] = {name: [] for name in containers}
    shuffle = random.Random(seed).shuffle
    order = list(containers)
    clock = time.perf_counter
    gc.freeze()
    try:
        for number in range(rounds):
            shuffle(order)
            for name in order:
                sent = event(name, number)
                started = clock()
                containers[name].invoke(sent)
                latencies[name].append(clock() - started)
    finally:
        gc.unfreeze()
    return latencies
