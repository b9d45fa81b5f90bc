"""A small DynamoDB-compatible server: GetItem, PutItem, BatchGetItem and Query over the real
JSON 1.0 wire protocol.

For the bench and the fault tests: it answers like DynamoDB does (HTTP/1.1 keep-alive,
`x-amz-crc32`, `x-amzn-RequestId`, `__type` errors), in microseconds, from items held in memory,
so what is measured is the client, not the server. moto closes every connection and takes
milliseconds per request; this stub does neither. Signatures are not checked.

Tables have a partition key and an optional sort key, and global secondary indexes named by
their (partition, optional sort) attributes. Served: GetItem and PutItem by the full key;
BatchGetItem (`RequestItems` per table, `Keys`, `ProjectionExpression` with
`ExpressionAttributeNames`; never any `UnprocessedKeys`); Query (`KeyConditionExpression`
`#p = :p`, optionally `AND begins_with(#s, :s)`, on the table or an `IndexName`, `Limit`,
`ProjectionExpression`), in sort-key order, one page.

Run as `python -m tools.ddb_stub --items FILE [--key id]` (one table, answering any
`TableName`, keyed by one partition attribute), or `python -m tools.ddb_stub --tables FILE`
(the layout of `events/single-table.seed.json`: `{name: {"key", "sort_key"?, "indexes"?,
"items"}}`); `--tls-cert CHAIN --tls-key KEY` serves HTTPS instead (the bench's TLS mode, with a
throwaway CA's certificate from `tools.tls_certs`). It prints its endpoint URL on the first line
of standard output and serves on 127.0.0.1 until killed. `GET /__stats` returns the request
counts as JSON: by operation (`GetItem`), and by operation and table (`GetItem/tenants`).
"""

import argparse
import asyncio
import json
import re
import ssl
import sys
import urllib.request
import uuid
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.processes import endpoint_process

__all__ = ("Stub", "Table", "main", "stats", "stub_process")

_ERROR = "com.amazonaws.dynamodb.v20120810#"
_CONDITION = re.compile(
    r"^\s*(?P<p>[#\w]+)\s*=\s*(?P<pv>:\w+)\s*"
    r"(?:AND\s+begins_with\s*\(\s*(?P<s>[#\w]+)\s*,\s*(?P<sv>:\w+)\s*\)\s*)?$",
    re.IGNORECASE,
)

Item = dict[str, Any]
KeyValue = tuple[tuple[str, str], ...]
"""A key as (type, value) per key attribute: `(("S", "USER#1"), ("S", "PROFILE"))`."""


class _Refused(Exception):
    """A request DynamoDB would refuse: answered 400 with `ValidationException`."""


def _scalar(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict) or len(value) != 1:
        raise _Refused(f"not a key value: {value!r}")
    ((kind, text),) = value.items()
    if kind not in ("S", "N", "B"):
        raise _Refused(f"key values are S, N or B, not {kind}")
    return kind, str(text)


def _sort_value(item: Item, attribute: str | None) -> tuple[int, float, str]:
    if attribute is None or attribute not in item:
        return 0, 0.0, ""
    kind, text = _scalar(item[attribute])
    return (1, float(text), "") if kind == "N" else (2, 0.0, text)


def _project(item: Item, request: Mapping[str, Any]) -> Item:
    projection = request.get("ProjectionExpression")
    if not projection:
        return item
    names = request.get("ExpressionAttributeNames", {})
    wanted = {names.get(part.strip(), part.strip()) for part in projection.split(",")}
    return {name: value for name, value in item.items() if name in wanted}


class Table:
    """One table: items by (partition, optional sort) key, and its global secondary indexes."""

    def __init__(
        self,
        key: str,
        sort_key: str | None = None,
        indexes: Mapping[str, list[str] | tuple[str, ...]] | None = None,
        items: list[Item] | None = None,
    ) -> None:
        self.key: tuple[str, ...] = (key,) if sort_key is None else (key, sort_key)
        self.indexes = {name: tuple(attributes) for name, attributes in (indexes or {}).items()}
        self.items: dict[KeyValue, Item] = {}
        self._partitions: dict[str | None, dict[tuple[str, str], list[Item]]] = {}
        for item in items or ():
            self.put(item)

    def key_of(self, key: Mapping[str, Any]) -> KeyValue:
        """The stored key of a request's `Key` (or an item); `_Refused` when it does not fit."""
        if set(key) - set(self.key) or any(name not in key for name in self.key):
            raise _Refused(f"the key must be exactly {list(self.key)}, not {sorted(key)}")
        return tuple(_scalar(key[name]) for name in self.key)

    def put(self, item: Item) -> None:
        self.items[self.key_of({name: item.get(name) for name in self.key})] = item
        self._partitions.clear()

    def get(self, key: Mapping[str, Any]) -> Item | None:
        return self.items.get(self.key_of(key))

    def partition(self, index: str | None, value: tuple[str, str]) -> tuple[list[Item], str | None]:
        """The items of one partition of the table or an index, in sort-key order; the sort key."""
        if index is None:
            attributes = self.key
        elif index in self.indexes:
            attributes = self.indexes[index]
        else:
            raise _Refused(f"the table has no index {index}")
        sort = attributes[1] if len(attributes) > 1 else None
        partitions = self._partitions.get(index)
        if partitions is None:
            partitions = {}
            for item in self.items.values():
                raw = item.get(attributes[0])
                if isinstance(raw, dict) and len(raw) == 1:
                    partitions.setdefault(_scalar(raw), []).append(item)
            for members in partitions.values():
                members.sort(key=lambda member: _sort_value(member, sort))
            self._partitions[index] = partitions
        return partitions.get(value, []), sort


class Stub:
    """Tables of items in memory, and the read semantics the trigger relies on.

    `Stub(items, key)` is one table keyed by `key` that answers any `TableName` (as the stub
    always did); `Stub(tables=...)` holds named tables, and a request naming another table is
    refused with `ResourceNotFoundException`, as DynamoDB does.
    """

    def __init__(
        self,
        items: list[Item] | None = None,
        key: str = "id",
        *,
        tables: Mapping[str, Table] | None = None,
    ) -> None:
        self.tables: dict[str, Table] = dict(tables or {})
        self.default = Table(key, items=items or []) if tables is None else None
        self.key = key
        self.counts: dict[str, int] = {}

    @classmethod
    def from_layout(cls, layout: Mapping[str, Mapping[str, Any]]) -> "Stub":
        """Tables as `events/single-table.seed.json` lays them out."""
        return cls(
            tables={
                name: Table(
                    spec["key"], spec.get("sort_key"), spec.get("indexes"), spec.get("items", [])
                )
                for name, spec in layout.items()
            }
        )

    def table(self, name: str) -> Table:
        table = self.tables.get(name, self.default)
        if table is None:
            raise LookupError(name)
        return table

    def handle(self, target: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        operation = target.rpartition(".")[2]
        self._count(operation)
        tables = request.get("RequestItems") if operation == "BatchGetItem" else None
        for table in tables if isinstance(tables, dict) else (request.get("TableName"),):
            if isinstance(table, str):
                self._count(f"{operation}/{table}")
        try:
            if operation == "GetItem":
                return 200, self._get_item(request)
            if operation == "PutItem":
                self.table(request["TableName"]).put(request["Item"])
                return 200, {}
            if operation == "BatchGetItem":
                return 200, self._batch_get(request)
            if operation == "Query":
                return 200, self._query(request)
        except LookupError as exc:
            return 400, {
                "__type": _ERROR + "ResourceNotFoundException",
                "message": f"Requested resource not found: {exc}",
            }
        except (_Refused, KeyError, TypeError, ValueError) as exc:
            return 400, {"__type": _ERROR + "ValidationException", "message": str(exc)}
        return 400, {"__type": _ERROR + "UnknownOperationException", "message": operation}

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def _get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        item = self.table(request.get("TableName", "")).get(request["Key"])
        return {} if item is None else {"Item": _project(item, request)}

    def _batch_get(self, request: dict[str, Any]) -> dict[str, Any]:
        requested: dict[str, dict[str, Any]] = request["RequestItems"]
        if sum(len(entry["Keys"]) for entry in requested.values()) > 100:
            raise _Refused("too many items requested for the BatchGetItem call")
        responses: dict[str, list[Item]] = {}
        for name, entry in requested.items():
            table = self.table(name)
            found = responses.setdefault(name, [])
            seen: set[KeyValue] = set()
            for key in entry["Keys"]:
                stored = table.key_of(key)
                if stored in seen:
                    raise _Refused("Provided list of item keys contains duplicates")
                seen.add(stored)
                item = table.items.get(stored)
                if item is not None:
                    found.append(_project(item, entry))
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _query(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self.table(request["TableName"])
        match = _CONDITION.match(request["KeyConditionExpression"])
        if match is None:
            raise _Refused(
                f"unsupported KeyConditionExpression {request['KeyConditionExpression']}"
            )
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        members, sort = table.partition(request.get("IndexName"), _scalar(values[match["pv"]]))
        if match["s"] is not None:
            if names.get(match["s"], match["s"]) != sort:
                raise _Refused("begins_with applies to the sort key only")
            prefix = _scalar(values[match["sv"]])[1]
            members = [m for m in members if sort in m and _scalar(m[sort])[1].startswith(prefix)]
        if request.get("ScanIndexForward") is False:
            members = members[::-1]
        limit = int(request.get("Limit", len(members) or 1))
        page = members[:limit]
        answer: dict[str, Any] = {
            "Items": [_project(item, request) for item in page],
            "Count": len(page),
            "ScannedCount": len(page),
        }
        if len(members) > limit:
            last = page[-1]
            keys = set(table.key) | set(table.indexes.get(request.get("IndexName") or "", ()))
            answer["LastEvaluatedKey"] = {name: last[name] for name in keys if name in last}
        return answer


async def _serve_connection(
    stub: Stub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" and path == "/__stats":
                status, payload = 200, dict(stub.counts)
            else:
                request = json.loads(body) if body else {}
                status, payload = stub.handle(headers.get("x-amz-target", ""), request)
            data = json.dumps(payload, separators=(",", ":")).encode()
            writer.write(
                (
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
                    "Content-Type: application/x-amz-json-1.0\r\n"
                    f"Content-Length: {len(data)}\r\n"
                    f"x-amz-crc32: {zlib.crc32(data) & 0xFFFFFFFF}\r\n"
                    f"x-amzn-RequestId: {uuid.uuid4().hex}\r\n"
                    "\r\n"
                ).encode()
                + data
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _run(stub: Stub, tls: ssl.SSLContext | None = None) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(stub, r, w), "127.0.0.1", 0, ssl=tls
    )
    port = server.sockets[0].getsockname()[1]
    print(f"{'https' if tls else 'http'}://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--items", type=Path, help="JSON array of items (DynamoDB JSON)")
    source.add_argument(
        "--tables", type=Path, help="JSON object of tables, as events/single-table.seed.json"
    )
    parser.add_argument("--key", default="id", help="partition key attribute (with --items)")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS: certificate chain (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    tls = None
    if args.tls_cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    if args.tables is not None:
        stub = Stub.from_layout(json.loads(args.tables.read_text()))
    else:
        stub = Stub(json.loads(args.items.read_text()), args.key)
    try:
        asyncio.run(_run(stub, tls))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()


@contextmanager
def stub_process(
    items: Path | None = None,
    key: str = "id",
    *,
    tables: Path | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """Run the stub in its own process (so it never competes for our GIL); yield its endpoint.

    `items` (one table keyed by `key`) or `tables` (a layout file of named tables); `tls`, a
    (certificate chain, key) pair, serves HTTPS.
    """
    if (items is None) == (tables is None):
        raise ValueError("give items or tables, not both")
    args: tuple[str, ...] = (
        ("--tables", str(tables)) if tables is not None else ("--items", str(items), "--key", key)
    )
    if tls is not None:
        args += ("--tls-cert", str(tls[0]), "--tls-key", str(tls[1]))
    with endpoint_process("tools.ddb_stub", *args) as endpoint:
        yield endpoint


def stats(endpoint: str, tls: ssl.SSLContext | None = None) -> dict[str, int]:
    """Request counts since the stub started: by operation, and by `operation/table`."""
    with urllib.request.urlopen(f"{endpoint}/__stats", timeout=5, context=tls) as response:
        counts: dict[str, int] = json.loads(response.read())
    return counts
