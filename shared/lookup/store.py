"""DynamoDB's read operations: GetItem, BatchGetItem and Query, built and answered.

`Store` turns the lookup's reads (`shared.lookup.sources`) into request payloads (a projection
per source, built once) and their answers into plain items (`shared.lookup.wire`), through a
`Sender`: the container's connection (`shared.lookup.dynamodb.Connection`, which signs, sends,
retries until the deadline and translates every failure into a `StoreError`). A corrupted 2xx
body is `StoreUnavailable`, never a missing profile. Imports no HTTP library.
"""

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import msgspec

from shared.errors import StoreThrottled, StoreTimeout, StoreUnavailable
from shared.lookup.sources import ItemRead, ItemSource, QueryRead, QuerySource
from shared.lookup.wire import decode_batch_get, decode_get_item, decode_query
from shared.values import Item

__all__ = ("Sender", "Store", "backoff", "projection")

_BACKOFF_BASE_SECONDS: Final = 0.05
"""First retry waits up to this long (full jitter), doubling per retry."""
_BACKOFF_CAP_SECONDS: Final = 1.0


class Sender(Protocol):
    """Sends one DynamoDB request, retries included, by an absolute deadline (loop time)."""

    async def send(self, action: str, payload: Mapping[str, Any], deadline: float) -> bytes:
        """The 200 answer's body; a `StoreError` otherwise."""
        ...


def backoff(retry: int) -> float:
    """Seconds to wait before retry number `retry` (1, 2, ...): full jitter, doubling, capped."""
    return random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (retry - 1)))


def _deadline(timeout: float) -> float:
    return asyncio.get_running_loop().time() + timeout


def projection(key: tuple[str, ...], attributes: tuple[str, ...]) -> dict[str, Any]:
    """The `ProjectionExpression` and its names for a read of `attributes` (and `key`).

    The key attributes are always projected, so an item that holds none of the mapped
    attributes still comes back and is told apart from a missing one.
    """
    wanted = dict.fromkeys((*key, *attributes))
    names = {f"#a{index}": name for index, name in enumerate(wanted)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _key(key: tuple[tuple[str, str], ...]) -> dict[str, dict[str, str]]:
    return {attribute: {"S": value} for attribute, value in key}


def _key_of(item: Item, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """An answered item's key, as its read named it (key values are strings: S)."""
    key = []
    for name in names:
        value = item.get(name)
        key.append((name, value if isinstance(value, str) else ""))
    return tuple(key)


_Positions = dict[tuple[str, tuple[tuple[str, str], ...]], list[int]]
"""(table, key) -> the positions of the reads that asked for it."""


def _batch_requests(
    reads: Sequence[ItemRead], consistent: bool
) -> tuple[_Positions, dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """BatchGetItem's `RequestItems` for `reads`, where each answer goes, each table's key names.

    One entry per table: its keys once each (DynamoDB refuses a key asked twice) and one
    projection holding every source's attributes.
    """
    positions: _Positions = {}
    tables: dict[str, tuple[tuple[str, ...], dict[str, None]]] = {}
    for index, read in enumerate(reads):
        table = read.source.table
        positions.setdefault((table, read.key), []).append(index)
        key_names = tuple(attribute for attribute, _ in read.key)
        _, attributes = tables.setdefault(table, (key_names, {}))
        attributes.update(dict.fromkeys(read.source.attributes))
    requests: dict[str, dict[str, Any]] = {
        table: {
            "Keys": [_key(key) for (of, key) in positions if of == table],
            "ConsistentRead": consistent,
            **projection(key_names, tuple(attributes)),
        }
        for table, (key_names, attributes) in tables.items()
    }
    return positions, requests, {table: names for table, (names, _) in tables.items()}


class Store:
    """Reads items (GetItem, BatchGetItem, Query) through the container's one connection.

    Each read ends by its `timeout`, attempts and backoff included. Projections are built once
    per source (sources live as long as the container).
    """

    __slots__ = ("_projections", "_sender")

    def __init__(self, sender: Sender) -> None:
        """Read through `sender` (the container's connection)."""
        self._sender = sender
        self._projections: dict[int, tuple[ItemSource | QuerySource, dict[str, Any]]] = {}

    @property
    def sender(self) -> Sender:
        """What the requests go through: the container's connection."""
        return self._sender

    def _projected(self, source: ItemSource | QuerySource, key: tuple[str, ...]) -> dict[str, Any]:
        known = self._projections.get(id(source))
        if known is None or known[0] is not source:
            # The source is kept beside its projection, so its id is never reused meanwhile.
            known = (source, projection(key, source.attributes))
            self._projections[id(source)] = known
        return known[1]

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """Fetch the item `read` names, or None when there is none.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        payload = {
            "TableName": source.table,
            "Key": _key(read.key),
            "ConsistentRead": consistent,
            **self._projected(source, tuple(attribute for attribute, _ in read.key)),
        }
        body = await self._sender.send("GetItem", payload, _deadline(timeout))
        try:
            return decode_get_item(body)
        except msgspec.DecodeError as exc:
            # A corrupted answer must be an error, never a missing profile.
            raise StoreUnavailable("GetItem response body is not a JSON object") from exc

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """Fetch the items `reads` name with BatchGetItem, in their order (None: no such item).

        Keys DynamoDB leaves unprocessed are asked again after a jittered backoff, while the
        deadline allows; when no further round fits, `StoreThrottled`.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        deadline = _deadline(timeout)
        positions, requests, key_names_of = _batch_requests(reads, consistent)
        found: list[Item | None] = [None] * len(reads)
        loop = asyncio.get_running_loop()
        rounds = 0
        while requests:
            try:
                body = await self._sender.send("BatchGetItem", {"RequestItems": requests}, deadline)
            except StoreTimeout as exc:
                if not rounds:
                    raise
                # The deadline cut a round asking again for unprocessed keys: report what the
                # round before met, a throttle, as a cut retry always is.
                left = sum(len(entry["Keys"]) for entry in requests.values())
                raise StoreThrottled(
                    f"DynamoDB left {left} BatchGetItem keys unprocessed until the deadline"
                ) from exc
            try:
                items, unprocessed = decode_batch_get(body)
            except msgspec.DecodeError as exc:
                raise StoreUnavailable("BatchGetItem response body is not a JSON object") from exc
            for table, table_items in items.items():
                names = key_names_of.get(table, ())
                for item in table_items:
                    for position in positions.get((table, _key_of(item, names)), ()):
                        found[position] = item
            requests = {
                table: requests[table] | {"Keys": keys}
                for table, keys in unprocessed.items()
                if keys and table in requests
            }
            if requests:
                rounds += 1
                delay = backoff(rounds)
                if loop.time() + delay >= deadline:
                    left = sum(len(entry["Keys"]) for entry in requests.values())
                    raise StoreThrottled(
                        f"DynamoDB left {left} BatchGetItem keys unprocessed until the deadline"
                    )
                await asyncio.sleep(delay)
        return found

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """The items `read` matches, in key order: one page (at most `limit` items, 1 MB).

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        projection = self._projected(source, ())
        names = {**projection["ExpressionAttributeNames"], "#p": source.partition[0]}
        values = {":p": {"S": read.partition}}
        condition = "#p = :p"
        if source.sort_prefix is not None and read.prefix is not None:
            names["#s"] = source.sort_prefix[0]
            values[":s"] = {"S": read.prefix}
            condition += " AND begins_with(#s, :s)"
        payload: dict[str, Any] = {
            "TableName": source.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": names,
            "ProjectionExpression": projection["ProjectionExpression"],
            "Limit": source.limit,
            "ConsistentRead": consistent and source.index is None,
        }
        if source.index is not None:
            payload["IndexName"] = source.index
        body = await self._sender.send("Query", payload, _deadline(timeout))
        try:
            items, _ = decode_query(body)
        except msgspec.DecodeError as exc:
            raise StoreUnavailable("Query response body is not a JSON object") from exc
        return items
