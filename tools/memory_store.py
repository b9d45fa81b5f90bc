"""An in-memory DynamoDB at the store's seam, for mapping test cases and `make explain`.

`MemoryStore` is a `shared.lookup.ProfileSource`: the same reads the production `Store` makes
(GetItem, BatchGetItem, Query), answered from plain items kept per table. Each item is stored as
DynamoDB would hand it back (written as AttributeValues, read through the production decoder,
`shared.lookup.decode_item`: an integral number an int, any other an exact Decimal), and each
answer is projected as the store projects it, so the mapping sees what it would see in
production. A query matches the items whose partition attribute equals its value and whose sort
attribute begins with its prefix, sorted by the table's (or index's) sort key, at most `limit`.
`failure` makes every read fail as the store would (`throttled`, `timeout`, `unavailable`).

`Table` is a table's key schema, `implied_tables` the tables a principal's lookup reads, with
the keys its reads imply; `to_attribute_value` writes a plain value as DynamoDB JSON (what the
moto comparison puts).
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec

from shared.errors import ConfigError, StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.lookup import ItemRead, Lookup, QueryRead, decode_item
from shared.values import Item, JSONValue

__all__ = (
    "FAILURES",
    "MemoryStore",
    "StoreMode",
    "Table",
    "implied_tables",
    "merge_tables",
    "to_attribute_value",
)

StoreMode = Literal["ok", "throttled", "timeout", "unavailable"]
"""How the store behaves in a case: it answers, or every read fails so."""

FAILURES: Final[dict[str, type[StoreError]]] = {
    "throttled": StoreThrottled,
    "timeout": StoreTimeout,
    "unavailable": StoreUnavailable,
}


class Table(msgspec.Struct, frozen=True, kw_only=True):
    """A table's key schema: string keys, as the SAM template creates them.

    Parameters
    ----------
    key
        The partition key attribute; None while only an index of the table is known.
    sort_key
        The sort key attribute, or None.
    indexes
        Global secondary index name -> (partition attribute, sort attribute or None).
    """

    key: str | None
    sort_key: str | None = None
    indexes: dict[str, tuple[str, str | None]] = {}


def _agree(one: str | None, other: str | None) -> bool:
    return one is None or other is None or one == other


def _keys(table: Table) -> str:
    return f"`{table.key}`" + (f" + `{table.sort_key}`" if table.sort_key else "")


def to_attribute_value(value: JSONValue) -> dict[str, Any]:
    """A plain JSON value as a DynamoDB AttributeValue (`{"S": ...}`, `{"N": ...}`, ...).

    Raises
    ------
    ValueError
        The value has no DynamoDB form (a date, `inf`, `nan`, a set or another object).
    """
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("`inf`, `-inf` and `nan` have no DynamoDB form")
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if isinstance(value, list):
        return {"L": [to_attribute_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attribute_value(v) for k, v in value.items()}}
    if isinstance(value, date | time):
        raise ValueError("dates and times have no DynamoDB form: write them as strings")
    raise ValueError(f"a {type(value).__name__} has no DynamoDB form")


def stored(item: Mapping[str, JSONValue]) -> Item:
    """`item` as DynamoDB hands it back: through AttributeValues and the production decoder."""
    return decode_item({name: to_attribute_value(value) for name, value in item.items()})


def _merge(where: str, tables: dict[str, Table], name: str, table: Table) -> None:
    known = tables.get(name)
    if known is None:
        tables[name] = table
        return
    if not _agree(known.key, table.key) or not _agree(known.sort_key, table.sort_key):
        raise ConfigError(
            f"{where}: table `{name}` is read with the key {_keys(table)} and with "
            f"{_keys(known)}: one table has one key schema"
        )
    indexes = dict(known.indexes)
    for index, (partition, sort) in table.indexes.items():
        had = indexes.get(index, (partition, sort))
        if had[0] != partition or not _agree(had[1], sort):
            raise ConfigError(
                f"{where}: index `{index}` of table `{name}` is given two key schemas"
            )
        indexes[index] = (partition, sort or had[1])
    tables[name] = Table(
        key=known.key or table.key, sort_key=known.sort_key or table.sort_key, indexes=indexes
    )


def merge_tables(where: str, *groups: Mapping[str, Table]) -> dict[str, Table]:
    """The tables of every group, each table's key schemas merged (a sort key one group lacks
    is taken from another).

    Raises
    ------
    ConfigError
        Two groups give one table (or index) different keys, or a table's own key is known
        from none (only an index of it is read).
    """
    tables: dict[str, Table] = {}
    for group in groups:
        for name, table in group.items():
            _merge(where, tables, name, table)
    for name, table in tables.items():
        if table.key is None:
            raise ConfigError(
                f"{where}: table `{name}` is read only through an index, so nothing says its "
                f'own key: declare it, `[tables.{name}]` with `key = "..."`'
            )
    return tables


def implied_tables(lookup: Lookup, where: str) -> dict[str, Table]:
    """The tables `lookup` reads, with the key schemas its reads imply.

    An item read gives its table's keys; a query on a table its partition (and sort) key; a
    query on an index that index's keys. A query without `sort_begins_with` implies no sort key.
    """
    tables: dict[str, Table] = {}
    for source in (lookup.primary, *lookup.related):
        names = [attribute for attribute, _ in source.key]
        sort = names[1] if len(names) > 1 else None
        _merge(where, tables, source.table, Table(key=names[0], sort_key=sort))
    for query in lookup.queries:
        sort = query.sort_prefix[0] if query.sort_prefix is not None else None
        if query.index is None:
            _merge(where, tables, query.table, Table(key=query.partition[0], sort_key=sort))
        else:
            index = Table(key=None, indexes={query.index: (query.partition[0], sort)})
            _merge(where, tables, query.table, index)
    return tables


def _project(item: Item, names: Iterable[str]) -> Item:
    return {name: item[name] for name in dict.fromkeys(names) if name in item}


class MemoryStore:
    """Items per table, answering the store's three reads (see the module docstring).

    Parameters
    ----------
    items
        Table name -> its items, as plain JSON values (each with its key attributes).
    tables
        Each table's key schema, for query order and index membership.
    failure
        `ok`, or how every read fails.
    """

    def __init__(
        self,
        items: Mapping[str, Sequence[Mapping[str, JSONValue]]],
        tables: Mapping[str, Table],
        failure: StoreMode = "ok",
    ) -> None:
        self._items = {name: [stored(item) for item in rows] for name, rows in items.items()}
        self._tables = dict(tables)
        self._failure = failure
        self.reads: list[str] = []
        """What was asked, in order (`GetItem profiles`, ...): for tests."""

    def _fail(self, action: str) -> None:
        self.reads.append(action)
        if self._failure != "ok":
            raise FAILURES[self._failure](f"the case's store fails every read: {self._failure}")

    def _find(self, table: str, key: tuple[tuple[str, str], ...]) -> Item | None:
        for item in self._items.get(table, ()):
            if all(item.get(attribute) == value for attribute, value in key):
                return item
        return None

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """The item `read` names, projected as the store projects it."""
        source = read.source
        self._fail(f"GetItem {source.table}")
        found = self._find(source.table, read.key)
        keys = [attribute for attribute, _ in read.key]
        return None if found is None else _project(found, [*keys, *source.attributes])

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """The items `reads` name; one projection per table, as BatchGetItem sends it."""
        self._fail("BatchGetItem " + ",".join(dict.fromkeys(r.source.table for r in reads)))
        projections: dict[str, list[str]] = {}
        for read in reads:
            names = projections.setdefault(read.source.table, [a for a, _ in read.key])
            names += read.source.attributes
        answers: list[Item | None] = []
        for read in reads:
            found = self._find(read.source.table, read.key)
            projected = None if found is None else _project(found, projections[read.source.table])
            answers.append(projected)
        return answers

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """The items `read` matches, in sort-key order, at most `limit`, projected."""
        source = read.source
        self._fail(f"Query {source.table}{f' {source.index}' if source.index else ''}")
        table = self._tables.get(source.table)
        partition = source.partition[0]
        sort: str | None = source.sort_prefix[0] if source.sort_prefix is not None else None
        if table is not None and sort is None:
            sort = (
                table.sort_key
                if source.index is None
                else table.indexes.get(source.index, (partition, None))[1]
            )
        matched = []
        for item in self._items.get(source.table, ()):
            if item.get(partition) != read.partition:
                continue
            value = item.get(sort) if sort is not None else None
            if sort is not None and not isinstance(value, str):
                continue  # not in that index (or not that table's item)
            if read.prefix is not None and not (value or "").startswith(read.prefix):
                continue
            matched.append(item)
        if sort is not None:
            matched.sort(key=lambda item: str(item[sort]))
        return [_project(item, source.attributes) for item in matched[: source.limit]]
