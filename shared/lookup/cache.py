"""A bounded in-memory TTL cache for async lookups. Knows nothing of DynamoDB or Cognito.

One per container, used from one event loop, so a plain dict and no locks. Entries expire after
`ttl` seconds (`negative_ttl` for a lookup that found nothing, 0 to not remember those); the least
recently used entry is evicted past `max_entries`. When a load fails, an entry that expired no
more than `stale_if_error` seconds ago is served instead. Concurrent misses for one key share one
load. Time comes from an injectable monotonic clock, so tests need no sleeps.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Literal, TypeVar

__all__ = ("CacheOutcome", "Clock", "Result", "TTLCache")

V = TypeVar("V")
Clock = Callable[[], float]
CacheOutcome = Literal["hit", "miss", "stale", "shared"]
"""How a value was obtained: fresh entry, own load, expired entry after a failed load, or a
load another caller started."""


class Result(Generic[V]):
    """A looked-up value (None: the lookup found nothing) and how it was obtained."""

    __slots__ = ("outcome", "value")

    def __init__(self, value: V | None, outcome: CacheOutcome) -> None:
        self.value = value
        self.outcome = outcome


class _Entry(Generic[V]):
    __slots__ = ("expires_at", "value")

    def __init__(self, value: V | None, expires_at: float) -> None:
        self.value = value
        self.expires_at = expires_at


class _Flight(Generic[V]):
    """One load in progress and how many callers wait on it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: "asyncio.Task[V | None]") -> None:
        self.task = task
        self.waiters = 0


class TTLCache(Generic[V]):
    """Bounded TTL cache with negative entries, stale-if-error and coalesced misses.

    `hits`, `loads` and `stale_served` count fresh hits, loads started and stale answers.
    """

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int,
        negative_ttl: float = 0.0,
        stale_if_error: float = 0.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_entries < 1 or negative_ttl < 0 or stale_if_error < 0:
            raise ValueError(
                "TTLCache needs ttl > 0, max_entries >= 1, negative_ttl >= 0, stale_if_error >= 0"
            )
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._stale_if_error = stale_if_error
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, _Entry[V]] = {}
        self._flights: dict[str, _Flight[V]] = {}
        self.hits = 0
        self.loads = 0
        self.stale_served = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> Result[V] | None:
        """The fresh entry for `key` as a hit (marked recently used), or None. Never loads."""
        entry = self._entries.get(key)
        if entry is None or self._clock() >= entry.expires_at:
            return None
        self.hits += 1
        # Re-insert to mark it most recently used: dict order is the LRU order.
        del self._entries[key]
        self._entries[key] = entry
        return Result(entry.value, "hit")

    async def get(self, key: str, load: Callable[[], Awaitable[V | None]]) -> Result[V]:
        """Return the value for `key`, calling `load` on a miss.

        Parameters
        ----------
        key
            Cache key.
        load
            Fetches the value; returns None when there is none (a negative entry). It must bound
            its own time: callers that arrive during a load wait for that same load.

        Raises
        ------
        Exception
            Whatever `load` raised, when no entry is recent enough to serve stale.
        """
        hit = self.peek(key)
        if hit is not None:
            return hit
        flight = self._flights.get(key)
        outcome: CacheOutcome = "shared"
        if flight is None:
            self.loads += 1
            task = asyncio.ensure_future(self._load(key, load))
            flight = _Flight(task)
            self._flights[key] = flight
            task.add_done_callback(lambda done: self._land(key, done))
            outcome = "miss"
        try:
            value = await self._wait(flight)
        except asyncio.CancelledError:
            raise
        except Exception:
            stale = self._stale(key)
            if stale is None:
                raise
            self.stale_served += 1
            return Result(stale.value, "stale")
        return Result(value, outcome)

    async def _wait(self, flight: _Flight[V]) -> V | None:
        flight.waiters += 1
        try:
            # shield: one caller's cancellation must not cancel the load others wait for.
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()

    def _land(self, key: str, task: "asyncio.Task[V | None]") -> None:
        # A done callback, not a `finally` in `_load`: a task cancelled before its first step
        # never runs its body, and its flight must still go.
        flight = self._flights.get(key)
        if flight is not None and flight.task is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved, so a load nobody waits for any more is not reported

    async def _load(self, key: str, load: Callable[[], Awaitable[V | None]]) -> V | None:
        value = await load()
        ttl = self._ttl if value is not None else self._negative_ttl
        if ttl > 0:
            self._store(key, value, self._clock() + ttl)
        else:
            self._entries.pop(key, None)
        return value

    def _store(self, key: str, value: V | None, expires_at: float) -> None:
        self._entries.pop(key, None)
        self._entries[key] = _Entry(value, expires_at)
        while len(self._entries) > self._max_entries:
            del self._entries[next(iter(self._entries))]

    def _stale(self, key: str) -> _Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.expires_at > self._stale_if_error:
            return None
        return entry
