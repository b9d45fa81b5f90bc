"""The data-model section (issue 11): a composite key, a related tenant item, a memberships query.

`bench/data_model.toml` reads three items per sign-in from a single-table design
(`bench.population.ModelPopulation`): the profile (`pk=USER#<sub>`, `sk=PROFILE`) and the
memberships query (`sk` begins with `MEMBERSHIP#`) side by side, then the tenant item the
profile names (`pk=TENANT#<id>`, table `tenants`). Served by a stub of its own
(`tools.ddb_stub --tables`), so its request counts are this section's alone.

Warm: one process, the whole pipeline with the cache off and on, beside the floor: the same
three reads issued bare on our store (`deps.store.get_item` and `query`, the profile and the
query concurrently, then the tenant, as the pipeline does; keys rendered beforehand), no
pipeline around them. Order shuffled afresh each round. Heavy load: K containers
(`bench.load`) over the Zipf-drawn users, cache on with a 60 s TTL, DynamoDB requests per
sign-in counted by the stub, and the tenant item's hit ratio (1 - tenant reads / sign-ins:
every sign-in needs its tenant once).
"""

import asyncio
import contextlib
import gc
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import load
from bench.population import ModelPopulation
from bench.report import Progress
from bench.stats import summarize
from bench.warm import Call, quiet, timed
from shared.config import load_settings
from shared.lookup.sources import ItemRead, QueryRead
from shared.values import Item
from tools.container import Container
from tools.ddb_stub import stats, stub_process

__all__ = ("MAPPING", "OWN_VARIABLES", "READS", "SEED", "TENANTS", "run", "stub")

MAPPING = Path(__file__).resolve().with_name("data_model.toml")
TENANTS = 200
SEED = 11
READS = ("GetItem", "BatchGetItem", "Query")
"""The operations counted as DynamoDB reads."""
OWN_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "TABLE_NAME", "CLAIMS_CONFIG")
"""What `environment` sets: the section's store, table and mapping."""
TTL_SECONDS = "60"
_WARM_TTL_SECONDS = "300"


@contextlib.contextmanager
def stub(population: ModelPopulation, workdir: Path) -> Iterator[str]:
    """The model's tables in a stub process of their own; yields its endpoint."""
    with stub_process(tables=population.write_layout(workdir / "model-tables.json")) as url:
        yield url


def environment(base: dict[str, str], endpoint: str) -> dict[str, str]:
    """The handlers' environment for the model: its mapping, its stub, the profiles table."""
    return {
        **base,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "TABLE_NAME": "profiles",
        "CLAIMS_CONFIG": str(MAPPING),
    }


def _reads(counts: dict[str, int]) -> int:
    return sum(counts.get(name, 0) for name in READS)


def _tenant_reads(counts: dict[str, int]) -> int:
    return counts.get("GetItem/tenants", 0) + counts.get("BatchGetItem/tenants", 0)


def warm(
    env: dict[str, str], population: ModelPopulation, rounds: int, progress: Progress
) -> dict[str, Any]:
    """Warm p50/p99 and CPU per invocation: cache off, cache on, and the bare-reads floor."""
    off = Container(load_settings(env), logs="discard")
    on = Container(load_settings({**env, "CACHE_TTL_SECONDS": _WARM_TTL_SECONDS}), logs="discard")
    loop, store, lookup = off.loop, off.deps.store, off.deps.user.lookup
    assert lookup is not None  # the data model's users have a key
    (tenant_source,) = lookup.related
    (query_source,) = lookup.queries
    consistent = lookup.consistent
    index = {name: i for i, name in enumerate(population.names)}

    def bare_reads(name: str) -> tuple[ItemRead, ItemRead, QueryRead]:
        user = ItemRead(source=lookup.primary, key=(("pk", f"USER#sub-{name}"), ("sk", "PROFILE")))
        tenant = ItemRead(
            source=tenant_source,
            key=(("pk", f"TENANT#{population.tenant_of(index[name])}"), ("sk", "METADATA")),
        )
        query = QueryRead(source=query_source, partition=f"USER#sub-{name}", prefix="MEMBERSHIP#")
        return user, tenant, query

    async def floor_reads(
        reads: tuple[ItemRead, ItemRead, QueryRead],
    ) -> tuple[Item | None, list[Item], Item | None]:
        user, tenant, query = reads
        profile, memberships = await asyncio.gather(
            store.get_item(user, consistent=consistent, timeout=1.5),
            store.query(query, consistent=consistent, timeout=1.5),
        )
        related = await store.get_item(tenant, consistent=consistent, timeout=1.5)
        return profile, memberships, related

    draws = population.sample(max(200, rounds // 10) + rounds, seed=SEED)
    warmup = len(draws) - rounds
    events = [population.event(name) for name in draws]
    prepared = {name: bare_reads(name) for name in set(draws)}
    by_event = {id(event): prepared[name] for event, name in zip(events, draws, strict=True)}

    def floor(event: dict[str, Any]) -> object:
        return loop.run_until_complete(floor_reads(by_event[id(event)]))

    contenders: dict[str, Call] = {
        "model: ours (cache off)": off.invoke,
        "model: ours (cache on)": on.invoke,
        "model floor: the 3 reads bare": floor,
    }
    # The floor must read what the pipeline reads: a profile, its memberships, its tenant.
    profile, memberships, tenant = loop.run_until_complete(
        floor_reads(prepared[population.names[0]])
    )
    if profile is None or not memberships or tenant is None:
        raise RuntimeError("the model's stub lacks the first user's items")
    if "plan" not in str(off.invoke(population.event(population.names[0]))):
        raise RuntimeError("the model's mapping added no tenant claim")
    names = list(contenders)
    latencies: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    shuffle = random.Random(SEED).shuffle
    cache = on.deps.cache
    assert cache is not None
    with quiet():
        for event in events[:warmup]:
            for name in names:
                contenders[name](event)
        gc.freeze()
        hits_before, loads_before = cache.hits, cache.loads
        order = names[:]
        step = max(1, rounds // 4)
        for number, event in enumerate(events[warmup:]):
            shuffle(order)
            for name in order:
                latencies[name].append(timed(contenders[name], event, cpu[name]))
            if (number + 1) % step == 0:
                progress.step(f"data model warm: {number + 1}/{rounds} rounds")
        hits, loads = cache.hits - hits_before, cache.loads - loads_before
    gc.unfreeze()
    off.close()
    on.close()
    summaries = {name: summarize(values) for name, values in latencies.items()}
    for name, used in cpu.items():
        summaries[name]["cpu_mean_us"] = 1e6 * sum(used) / max(1, len(used))
    bare = summaries["model floor: the 3 reads bare"]
    ours = summaries["model: ours (cache off)"]
    return {
        "rounds": rounds,
        "order_seed": SEED,
        "population": population.size,
        "tenants": population.tenants,
        "summaries": summaries,
        "cache_on_ttl_seconds": float(_WARM_TTL_SECONDS),
        "cache_on_hit_ratio": hits / max(1, hits + loads),
        "ours_off_over_floor_p50": ours["p50_ms"] / bare["p50_ms"],
        "ours_off_over_floor_p99": ours["p99_ms"] / bare["p99_ms"],
        "ours_off_over_floor_cpu": ours["cpu_mean_us"] / bare["cpu_mean_us"],
    }


def heavy(
    env: dict[str, str],
    endpoint: str,
    population: ModelPopulation,
    containers: int,
    sign_ins: int,
    progress: Progress,
) -> dict[str, Any]:
    """Heavy load on the model, cache on (60 s TTL): reads per sign-in, tenant hit ratio."""
    before = stats(endpoint)
    result = load.run(
        {**env, "CACHE_TTL_SECONDS": TTL_SECONDS}, containers, population.size, sign_ins,
        _reads(before), lambda: _reads(stats(endpoint)), progress, tenants=population.tenants,
    )  # fmt: skip
    after = stats(endpoint)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    result["tenants"] = population.tenants
    result["requests_by_operation"] = {k: v for k, v in delta.items() if v}
    result["tenant_item_reads"] = _tenant_reads(delta)
    result["tenant_item_hit_ratio"] = 1 - _tenant_reads(delta) / max(1, result["sign_ins"])
    return result


def run(
    base: dict[str, str],
    workdir: Path,
    size: int,
    rounds: int,
    containers: int,
    sign_ins: int,
    progress: Progress,
) -> dict[str, Any]:
    """Both parts against a stub of the model's tables: warm, then heavy load."""
    population = ModelPopulation(size, TENANTS)
    with stub(population, workdir) as endpoint:
        env = environment(base, endpoint)
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            results = {"warm": warm(env, population, rounds, progress)}
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        results["load"] = heavy(env, endpoint, population, containers, sign_ins, progress)
    return results
