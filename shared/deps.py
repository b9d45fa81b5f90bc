"""The per-container dependencies: built once at init, shared by every invocation.

`open_deps` builds them around one DynamoDB connection entered on an `AsyncExitStack` (tests
pass a fake profile source to `build_deps` instead), or around none when no principal reads an
item (a mapping made only of event sources: no connection, no `TABLE_NAME`). `Deps` holds the
settings, the event loop the connection is bound to, the two principals (users and machine
clients: how each finds, reads and applies its item), the cache, the token budgets' `Fitter`, the
answers remembered for a repeated sign-in (`AnswerMemo`), the logger and the invocation
counter; `Deps.principal` is the one place an event is decided to be a user's or a machine
client's. `Deps.close` closes the connection on its loop; the loop itself
belongs to whoever created it (the handler, `tools.container`). The one module outside
`shared.lookup` that opens the connection (`shared.lookup.dynamodb`).
"""

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Final, Literal

import msgspec

from shared.answer_memo import REMEMBERED_ANSWERS, AnswerMemo
from shared.claims import DEFAULT_RULES, Rules, Section, load_rules
from shared.config import Settings
from shared.errors import ConfigError, StoreUnavailable
from shared.event import Event
from shared.lookup import (
    Cached,
    Clock,
    ItemRead,
    KeyTemplate,
    Lookup,
    ProfileSource,
    QueryRead,
    Store,
    TTLCache,
    build_lookup,
)
from shared.lookup.dynamodb import open_connection
from shared.telemetry import Logger
from shared.tokens import REMEMBERED_USERS, Fitter
from shared.values import Item

__all__ = ("NO_STORE", "Deps", "Principal", "PrincipalKind", "build_deps", "open_deps")

PrincipalKind = Literal["user", "client"]
"""Users, or machine clients (V3 client credentials)."""


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who the tokens are for, users or machine clients: decided once per event (`Deps.principal`).

    Parameters
    ----------
    kind
        `user`, or `client` for machine clients (access token only, no groups).
    lookup
        What to read: the primary item, related items, queries; None when the section reads
        no item (`section.reads_items` False: the event alone, no table read), or when no key
        can be built for this kind (machine clients on a table with a sort key but no
        `CLIENT_SORT_KEY`): its events then end with reason `no_key`.
    section
        The part of the claim mapping applied to what was read.
    metadata_keys
        The `clientMetadata` keys the lookup's templates and the conditions may read.
    """

    kind: PrincipalKind
    lookup: Lookup | None
    section: Section
    metadata_keys: frozenset[str] = frozenset()

    @property
    def machine(self) -> bool:
        """Machine clients: access token only, no groups."""
        return self.kind == "client"


class Deps:
    """Everything an invocation needs, built once per container by `open_deps`."""

    __slots__ = (
        "_stack",
        "answers",
        "cache",
        "client",
        "explain_random",
        "explaining",
        "fitter",
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
        explain_random: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.explaining = bool(settings.explain_clients) or settings.explain_sample > 0
        """Whether any invocation may be explained (`EXPLAIN_CLIENTS`, `EXPLAIN_SAMPLE`)."""
        self.explain_random = explain_random
        budgets = (settings.id_token_max_bytes, settings.access_token_max_bytes)
        remembered = min(REMEMBERED_USERS, settings.cache_max_entries)
        self.fitter = Fitter(budgets, capacity=remembered) if any(budgets) else None
        """The token budgets (`ID_TOKEN_MAX_BYTES`, `ACCESS_TOKEN_MAX_BYTES`), when one is set,
        remembering as many users' answers as the cache holds profiles (at most 4096)."""
        self.answers = (
            AnswerMemo(min(REMEMBERED_ANSWERS, settings.cache_max_entries))
            if cache is not None
            else None
        )
        """Each user's last answer, to issue again for the same sign-in on the same cached
        items (as many users as the cache holds profiles, at most 4096); None with the cache off."""
        self.loop = loop
        self.user = user
        self.client = client
        self.store = store
        self.cache = cache
        self.logger = logger
        self.invocations = 0
        self._stack = stack

    @property
    def connected(self) -> bool:
        """Whether a profile source was opened: False when no principal reads an item."""
        return self.store is not NO_STORE

    def principal(self, event: Event) -> Principal:
        """The one decision of whose tokens these are: a machine client's or a user's."""
        return self.client if event.is_machine_client else self.user

    def explains(self, event: Event) -> bool:
        """Whether this invocation's log line carries the mapping's trace: its app client is
        listed in `EXPLAIN_CLIENTS`, or it falls in the `EXPLAIN_SAMPLE` share (a draw from
        `explain_random`). Asked only when `explaining`."""
        settings = self.settings
        if event.client_id in settings.explain_clients:
            return True
        return settings.explain_sample > 0 and self.explain_random() < settings.explain_sample

    def close(self) -> None:
        """Close the DynamoDB connection on its loop. Idempotent; the deps are unusable after.

        The loop must not be running; it stays open (its creator closes it).
        """
        self.loop.run_until_complete(self._stack.aclose())


class _NoStore:
    """The profile source of a container whose mapping reads no item: never asked."""

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> None:
        raise StoreUnavailable("this container opened no connection: its mapping reads no item")

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        raise StoreUnavailable("this container opened no connection: its mapping reads no item")

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        raise StoreUnavailable("this container opened no connection: its mapping reads no item")


NO_STORE: Final[ProfileSource] = _NoStore()
"""Where items would come from when no principal reads one (`Deps.connected` is then False)."""


def _rules(settings: Settings) -> Rules:
    if settings.claims_config is None:
        return DEFAULT_RULES
    keys: tuple[str, ...] = (settings.key_attribute,)
    if settings.sort_key_attribute is not None:
        keys += (settings.sort_key_attribute,)
    # The settings describe the default table's key; the file may describe other tables.
    return load_rules(settings.claims_config, table_keys={None: keys, settings.table_name: keys})


def _need_table(settings: Settings, section: Section, kind: PrincipalKind) -> None:
    """`TABLE_NAME` is required where a section reads an item and its file names no table."""
    item = section.lookup.item
    if settings.table_name is not None or (item is not None and item.table):
        return
    mapping = "the built-in mapping"
    if settings.claims_config:
        mapping = f"the claim mapping `{settings.claims_config}`"
    raise ConfigError(
        "invalid configuration: `TABLE_NAME` is required: the DynamoDB table holding the "
        f"profiles, which {mapping} reads for {kind}s"
    )


_OWNERS: Final[dict[PrincipalKind, tuple[str, ...]]] = {
    "user": ("sub", "userName"),
    "client": ("clientId",),
}
"""The placeholders that name the principal itself (`{userPoolId}` does not: all share it)."""


def _default_key(
    settings: Settings, kind: PrincipalKind
) -> tuple[tuple[str, KeyTemplate], ...] | None:
    """The primary key from the settings (`USER_KEY`, or `CLIENT_KEY`, and the sort key); None
    for machine clients on a table with a sort key but no `CLIENT_SORT_KEY`."""
    machine = kind == "client"
    key_variable, sort_variable = (
        ("CLIENT_KEY", "CLIENT_SORT_KEY") if machine else ("USER_KEY", "USER_SORT_KEY")
    )
    partition = KeyTemplate(key_variable, settings.client_key if machine else settings.user_key)
    key: tuple[tuple[str, KeyTemplate], ...] = ((settings.key_attribute, partition),)
    sort = settings.client_sort_key if machine else settings.user_sort_key
    if settings.sort_key_attribute is not None:
        if sort is None:
            return None
        key += ((settings.sort_key_attribute, KeyTemplate(sort_variable, sort)),)
    if not any(name in template.event_names for _, template in key for name in _OWNERS[kind]):
        owners = " or ".join(f"`{{{name}}}`" for name in _OWNERS[kind])
        raise ConfigError(
            f"`{key_variable}` must contain a placeholder naming the {kind} ({owners}), got "
            f"`{partition.template}`: every {kind} would share one item"
        )
    return key


def _principal(settings: Settings, rules: Rules, kind: PrincipalKind) -> Principal:
    """One principal's reads: the file's `item` or the settings' key, and the file's sources."""
    section = rules.client if kind == "client" else rules.user
    if not section.reads_items:
        # The event alone: no key, no table, nothing read (`shared.trigger` concludes at once).
        return Principal(
            kind=kind, lookup=None, section=section, metadata_keys=frozenset(rules.client_metadata)
        )
    _need_table(settings, section, kind)
    default_key = _default_key(settings, kind)
    where = f"claim mapping `{settings.claims_config}`: {kind}" if settings.claims_config else kind
    lookup = None
    if default_key is not None or section.lookup.item is not None:
        lookup = build_lookup(
            section.lookup,
            reads=section.reads,
            default_table=settings.table_name or "",
            default_key=default_key or (),
            consistent=settings.consistent_read,
            where=where,
            cache_prefix=kind[0] + ":",
        )
    elif settings.claims_config is not None and section != Section():
        raise ConfigError(
            f"`CLIENT_SORT_KEY` is required: `SORT_KEY_ATTRIBUTE` is set and {where} reads "
            "machine-client items (or give `[client.item]` a key)"
        )
    return Principal(
        kind=kind, lookup=lookup, section=section, metadata_keys=frozenset(rules.client_metadata)
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
    rules: Rules | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
    stack: AsyncExitStack | None = None,
    explain_random: Callable[[], float] = random.random,
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
    rules
        The claim mapping; by default the one `CLAIMS_CONFIG` names, else the built-in one.
    clock
        The cache's monotonic clock.
    logger
        By default the one `settings` describe (level, service, EMF metrics when on).
    stack
        Closes the store's connection in `Deps.close`.
    explain_random
        Draws in [0, 1) deciding which invocations `EXPLAIN_SAMPLE` explains (tests pass a
        seeded one).

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    rules = rules or _rules(settings)
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
        user=_principal(settings, rules, "user"),
        client=_principal(settings, rules, "client"),
        store=store,
        cache=cache,
        logger=logger or _logger(settings),
        stack=stack or AsyncExitStack(),
        explain_random=explain_random,
    )


def open_deps(
    settings: Settings,
    loop: asyncio.AbstractEventLoop,
    *,
    rules: Rules | None = None,
    clock: Clock = time.monotonic,
    logger: Logger | None = None,
) -> Deps:
    """Build the per-container dependencies around one DynamoDB connection, entered on `loop`.

    `loop` must not be running; every later lookup runs on it. When no principal reads an item
    no connection is opened and `loop` is not run at all.

    Raises
    ------
    ConfigError
        A key template or the claim mapping is invalid.
    """
    rules = rules or _rules(settings)
    if not rules.reads_items:
        return build_deps(settings, NO_STORE, loop, rules=rules, clock=clock, logger=logger)

    async def enter() -> Deps:
        stack = AsyncExitStack()
        try:
            store = Store(await open_connection(settings, stack))
            return build_deps(
                settings, store, loop, rules=rules, clock=clock, logger=logger, stack=stack
            )
        except BaseException:
            await stack.aclose()
            raise

    return loop.run_until_complete(enter())
