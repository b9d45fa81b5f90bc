"""The per-container dependencies: built once at init, shared by every invocation.

`open_deps` builds them around one DynamoDB client entered on an `AsyncExitStack` (tests pass a
fake profile source to `build_deps` instead). `Deps` holds the settings, the event loop the client
is bound to, the two principals (users and machine clients: how each finds, reads and applies its
item), the cache, the logger and the invocation counter. `Deps.close` closes the client on its
loop; the loop itself belongs to whoever created it (the handler, `tools.container`).
"""

import asyncio
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Protocol

import msgspec

from shared.cache import Clock, TTLCache
from shared.claims import DEFAULT_MAPPING, Mapping, Section
from shared.config import Settings
from shared.errors import ConfigError
from shared.item import Item
from shared.keys import KeyTemplate
from shared.lookup import ItemRead, Lookup, QueryRead, build_lookup
from shared.mapping import load_mapping
from shared.store import Store, open_client
from shared.telemetry import Logger

__all__ = ("Cached", "Deps", "Principal", "ProfileSource", "build_deps", "open_deps")

Cached = Item | list[Item]
"""What the cache holds per read: an item, or a query's items."""


class ProfileSource(Protocol):
    """Where items come from: `shared.store.Store` in production, fakes in unit tests.

    Each read finishes, retries included, within `timeout` seconds or raises `StoreError`.
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


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who the tokens are for, users or machine clients: decided once per event, in the plan.

    Parameters
    ----------
    machine
        Machine clients (V3 client credentials): access token only, no groups.
    lookup
        What to read: the primary item, related items, queries.
    section
        The part of the claim mapping applied to what was read.
    cache_prefix
        Prefix of every cache key: user and machine reads are projected differently, so they
        never share an entry even when their keys render the same.
    metadata_keys
        The `clientMetadata` keys the lookup's templates may read (allowlisted).
    """

    machine: bool
    lookup: Lookup
    section: Section
    cache_prefix: str
    metadata_keys: frozenset[str] = frozenset()


class Deps:
    """Everything an invocation needs, built once per container by `open_deps`."""

    __slots__ = (
        "_stack",
        "cache",
        "client",
        "invocations",
        "logger",
        "loop",
        "settings",
        "store",
        "user",
    )

    def __init__(
        self,
        *,
        settings: Settings,
        loop: asyncio.AbstractEventLoop,
        user: Principal,
        client: Principal,
        store: ProfileSource,
        cache: TTLCache[Cached] | None,
        logger: Logger,
        stack: AsyncExitStack,
    ) -> None:
        self.settings = settings
        self.loop = loop
        self.user = user
        self.client = client
        self.store = store
        self.cache = cache
        self.logger = logger
        self.invocations = 0
        self._stack = stack

    def close(self) -> None:
        """Close the DynamoDB client on its loop. Idempotent; the deps are unusable afterwards.

        The loop must not be running; it stays open (its creator closes it).
        """
        self.loop.run_until_complete(self._stack.aclose())


def _mapping(settings: Settings) -> Mapping:
    if settings.claims_config is None:
        return DEFAULT_MAPPING
    return load_mapping(settings.claims_config)


def _principal(settings: Settings, mapping: Mapping, *, machine: bool) -> Principal:
    """One principal's reads: the file's `item` or the settings' key, and the file's sources."""
    name = "client" if machine else "user"
    section = mapping.client if machine else mapping.user
    key_variable, sort_variable = (
        ("CLIENT_KEY", "CLIENT_SORT_KEY") if machine else ("USER_KEY", "USER_SORT_KEY")
    )
    partition = KeyTemplate(key_variable, settings.client_key if machine else settings.user_key)
    default_key: tuple[tuple[str, KeyTemplate], ...] = ((settings.key_attribute, partition),)
    sort = settings.client_sort_key if machine else settings.user_sort_key
    if settings.sort_key_attribute is not None and sort is not None:
        default_key += ((settings.sort_key_attribute, KeyTemplate(sort_variable, sort)),)
    if section.lookup.item is None and not partition.event_names:
        raise ConfigError(
            f"`{key_variable}` must contain a placeholder (`{{userName}}`, `{{sub}}`, "
            f"`{{clientId}}`, `{{userPoolId}}`), got `{partition.template}`: every "
            f"{name} would share one item"
        )
    where = f"claim mapping `{settings.claims_config}`: {name}" if settings.claims_config else name
    return Principal(
        machine=machine,
        lookup=build_lookup(
            section.lookup,
            reads=section.reads,
            default_table=settings.table_name,
            default_key=default_key,
            consistent=settings.consistent_read,
            where=where,
        ),
        section=section,
        cache_prefix=name[0] + ":",
        metadata_keys=frozenset(mapping.client_metadata),
    )


def _logger(settings: Settings) -> Logger:
    return Logger(
        settings.service_name,
        settings.log_level,
        metrics_namespace=settings.metrics_namespace if settings.metrics else None,
    )


def build_deps(
    settings: Settings,
    store: ProfileSource,
    loop: asyncio.AbstractEventLoop,
    *,
    mapping: Mapping | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
    stack: AsyncExitStack | None = None,
) -> Deps:
    """Assemble the dependencies around a profile source (tests pass a fake one).

    Parameters
    ----------
    settings
        The container's settings.
    store
        Where items come from.
    loop
        The event loop every lookup runs on (the one `store` is bound to).
    mapping
        The claim mapping; by default the one `CLAIMS_CONFIG` names, else the built-in one.
    clock
        The cache's monotonic clock.
    logger
        By default the one `settings` describe (level, service, EMF metrics when on).
    stack
        Closes the store's client in `Deps.close`.

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    mapping = mapping or _mapping(settings)
    cache: TTLCache[Cached] | None = None
    if settings.cache_enabled:
        cache = TTLCache(
            ttl=settings.cache_ttl_seconds,
            max_entries=settings.cache_max_entries,
            negative_ttl=settings.cache_negative_ttl_seconds,
            stale_if_error=settings.cache_stale_if_error_seconds,
            clock=clock,
        )
    return Deps(
        settings=settings,
        loop=loop,
        user=_principal(settings, mapping, machine=False),
        client=_principal(settings, mapping, machine=True),
        store=store,
        cache=cache,
        logger=logger or _logger(settings),
        stack=stack or AsyncExitStack(),
    )


def open_deps(
    settings: Settings,
    loop: asyncio.AbstractEventLoop,
    *,
    mapping: Mapping | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
) -> Deps:
    """Build the per-container dependencies around one DynamoDB client, entered once on `loop`.

    `loop` must not be running; every later lookup runs on it.

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    mapping = mapping or _mapping(settings)

    async def enter() -> Deps:
        stack = AsyncExitStack()
        try:
            store = Store(await open_client(settings, stack))
            return build_deps(
                settings, store, loop, mapping=mapping, clock=clock, logger=logger, stack=stack
            )
        except BaseException:
            await stack.aclose()
            raise

    return loop.run_until_complete(enter())
