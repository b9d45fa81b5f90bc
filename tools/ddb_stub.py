"""A small DynamoDB-compatible server: GetItem and PutItem over the real JSON 1.0 wire protocol.

For the bench and the fault tests: it answers like DynamoDB does (HTTP/1.1 keep-alive,
`x-amz-crc32`, `x-amzn-RequestId`, `__type` errors), in microseconds, from items held in memory,
so what is measured is the client, not the server. moto closes every connection and takes
milliseconds per request; this stub does neither. Signatures are not checked.

Run as `python -m tools.ddb_stub --items FILE [--key id]`: it prints its endpoint URL on
the first line of standard output and serves on 127.0.0.1 until killed. `GET /__stats` returns
the request counts as JSON.
"""

import argparse
import asyncio
import json
import sys
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.processes import endpoint_process

__all__ = ("Stub", "main", "stats", "stub_process")

_ERROR = "com.amazonaws.dynamodb.v20120810#"


class Stub:
    """Items by partition key value, and the GetItem/PutItem semantics the trigger relies on."""

    def __init__(self, items: list[dict[str, Any]], key: str = "id") -> None:
        self.key = key
        self.items: dict[str, dict[str, Any]] = {item[key]["S"]: item for item in items}
        self.counts: dict[str, int] = {}

    def handle(self, target: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        operation = target.rpartition(".")[2]
        self.counts[operation] = self.counts.get(operation, 0) + 1
        if operation == "GetItem":
            return 200, self._get_item(request)
        if operation == "PutItem":
            item = request["Item"]
            self.items[item[self.key]["S"]] = item
            return 200, {}
        return 400, {"__type": _ERROR + "UnknownOperationException", "message": operation}

    def _get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        key = request["Key"][self.key]["S"]
        item = self.items.get(key)
        if item is None:
            return {}
        projection = request.get("ProjectionExpression")
        if projection:
            names = request.get("ExpressionAttributeNames", {})
            wanted = {names.get(part.strip(), part.strip()) for part in projection.split(",")}
            item = {name: value for name, value in item.items() if name in wanted}
        return {"Item": item}


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
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _run(stub: Stub) -> None:
    server = await asyncio.start_server(lambda r, w: _serve_connection(stub, r, w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--items", type=Path, required=True, help="JSON array of items (DynamoDB JSON)"
    )
    parser.add_argument("--key", default="id", help="partition key attribute")
    args = parser.parse_args(argv)
    stub = Stub(json.loads(args.items.read_text()), args.key)
    try:
        asyncio.run(_run(stub))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()


@contextmanager
def stub_process(items: Path, key: str = "id") -> Iterator[str]:
    """Run the stub in its own process (so it never competes for our GIL); yield its endpoint."""
    with endpoint_process("tools.ddb_stub", "--items", str(items), "--key", key) as endpoint:
        yield endpoint


def stats(endpoint: str) -> dict[str, int]:
    """Request counts by operation since the stub started."""
    with urllib.request.urlopen(f"{endpoint}/__stats", timeout=5) as response:
        counts: dict[str, int] = json.loads(response.read())
    return counts
