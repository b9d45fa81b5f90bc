"""Reading a principal's profile: the primary item, queries beside it, related items after it.

Every read goes through the cache when it is on (items by table and key, query results by table,
index, partition and prefix; each source's projection apart), so a tenant item shared by many
users is read once per container per TTL. `peek` answers synchronously when every read is a
fresh cache entry; `read` does the rest on the loop: the primary GetItem and the queries
concurrently, then the related items (one GetItem, or one BatchGetItem when several), all under
one deadline. A read that fails fails the whole profile (`StoreError`); a missing primary item
reads nothing else.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, Literal, Protocol

import msgspec

from shared.errors import StoreError, StoreTimeout
from shared.event import Event
from shared.lookup.cache import CacheOutcome, TTLCache
from shared.lookup.sources import PRIMARY, ItemRead, Lookup, QueryRead
from shared.values import Item

__all__ = ("CacheResult", "Cached", "Profile", "ProfileSource", "Reads", "peek", "read", "render")

CacheResult = Literal[CacheOutcome, "off", "none"]
"""How a profile was obtained: the cache's outcome (its worst over every read), `off` (no
cache), or `none` (nothing was read)."""

Cached = Item | list[Item]
"""What the cache holds per read: an item, or a query's items."""

_RANK: Final[dict[CacheResult, int]] = {"hit": 1, "shared": 2, "miss": 3, "stale": 4}
_GRACE_SECONDS: Final = 0.02


class ProfileSource(Protocol):
    """Where items come from: `shared.lookup.dynamodb.Store` in production, fakes in tests.

    Each read finishes, retries included, within `timeout` seconds or raises `StoreError`. An
    item (or list of items) a read returns is never changed afterwards, by the source or by
    anyone: the cache hands the same object to every hit, and an answer is remembered for the
    very objects it was made from (`shared.answer_memo`); a changed item is a new object, as
    every read of the `Store` decodes one.
    """

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """The item `read` names, or None when there is none."""
        ...

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """The items `reads` name, in their order (None: no such item)."""
        ...

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """The items `read` matches, in key order, one page at most."""
        ...


class Reads(msgspec.Struct, frozen=True, kw_only=True):
    """The reads one event needs before the primary item is known.

    Parameters
    ----------
    lookup
        Whose lookup this is (its sources, consistency and cache prefix).
    event, metadata
        What the related keys are rendered from (with the primary item).
    primary
        The primary item's read.
    queries
        Each query's read, or None when its key lacks a value (its rules are then absent).
    """

    lookup: Lookup
    event: Event
    metadata: Mapping[str, str] | None
    primary: ItemRead
    queries: tuple[QueryRead | None, ...]

    def related(self, item: Item) -> tuple[ItemRead | None, ...]:
        """Each related item's read, keys from `item`; None when its key lacks a value."""
        return tuple(
            source.render(self.event, item, self.metadata) for source in self.lookup.related
        )


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """What was read: the primary item (None: no profile) and every other source by name.

    A related item is None when absent or not read; a query is its items, or None when not run.
    """

    primary: Item | None
    sources: dict[str, Item | list[Item] | None]
    cache: CacheResult


def render(lookup: Lookup, event: Event, metadata: Mapping[str, str] | None) -> Reads | None:
    """The reads `event` needs; None when the primary key lacks a value (no profile to read)."""
    primary = lookup.primary.render(event, None, metadata)
    if primary is None:
        return None
    queries = (
        tuple(query.render(event, metadata) for query in lookup.queries) if lookup.queries else ()
    )
    return Reads(lookup=lookup, event=event, metadata=metadata, primary=primary, queries=queries)


def _worst(outcomes: Sequence[CacheResult]) -> CacheResult:
    return max(outcomes, key=_RANK.__getitem__, default="hit")


def _profile(
    reads: Reads,
    primary: Item | None,
    queries: Sequence[list[Item] | None],
    related: Sequence[Item | None],
    cache: CacheResult,
) -> Profile:
    lookup = reads.lookup
    sources: dict[str, Item | list[Item] | None] = {}
    for query, items in zip(lookup.queries, queries, strict=True):
        sources[query.name] = items
    for source, item in zip(lookup.related, related, strict=True):
        sources[source.name] = item
    return Profile(primary=primary, sources=sources, cache=cache)


def peek(reads: Reads, cache: TTLCache[Cached] | None) -> Profile | None:
    """The profile from fresh cache entries alone, without the loop; None if any read misses."""
    if cache is None:
        return None
    hit = cache.peek(reads.primary.cache_key)
    if hit is None:
        return None
    primary = hit.value
    if not isinstance(primary, dict):
        return Profile(primary=None, sources={}, cache="hit")
    lookup = reads.lookup
    if not lookup.queries and not lookup.related:  # the common case: one item, nothing else
        return Profile(primary=primary, sources={}, cache="hit")
    queries: list[list[Item] | None] = []
    for query in reads.queries:
        if query is None:
            queries.append(None)
            continue
        found = cache.peek(query.cache_key)
        if found is None or not isinstance(found.value, list):
            return None
        queries.append(found.value)
    related: list[Item | None] = []
    for entry in reads.related(primary):
        if entry is None:
            related.append(None)
            continue
        found = cache.peek(entry.cache_key)
        if found is None:
            return None
        related.append(found.value if isinstance(found.value, dict) else None)
    return _profile(reads, primary, queries, related, "hit")


class _Deadline:
    """Seconds left until one absolute deadline on the loop's clock."""

    __slots__ = ("_at", "_loop")

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._at = self._loop.time() + seconds

    def left(self) -> float:
        left = self._at - self._loop.time()
        if left <= 0:
            raise StoreTimeout("no time left for the next read before the lookup deadline")
        return left


async def _through(
    cache: TTLCache[Cached] | None, key: str, load: Callable[[], Awaitable[Cached | None]]
) -> tuple[Cached | None, CacheResult]:
    if cache is None:
        return await load(), "off"
    result = await cache.get(key, load)
    outcome: CacheOutcome = result.outcome
    return result.value, outcome


class _Batch:
    """One BatchGetItem for the related items the cache misses, started by the first miss."""

    def __init__(self, store: ProfileSource, reads: Sequence[ItemRead], consistent: bool) -> None:
        self._store = store
        self._reads = reads
        self._consistent = consistent
        self._task: asyncio.Future[list[Item | None]] | None = None

    async def pick(self, index: int, deadline: _Deadline) -> Item | None:
        if self._task is None:
            if len(self._reads) == 1:
                load = self._store.get_item(
                    self._reads[0], consistent=self._consistent, timeout=deadline.left()
                )
                self._task = asyncio.ensure_future(_as_list(load))
            else:
                self._task = asyncio.ensure_future(
                    self._store.batch_get(
                        self._reads, consistent=self._consistent, timeout=deadline.left()
                    )
                )
        return (await asyncio.shield(self._task))[index]


async def _as_list(load: Awaitable[Item | None]) -> list[Item | None]:
    return [await load]


async def read(
    reads: Reads, store: ProfileSource, cache: TTLCache[Cached] | None, *, timeout: float
) -> Profile:
    """Read the profile: primary and queries concurrently, then the related items.

    Raises
    ------
    StoreError
        A read failed (and no stale entry could stand in for it), or the deadline passed.
    """
    so_far: dict[str, Item] = {}
    try:
        # Each read is bounded by what is left of the deadline; this bounds them all together,
        # a beat later, so a read's own translation (throttled, unavailable) wins when both fire.
        async with asyncio.timeout(timeout + _GRACE_SECONDS):
            return await _read(reads, store, cache, _Deadline(timeout), so_far)
    except TimeoutError as exc:
        error = StoreTimeout("the lookup's reads did not finish inside the deadline")
        error.primary = so_far.get(PRIMARY)
        raise error from exc
    except StoreError as exc:
        # The primary item was read before another read failed: its deny rules still apply.
        exc.primary = so_far.get(PRIMARY)
        raise


async def _read(
    reads: Reads,
    store: ProfileSource,
    cache: TTLCache[Cached] | None,
    deadline: "_Deadline",
    so_far: dict[str, Item],
) -> Profile:
    consistent = reads.lookup.consistent

    async def primary_load() -> Cached | None:
        return await store.get_item(reads.primary, consistent=consistent, timeout=deadline.left())

    def query_load(query: QueryRead) -> Callable[[], Awaitable[Cached | None]]:
        async def load() -> Cached | None:
            return await store.query(query, consistent=consistent, timeout=deadline.left())

        return load

    steps = [_through(cache, reads.primary.cache_key, primary_load)]
    steps += [
        _through(cache, query.cache_key, query_load(query))
        for query in reads.queries
        if query is not None
    ]
    done = await asyncio.gather(*steps, return_exceptions=True)
    first = done[0]
    if not isinstance(first, BaseException) and isinstance(first[0], dict):
        so_far[PRIMARY] = first[0]
    results = _unwrap(done)
    outcomes: list[CacheResult] = [result[1] for result in results]
    primary = results[0][0]
    if not isinstance(primary, dict):
        return Profile(primary=None, sources={}, cache=_worst(outcomes) if cache else "off")
    found = iter(results[1:])
    queries: list[list[Item] | None] = []
    for query in reads.queries:
        value = next(found)[0] if query is not None else None
        queries.append(value if isinstance(value, list) else None)
    related = await _related(
        reads, primary, store=store, cache=cache, deadline=deadline, outcomes=outcomes
    )
    return _profile(reads, primary, queries, related, _worst(outcomes) if cache else "off")


async def _related(
    reads: Reads,
    primary: Item,
    *,
    store: ProfileSource,
    cache: TTLCache[Cached] | None,
    deadline: _Deadline,
    outcomes: list[CacheResult],
) -> list[Item | None]:
    rendered = reads.related(primary)
    wanted = [entry for entry in rendered if entry is not None]
    if not wanted:
        return [None] * len(rendered)
    misses = [entry for entry in wanted if cache is None or cache.peek(entry.cache_key) is None]
    consistent = reads.lookup.consistent
    batch = _Batch(store, misses, consistent)
    position = {id(entry): index for index, entry in enumerate(misses)}

    def load(entry: ItemRead) -> Callable[[], Awaitable[Cached | None]]:
        async def pick() -> Cached | None:
            index = position.get(id(entry))
            if index is None:  # a hit a moment ago that expired since: read it alone
                return await store.get_item(entry, consistent=consistent, timeout=deadline.left())
            return await batch.pick(index, deadline)

        return pick

    values = iter(await _all([_through(cache, entry.cache_key, load(entry)) for entry in wanted]))
    related: list[Item | None] = []
    for entry in rendered:
        if entry is None:
            related.append(None)
            continue
        value, outcome = next(values)
        outcomes.append(outcome)
        related.append(value if isinstance(value, dict) else None)
    return related


async def _all(
    steps: Sequence[Awaitable[tuple[Cached | None, CacheResult]]],
) -> list[tuple[Cached | None, CacheResult]]:
    """Run `steps` together; every one finishes (each bounded by the deadline) before the first
    failure is raised, so no read is left running unobserved."""
    return _unwrap(await asyncio.gather(*steps, return_exceptions=True))


def _unwrap(
    done: Sequence[tuple[Cached | None, CacheResult] | BaseException],
) -> list[tuple[Cached | None, CacheResult]]:
    """The results of steps run together, or the first failure among them, raised."""
    results: list[tuple[Cached | None, CacheResult]] = []
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
    return results
