"""The per-container dependencies: built once at init, shared by every invocation.

`open_deps` builds them around one DynamoDB client entered on an `AsyncExitStack` (tests pass a
fake profile source to `build_deps` instead). `Deps` holds the settings, the event loop the client
is bound to, the two principals (users and machine clients: how each finds, reads and applies its
item), the cache, the logger and the invocation counter. `Deps.close` closes the client on its
loop; the loop itself belongs to whoever created it (the handler, `tools.container`).
"""

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Protocol

import msgspec

from shared.cache import Clock, TTLCache
from shared.claims import DEFAULT_MAPPING, Mapping, Section
from shared.config import Settings
from shared.item import Item
from shared.keys import KeyTemplate
from shared.mapping import load_mapping
from shared.store import Store, open_client
from shared.telemetry import Logger

__all__ = ("Deps", "Principal", "ProfileSource", "build_deps", "open_deps")


class ProfileSource(Protocol):
    """Where profile items come from: `shared.store.Store` in production, fakes in unit tests."""

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        """Return the item at `key` or None; raise `StoreError` within `timeout` seconds."""
        ...


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who the tokens are for, users or machine clients: decided once per event, in the plan.

    Parameters
    ----------
    machine
        Machine clients (V3 client credentials): access token only, no groups.
    key
        The key template that finds the item.
    section
        The part of the claim mapping applied to the item.
    cache_prefix
        Prefix of the cache key: user and machine items are projected differently, so they
        never share an entry even when their keys render the same.
    """

    machine: bool
    key: KeyTemplate
    section: Section
    cache_prefix: str


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
        cache: TTLCache[Item] | None,
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
    cache: TTLCache[Item] | None = None
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
        user=Principal(
            machine=False,
            key=KeyTemplate("USER_KEY", settings.user_key),
            section=mapping.user,
            cache_prefix="u:",
        ),
        client=Principal(
            machine=True,
            key=KeyTemplate("CLIENT_KEY", settings.client_key),
            section=mapping.client,
            cache_prefix="c:",
        ),
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
            client = await open_client(settings, stack)
            store = Store(
                client,
                settings,
                user_attributes=mapping.user.attributes,
                client_attributes=mapping.client.attributes,
            )
            return build_deps(
                settings, store, loop, mapping=mapping, clock=clock, logger=logger, stack=stack
            )
        except BaseException:
            await stack.aclose()
            raise

    return loop.run_until_complete(enter())
