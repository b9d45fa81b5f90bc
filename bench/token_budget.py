"""Cost of the token budgets on the cache-hit path (issue 20): budgets set against unset.

`make bench` calls `cache_hit`: pure cache hits through `Container.invoke` (the whole handler
path: decode, plan, cache, mapping, response, the tokens estimated, log line with its metrics)
with the claim mapping of `events/claims.example.toml` (eight rules into both tokens, static
claims, suppressions, scopes, a group override) on the item `make invoke` seeds for jane.doe,
in three containers side by side in one process, their order shuffled each round:

- no budget (`ID_TOKEN_MAX_BYTES` and `ACCESS_TOKEN_MAX_BYTES` unset: no work at all);
- budgets set, both tokens fitting (8 KB each: every invocation estimates both, sheds nothing);
- budgets set so the ID token is over by a little (every invocation sizes each claim and
  sheds one: the rare path, shown for scale).

The target is the p99 with budgets set (fitting) within noise of the p99 without.
`python -m bench.token_size_cost` times the estimate alone.
"""

import copy
import gc
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import summarize
from shared.claims import load_rules
from shared.config import load_settings
from shared.lookup import ItemRead, QueryRead, decode_item
from shared.tokens import token_sizes
from shared.values import Item
from tools.container import Container

__all__ = ("cache_hit",)

_ROOT = Path(__file__).resolve().parents[1]
_MAPPING = _ROOT / "events" / "claims.example.toml"
_PROFILES = _ROOT / "events" / "profiles.json"
_USER = "jane.doe"
FITTING_BYTES = 8192


def _item() -> Item:
    raw = next(
        item for item in json.loads(_PROFILES.read_text()) if item["id"]["S"] == f"USER#{_USER}"
    )
    return decode_item(raw)


class _SameItem:
    """A profile source answering every key with jane.doe's item: only its first read counts."""

    def __init__(self, item: Item) -> None:
        self._item = item

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        return copy.deepcopy(self._item)

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        return [copy.deepcopy(self._item) for _ in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        return []


def _containers(env: dict[str, str], event: dict[str, Any]) -> dict[str, Container]:
    """The three containers; the shedding one's ID budget just under its ID token's size."""
    base = {**env, "CACHE_TTL_SECONDS": "300"}
    rules = load_rules(str(_MAPPING))
    item = _item()
    fitting = {
        "ID_TOKEN_MAX_BYTES": str(FITTING_BYTES),
        "ACCESS_TOKEN_MAX_BYTES": str(FITTING_BYTES),
    }
    with Container(load_settings(base), source=_SameItem(item), mapping=rules) as probe:
        id_bytes = token_sizes(event, probe.invoke(copy.deepcopy(event))["response"])["id"]
    shedding = {**fitting, "ID_TOKEN_MAX_BYTES": str(max(1024, id_bytes - 8))}
    variants = {
        "cache hit, no token budget": base,
        "cache hit, budgets set (fitting)": {**base, **fitting},
        "cache hit, budgets set (ID token sheds)": {**base, **shedding},
    }
    return {
        name: Container(
            load_settings(settings), source=_SameItem(item), mapping=rules, logs="discard"
        )
        for name, settings in variants.items()
    }


def cache_hit(template: dict[str, Any], env: dict[str, str], rounds: int) -> dict[str, Any]:
    """p50/p99 of a pure cache hit through `Container.invoke`, budgets set and unset.

    `template` is a V2 sign-in event (its user becomes jane.doe); `env` the container's
    settings (a cache is turned on).
    """
    event = copy.deepcopy(template)
    event["userName"] = _USER
    containers = _containers(env, event)
    latencies: dict[str, list[float]] = {name: [] for name in containers}
    shuffle = random.Random(20).shuffle
    order = list(containers)
    try:
        answers = {}
        for name, container in containers.items():
            answers[name] = container.invoke(event)  # loads the item: later calls are pure hits
            for _ in range(200):
                container.invoke(event)
        gc.freeze()
        clock = time.perf_counter
        for _ in range(rounds):
            shuffle(order)
            for name in order:
                started = clock()
                containers[name].invoke(event)
                latencies[name].append(clock() - started)
        hits = {name: c.deps.cache.hits if c.deps.cache else 0 for name, c in containers.items()}
    finally:
        gc.unfreeze()
        for container in containers.values():
            container.close()
    summaries = {name: summarize(values) for name, values in latencies.items()}
    unset = summaries["cache hit, no token budget"]
    fitting = summaries["cache hit, budgets set (fitting)"]
    return {
        "rounds": rounds,
        "cache_hits": hits,
        "token_bytes": {name: token_sizes(event, a["response"]) for name, a in answers.items()},
        "summaries": summaries,
        "p99_us_without": unset["p99_ms"] * 1000,
        "p99_us_with_budgets": fitting["p99_ms"] * 1000,
        "p50_us_added_by_budgets": (fitting["p50_ms"] - unset["p50_ms"]) * 1000,
    }


def main() -> None:
    from bench.population import Population

    env = {"TABLE_NAME": "profiles", "AWS_REGION": "us-east-1", "METRICS": "true"}
    result = cache_hit(Population(1).event("x"), env, 20_000)
    for name, summary in result["summaries"].items():
        print(
            f"{name:<42} p50 {summary['p50_ms'] * 1000:6.1f} us  p99 "
            f"{summary['p99_ms'] * 1000:6.1f} us  tokens {result['token_bytes'][name]}"
        )
    print(f"budgets add {result['p50_us_added_by_budgets']:.1f} us at p50")


if __name__ == "__main__":
    main()
