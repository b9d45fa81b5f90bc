"""Cost of the token budgets on the cache-hit path (issue 20): budgets set against unset.

`make bench` calls `cache_hit`: pure cache hits through `Container.invoke` (the whole handler
path: decode, plan, cache, mapping, response, the tokens estimated, log line with its metrics)
with the claim mapping of `events/claims.example.toml` (eight rules into both tokens, static
claims, suppressions, scopes, a group override) on the item `make invoke` seeds for jane.doe,
in six containers side by side in one process, their order shuffled each round:

- no budget (`ID_TOKEN_MAX_BYTES` and `ACCESS_TOKEN_MAX_BYTES` unset: no work at all), twice:
  the second, an identical container, measures the noise (an A/A pair);
- budgets set, both tokens fitting (8 KB each, nothing shed);
- budgets set so the ID token is over by a little (each hit sheds one claim);
- with a user attribute that changes on every hit (`custom:visit`), budgets set (fitting) and
  unset: every hit is a new sign-in, so neither the answer memo (`shared.answer_memo`) nor the
  fitter's memory helps, as after a user's attributes change: the mapping is applied and each
  token estimated from scratch. The pair shows what the budgets cost on a new answer.

The first four see the same sign-in again and again: after the first hit, the answer memo
gives its claims (shed or not) again, so what the budgets add there is the `TokenBytes` lines.
Every container's event carries `custom:visit` (the mapping does not read it); only the last
two change it. The target: the p99 with budgets set (fitting) is within the noise of the p99
without: the 95% interval of their ratio (a paired bootstrap over the rounds,
`bench.stats.ratio_interval`) holds 1, i.e. the two cannot be told apart. The A/A pair's ratio
and interval show what the same test says of two identical containers.
`python -m bench.token_size_cost` times the estimate alone.
"""

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.side_by_side import time_rounds
from bench.stats import ratio_interval, summarize
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
UNSET = "cache hit, no token budget"
UNSET_AGAIN = "cache hit, no token budget (A/A)"
FITTING = "cache hit, budgets set (fitting)"
CHANGING = "cache hit, budgets set, an attribute new each hit"
CHANGING_UNSET = "cache hit, no token budget, an attribute new each hit"


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
    """The six containers; the shedding one's ID budget just under its ID token's size."""
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
        UNSET: base,
        UNSET_AGAIN: base,
        FITTING: {**base, **fitting},
        "cache hit, budgets set (ID token sheds)": {**base, **shedding},
        CHANGING: {**base, **fitting},
        CHANGING_UNSET: base,
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
    event["request"]["userAttributes"]["custom:visit"] = "0"
    containers = _containers(env, event)
    changing = {name: copy.deepcopy(event) for name in (CHANGING, CHANGING_UNSET)}

    def sent(name: str, number: int) -> dict[str, Any]:
        new = changing.get(name)
        if new is None:
            return event
        new["request"]["userAttributes"]["custom:visit"] = str(number + 1)
        return new

    try:
        answers = {}
        for name, container in containers.items():
            answers[name] = container.invoke(event)  # loads the item: later calls are pure hits
            for _ in range(200):
                container.invoke(event)
        latencies = time_rounds(containers, sent, rounds, seed=20)
        hits = {name: c.deps.cache.hits if c.deps.cache else 0 for name, c in containers.items()}
        recalled = {
            name: c.deps.answers.recalled if c.deps.answers else 0 for name, c in containers.items()
        }
    finally:
        for container in containers.values():
            container.close()
    summaries = {name: summarize(values) for name, values in latencies.items()}
    unset, again, fitting = summaries[UNSET], summaries[UNSET_AGAIN], summaries[FITTING]
    new_fitting, new_unset = summaries[CHANGING], summaries[CHANGING_UNSET]
    interval = ratio_interval(latencies[FITTING], latencies[UNSET], 0.99, seed=21)
    interval_aa = ratio_interval(latencies[UNSET_AGAIN], latencies[UNSET], 0.99, seed=22)
    ratio = fitting["p99_ms"] / unset["p99_ms"]
    return {
        "rounds": rounds,
        "cache_hits": hits,
        "recalled": recalled,
        "token_bytes": {name: token_sizes(event, a["response"]) for name, a in answers.items()},
        "summaries": summaries,
        "p99_us_without": unset["p99_ms"] * 1000,
        "p99_us_without_again": again["p99_ms"] * 1000,
        "p99_us_with_budgets": fitting["p99_ms"] * 1000,
        "p99_ratio": ratio,
        "p99_ratio_aa": again["p99_ms"] / unset["p99_ms"],
        "p99_ratio_interval": interval,
        "p99_ratio_interval_aa": interval_aa,
        "p99_within_noise": interval[0] <= 1 <= interval[1],
        "p50_us_added_by_budgets": (fitting["p50_ms"] - unset["p50_ms"]) * 1000,
        "new_answer_p50_us_added": (new_fitting["p50_ms"] - new_unset["p50_ms"]) * 1000,
        "new_answer_p99_ratio": new_fitting["p99_ms"] / new_unset["p99_ms"],
    }


def _interval(result: dict[str, Any], which: str = "") -> str:
    low, high = result["p99_ratio_interval" + which]
    return f"{low:.3f}-{high:.3f}"


def main() -> None:
    from bench.population import Population

    env = {"TABLE_NAME": "profiles", "AWS_REGION": "us-east-1", "METRICS": "true"}
    result = cache_hit(Population(1).event("x"), env, 50_000)
    for name, summary in result["summaries"].items():
        print(
            f"{name:<42} p50 {summary['p50_ms'] * 1000:6.1f} us  p99 "
            f"{summary['p99_ms'] * 1000:6.1f} us  tokens {result['token_bytes'][name]}"
        )
    print(f"budgets add {result['p50_us_added_by_budgets']:.1f} us at p50")
    print(
        f"on a new answer each hit: budgets add {result['new_answer_p50_us_added']:.1f} us at"
        f" p50, p99 {result['new_answer_p99_ratio']:.3f}x; recalled {result['recalled']}"
    )
    print(
        f"p99 budgets set / unset {result['p99_ratio']:.3f}x (95% {_interval(result)}),"
        f" A/A {result['p99_ratio_aa']:.3f}x (95% {_interval(result, '_aa')}):"
        f" within noise {result['p99_within_noise']}"
    )


if __name__ == "__main__":
    main()
