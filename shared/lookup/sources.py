"""What one principal reads from DynamoDB, and the reads rendered for one event.

A principal (users, or machine clients) reads its primary item; then up to five *related* items
whose keys come from the primary item's attributes (`{item.<path>}`), one BatchGetItem when there
are several; and, beside the primary read, up to three *queries* that fold many items into lists.
Each is a source with a name; mapping rules name the source they read (`source = "tenant"`), the
primary item (`item`) by default.

`LookupSpec` is what the mapping file says (templates parsed, names checked); `build_lookup`
completes it with the settings (default table, the `KEY_ATTRIBUTE`/`USER_KEY` primary key when the
file has no `item`, consistency) and the projections the rules need, into a `Lookup`. Per event,
`ItemSource.render` and `QuerySource.render` give the concrete `ItemRead`/`QueryRead`, each with
the cache key that identifies it. Pure: no I/O, no logging.
"""

from collections.abc import Mapping
from typing import Final

import msgspec

from shared.errors import ConfigError
from shared.event import Event
from shared.lookup.keys import KeyTemplate
from shared.lookup.limits import Projected, projection_problems
from shared.values import JSONValue

__all__ = (
    "MAX_QUERIES",
    "MAX_QUERY_LIMIT",
    "MAX_RELATED",
    "PRIMARY",
    "ItemRead",
    "ItemSource",
    "ItemSpec",
    "Lookup",
    "LookupSpec",
    "QueryRead",
    "QuerySource",
    "QuerySpec",
    "build_lookup",
)

PRIMARY: Final = "item"
"""The primary item's source name (rules without `source` read it)."""
MAX_RELATED: Final = 5
MAX_QUERIES: Final = 3
MAX_QUERY_LIMIT: Final = 100
_MAX_PARTITION_BYTES: Final = 2048  # DynamoDB's limits on key values: a longer one never matches
_MAX_SORT_BYTES: Final = 1024


def _too_long(value: str, limit: int) -> bool:
    """Whether a key value can never match: over DynamoDB's byte limit, or not valid UTF-8 (a
    lone surrogate, which JSON can carry, cannot be sent at all)."""
    if value.isascii():  # the common case: one byte a character, nothing to encode
        return len(value) > limit
    try:
        return len(value.encode()) > limit
    except UnicodeEncodeError:
        return True


class ItemSpec(msgspec.Struct, frozen=True, kw_only=True):
    """An item read by key, as the mapping file gives it (`[user.item]`, `[[user.related]]`)."""

    name: str
    table: str | None
    key: tuple[tuple[str, KeyTemplate], ...]


class QuerySpec(msgspec.Struct, frozen=True, kw_only=True):
    """A query, as the mapping file gives it (`[[user.query]]`)."""

    name: str
    table: str | None
    index: str | None
    partition: tuple[str, KeyTemplate]
    sort_prefix: tuple[str, KeyTemplate] | None
    limit: int


class LookupSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A section's reads as the mapping file gives them; `item` None: the settings' key."""

    item: ItemSpec | None = None
    related: tuple[ItemSpec, ...] = ()
    queries: tuple[QuerySpec, ...] = ()


class ItemRead(msgspec.Struct, frozen=True, kw_only=True):
    """One item to read: its source and its key values."""

    source: "ItemSource"
    key: tuple[tuple[str, str], ...]

    @property
    def cache_key(self) -> str:
        """Identifies this read: principal, source (its projection), table and key."""
        key = self.key
        base = self.source.cache_base
        if len(key) == 1:
            return base + key[0][0] + "=" + key[0][1]
        return base + "\x1f".join(f"{attribute}={value}" for attribute, value in key)


class QueryRead(msgspec.Struct, frozen=True, kw_only=True):
    """One query to run: its source, partition value and sort-key prefix."""

    source: "QuerySource"
    partition: str
    prefix: str | None

    @property
    def cache_key(self) -> str:
        """Identifies this query: principal, source, table, index, partition and prefix."""
        return self.source.cache_base + self.partition + "\x1f" + (self.prefix or "")


class ItemSource(msgspec.Struct, frozen=True, kw_only=True):
    """An item read by key: the primary item, or a related one.

    Parameters
    ----------
    name
        `item` for the primary item, else the related item's name.
    table
        The table it lives in.
    key
        (attribute, template) for the partition key, then the sort key if the table has one.
    attributes
        The projection: what its rules (and related keys) read. The store adds the key
        attributes, so an item without any mapped attribute is told apart from no item.
    cache_base
        What every cache key of its reads starts with: the principal's prefix, the name and
        the table (user and machine reads are projected differently: they never share one).
    """

    name: str
    table: str
    key: tuple[tuple[str, KeyTemplate], ...]
    attributes: tuple[str, ...]
    cache_base: str = ""

    def __post_init__(self) -> None:
        if not self.cache_base:
            base = f"{self.name}\x1f{self.table}\x1f"
            msgspec.structs.force_setattr(self, "cache_base", base)

    def render(
        self,
        event: Event,
        item: Mapping[str, JSONValue] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ItemRead | None:
        """The concrete read for `event`, or None when a key value is missing or too long."""
        if len(self.key) == 1:  # the common case: a partition key alone
            ((attribute, template),) = self.key
            value = template.render(event, item, metadata)
            if value is None or _too_long(value, _MAX_PARTITION_BYTES):
                return None
            return ItemRead(source=self, key=((attribute, value),))
        values: list[tuple[str, str]] = []
        for index, (attribute, template) in enumerate(self.key):
            value = template.render(event, item, metadata)
            limit = _MAX_PARTITION_BYTES if index == 0 else _MAX_SORT_BYTES
            if value is None or _too_long(value, limit):
                return None
            values.append((attribute, value))
        return ItemRead(source=self, key=tuple(values))


class QuerySource(msgspec.Struct, frozen=True, kw_only=True):
    """A Query reading one page at most, folding many items into lists.

    Parameters
    ----------
    name
        The source name rules refer to.
    table, index
        The table, and a global secondary index or None.
    partition
        (attribute, template): the partition key condition.
    sort_prefix
        (attribute, template) for `begins_with` on the sort key, or None.
    limit
        Items read at most (DynamoDB's `Limit`), 1..100.
    attributes
        The projection: what its rules read.
    cache_base
        What every cache key of its reads starts with: the principal's prefix, `q`, the name,
        the table and the index.
    """

    name: str
    table: str
    index: str | None
    partition: tuple[str, KeyTemplate]
    sort_prefix: tuple[str, KeyTemplate] | None
    limit: int
    attributes: tuple[str, ...]
    cache_base: str = ""

    def __post_init__(self) -> None:
        if not self.cache_base:
            base = f"q\x1f{self.name}\x1f{self.table}\x1f{self.index or ''}\x1f"
            msgspec.structs.force_setattr(self, "cache_base", base)

    def render(self, event: Event, metadata: Mapping[str, str] | None = None) -> QueryRead | None:
        """The concrete query for `event`, or None when a key value is missing or too long."""
        value = self.partition[1].render(event, None, metadata)
        if value is None or _too_long(value, _MAX_PARTITION_BYTES):
            return None
        prefix = None
        if self.sort_prefix is not None:
            prefix = self.sort_prefix[1].render(event, None, metadata)
            if prefix is None or _too_long(prefix, _MAX_SORT_BYTES):
                return None
        return QueryRead(source=self, partition=value, prefix=prefix)


class Lookup(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one principal reads: the primary item, related items, queries.

    Parameters
    ----------
    primary
        The primary item.
    related
        Items read after the primary one (one BatchGetItem when several).
    queries
        Queries run beside the primary read.
    consistent
        Strongly consistent reads (`CONSISTENT_READ`); never on an index (refused at init).
    cache_prefix
        Prefix of every cache key: user and machine reads are projected differently, so they
        never share an entry even when their keys render the same.
    """

    primary: ItemSource
    related: tuple[ItemSource, ...] = ()
    queries: tuple[QuerySource, ...] = ()
    consistent: bool = False
    cache_prefix: str = ""


def _projected(source: ItemSource) -> Projected:
    return Projected(source.name, source.table, tuple(a for a, _ in source.key), source.attributes)


def _problems(
    where: str,
    primary: ItemSource,
    related: tuple[ItemSource, ...],
    queries: tuple[QuerySource, ...],
    *,
    consistent: bool,
) -> list[str]:
    """Projections over DynamoDB's limit, and strongly consistent reads of an index."""
    problems = projection_problems(
        where,
        _projected(primary),
        [_projected(source) for source in related],
        [Projected(q.name, q.table, (), q.attributes) for q in queries],
    )
    for query in queries:
        if consistent and query.index is not None:
            problems.append(
                f"{where} query `{query.name}`: reads the index `{query.index}`, which "
                "`CONSISTENT_READ=true` cannot read (global secondary indexes are eventually "
                "consistent only)"
            )
    return problems


def build_lookup(
    spec: LookupSpec,
    *,
    reads: Mapping[str, tuple[str, ...]],
    default_table: str,
    default_key: tuple[tuple[str, KeyTemplate], ...],
    consistent: bool,
    where: str,
    cache_prefix: str = "",
) -> Lookup:
    """Complete a section's reads with the settings and the projections its rules need.

    Parameters
    ----------
    spec
        What the mapping file says (or an empty spec: the settings' primary key only).
    reads
        Source name -> the top-level attributes its rules read (`item` for the primary item).
    default_table
        `TABLE_NAME`: the primary item's table when the file names none.
    default_key
        The primary key from the settings (`KEY_ATTRIBUTE` + `USER_KEY`, and the sort key).
    consistent
        `CONSISTENT_READ`.
    where
        Names the file and section in errors.
    cache_prefix
        Set apart this principal's cache entries (`u:` users, `c:` machine clients).

    Raises
    ------
    ConfigError
        A strongly consistent read on an index, or a projection over DynamoDB's limit.
    """
    item = spec.item
    table = item.table if item is not None and item.table else default_table
    primary, related, queries = _sources(
        spec,
        reads,
        table=table,
        key=item.key if item is not None else default_key,
        prefix=cache_prefix,
    )
    problems = _problems(where, primary, related, queries, consistent=consistent)
    if problems:
        raise ConfigError("; ".join(problems))
    return Lookup(
        primary=primary,
        related=related,
        queries=queries,
        consistent=consistent,
        cache_prefix=cache_prefix,
    )


def _sources(
    spec: LookupSpec,
    reads: Mapping[str, tuple[str, ...]],
    *,
    table: str,
    key: tuple[tuple[str, KeyTemplate], ...],
    prefix: str,
) -> tuple[ItemSource, tuple[ItemSource, ...], tuple[QuerySource, ...]]:
    """The primary item, related items and queries, each with its projection and its cache
    keys' base (`prefix` sets this principal's entries apart)."""
    related_attributes = tuple(
        dict.fromkeys(a for r in spec.related for _, t in r.key for a in t.item_attributes)
    )
    primary = ItemSource(
        name=PRIMARY,
        table=table,
        key=key,
        attributes=tuple(dict.fromkeys((*reads.get(PRIMARY, ()), *related_attributes))),
        cache_base=f"{prefix}{PRIMARY}\x1f{table}\x1f",
    )
    related = tuple(
        ItemSource(
            name=r.name,
            table=r.table or table,
            key=r.key,
            attributes=reads.get(r.name, ()),
            cache_base=f"{prefix}{r.name}\x1f{r.table or table}\x1f",
        )
        for r in spec.related
    )
    queries = tuple(
        QuerySource(
            name=q.name,
            table=q.table or table,
            index=q.index,
            partition=q.partition,
            sort_prefix=q.sort_prefix,
            limit=q.limit,
            attributes=reads.get(q.name, ()),
            cache_base=f"{prefix}q\x1f{q.name}\x1f{q.table or table}\x1f{q.index or ''}\x1f",
        )
        for q in spec.queries
    )
    return primary, related, queries
