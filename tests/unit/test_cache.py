"""The TTL cache, driven by a fake clock: TTL, LRU bound, negative entries, stale-if-error,
coalesced misses and cancellation. No sleeps: time moves only when the test moves it."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from shared.lookup.cache import TTLCache
from tests.conftest import FakeClock


class Loader:
    """Counts calls and returns a programmable value, or raises."""

    def __init__(self, value: str | None = "v1") -> None:
        self.value = value
        self.calls = 0
        self.error: Exception | None = None
        self.gate: asyncio.Event | None = None

    def __call__(self) -> Callable[[], Awaitable[str | None]]:
        async def load() -> str | None:
            self.calls += 1
            if self.gate is not None:
                await self.gate.wait()
            if self.error is not None:
                raise self.error
            return self.value

        return load


def _cache(clock: FakeClock, **kwargs: float) -> TTLCache[str]:
    options: dict[str, float] = {"ttl": 10.0, "max_entries": 3, **kwargs}
    return TTLCache(
        ttl=options["ttl"],
        max_entries=int(options["max_entries"]),
        negative_ttl=options.get("negative_ttl", 0.0),
        stale_if_error=options.get("stale_if_error", 0.0),
        clock=clock,
    )


async def test_cache_hit_until_ttl_then_reload(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    first = await cache.get("k", load())
    assert (first.value, first.outcome) == ("v1", "miss")
    clock.advance(9.9)
    hit = await cache.get("k", load())
    assert (hit.value, hit.outcome, load.calls) == ("v1", "hit", 1)
    clock.advance(0.1)
    load.value = "v2"
    again = await cache.get("k", load())
    assert (again.value, again.outcome, load.calls) == ("v2", "miss", 2)
    assert (cache.hits, cache.loads, cache.stale_served) == (1, 2, 0)


async def test_cache_evicts_least_recently_used(clock: FakeClock) -> None:
    cache, load = _cache(clock, max_entries=2), Loader()
    await cache.get("a", load())
    await cache.get("b", load())
    await cache.get("a", load())  # a is now the most recently used
    await cache.get("c", load())  # evicts b
    assert len(cache) == 2
    assert (await cache.get("a", load())).outcome == "hit"
    assert (await cache.get("b", load())).outcome == "miss"


async def test_cache_negative_entries_use_negative_ttl(clock: FakeClock) -> None:
    cache, load = _cache(clock, negative_ttl=2.0), Loader(value=None)
    assert (await cache.get("k", load())).value is None
    hit = await cache.get("k", load())
    assert (hit.value, hit.outcome, load.calls) == (None, "hit", 1)
    clock.advance(2.0)
    assert (await cache.get("k", load())).outcome == "miss"
    assert load.calls == 2


async def test_cache_negative_ttl_zero_does_not_remember_misses(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader(value=None)
    await cache.get("k", load())
    await cache.get("k", load())
    assert load.calls == 2
    assert len(cache) == 0


async def test_cache_item_deleted_replaces_positive_entry(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    await cache.get("k", load())
    clock.advance(10)
    load.value = None
    assert (await cache.get("k", load())).value is None
    assert len(cache) == 0  # the stale positive entry must not survive a confirmed miss


async def test_cache_stale_if_error_inside_window(clock: FakeClock) -> None:
    cache, load = _cache(clock, stale_if_error=30.0), Loader()
    await cache.get("k", load())
    clock.advance(10 + 30)  # expired exactly 30 s ago: still inside the window
    load.error = RuntimeError("store down")
    stale = await cache.get("k", load())
    assert (stale.value, stale.outcome) == ("v1", "stale")
    assert cache.stale_served == 1


async def test_cache_stale_if_error_outside_window_raises(clock: FakeClock) -> None:
    cache, load = _cache(clock, stale_if_error=30.0), Loader()
    await cache.get("k", load())
    clock.advance(10 + 30.01)
    load.error = RuntimeError("store down")
    with pytest.raises(RuntimeError, match="store down"):
        await cache.get("k", load())


async def test_cache_error_without_entry_raises(clock: FakeClock) -> None:
    cache, load = _cache(clock, stale_if_error=30.0), Loader()
    load.error = RuntimeError("store down")
    with pytest.raises(RuntimeError):
        await cache.get("k", load())
    assert len(cache) == 0


async def test_cache_concurrent_misses_share_one_load(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    load.gate = asyncio.Event()
    waiters = [asyncio.ensure_future(cache.get("k", load())) for _ in range(5)]
    await asyncio.sleep(0)
    load.gate.set()
    results = await asyncio.gather(*waiters)
    assert load.calls == 1
    assert sorted(r.outcome for r in results) == ["miss", "shared", "shared", "shared", "shared"]
    assert {r.value for r in results} == {"v1"}


async def test_cache_shared_load_error_reaches_every_waiter(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    load.gate = asyncio.Event()
    load.error = RuntimeError("boom")
    waiters = [asyncio.ensure_future(cache.get("k", load())) for _ in range(3)]
    await asyncio.sleep(0)
    load.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert load.calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_cache_cancelled_sole_waiter_cancels_the_load(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    load.gate = asyncio.Event()
    waiter = asyncio.ensure_future(cache.get("k", load()))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    # The next caller starts a fresh load instead of waiting on the cancelled one.
    load.gate = None
    result = await cache.get("k", load())
    assert (result.value, result.outcome, load.calls) == ("v1", "miss", 2)
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_cache_one_cancelled_waiter_leaves_the_load_for_others(clock: FakeClock) -> None:
    cache, load = _cache(clock), Loader()
    load.gate = asyncio.Event()
    first = asyncio.ensure_future(cache.get("k", load()))
    second = asyncio.ensure_future(cache.get("k", load()))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    load.gate.set()
    assert (await second).value == "v1"
    assert load.calls == 1


def test_cache_rejects_invalid_bounds(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="ttl > 0"):
        TTLCache[str](ttl=0, max_entries=1, clock=clock)
    with pytest.raises(ValueError, match="max_entries >= 1"):
        TTLCache[str](ttl=1, max_entries=0, clock=clock)
