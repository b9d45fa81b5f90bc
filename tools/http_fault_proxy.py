"""An HTTP/1.1 fault proxy in front of a DynamoDB endpoint: faults per request, at set rates.

Unlike `fault_proxy` (one mode for every connection), this one reads each request on a kept-alive
connection and draws its fate: forward it, add latency (log-normal), stall past any deadline,
answer `ProvisionedThroughputExceededException` or a 500, or reset the connection. It runs in its
own process so it never competes for the measured client's GIL:
`python -m tools.http_fault_proxy --upstream URL` prints its endpoint on the first line.
`POST /__faults` with a JSON body sets the rates; `GET /__faults` returns what was injected.
"""

import argparse
import asyncio
import json
import math
import random
import socket
import struct
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tools.fault_proxy import http_response
from tools.processes import endpoint_process

__all__ = ("Rates", "proxy_process", "read_counts", "set_rates")

Rates = dict[str, float]
"""Probabilities per request: `latency`, `stall`, `throttle`, `error5xx`, `reset`; plus
`latency_median_ms`, `latency_sigma` and `stall_seconds` to shape them."""

_THROTTLE = http_response(
    400,
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}',
    "Bad Request",
)
_SERVER_ERROR = http_response(
    500, b'{"__type":"com.amazonaws.dynamodb#InternalServerError"}', "Internal Server Error"
)
_FAULTS = ("stall", "throttle", "error5xx", "reset", "latency")


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head, await reader.readexactly(length)


class _Proxy:
    def __init__(self, upstream: tuple[str, int], seed: int) -> None:
        self.upstream = upstream
        self.rates: Rates = {}
        self.counts: dict[str, int] = {"forwarded": 0, **dict.fromkeys(_FAULTS, 0)}
        self.random = random.Random(seed)

    def draw(self) -> str:
        roll = self.random.random()
        for fault in _FAULTS:
            chance = self.rates.get(fault, 0.0)
            if roll < chance:
                return fault
            roll -= chance
        return "forward"

    def latency_seconds(self) -> float:
        median = self.rates.get("latency_median_ms", 10.0) / 1000
        return median * math.exp(self.random.gauss(0, self.rates.get("latency_sigma", 0.8)))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                head, body = await _read_message(reader)
                if head.startswith(b"GET /__faults") or head.startswith(b"POST /__faults"):
                    if head.startswith(b"POST"):
                        self.rates = json.loads(body)
                    data = json.dumps(self.counts).encode()
                    writer.write(http_response(200, data, "OK", close=False))
                    await writer.drain()
                    continue
                fate = self.draw()
                self.counts[fate if fate != "forward" else "forwarded"] += 1
                if fate == "stall":
                    await asyncio.sleep(self.rates.get("stall_seconds", 10.0))
                    return
                if fate == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if fate in ("throttle", "error5xx"):
                    writer.write(_THROTTLE if fate == "throttle" else _SERVER_ERROR)
                    await writer.drain()
                    return  # the canned answers say `Connection: close`
                if fate == "latency":
                    await asyncio.sleep(self.latency_seconds())
                if upstream is None:
                    upstream = await asyncio.open_connection(*self.upstream)
                upstream[1].write(head + body)
                await upstream[1].drain()
                response_head, response_body = await _read_message(upstream[0])
                writer.write(response_head + response_body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if upstream is not None:
                upstream[1].close()
            writer.close()


async def _run(upstream: str, seed: int) -> None:
    host, _, port = upstream.removeprefix("http://").partition(":")
    proxy = _Proxy((host, int(port)), seed)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--upstream", required=True, help="http://host:port of the DynamoDB endpoint"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_run(args.upstream, args.seed))
    except KeyboardInterrupt:
        sys.exit(0)


@contextmanager
def proxy_process(upstream: str, seed: int = 1) -> Iterator[str]:
    """Run the proxy in its own process; yield its endpoint."""
    with endpoint_process(
        "tools.http_fault_proxy", "--upstream", upstream, "--seed", str(seed)
    ) as endpoint:
        yield endpoint


def _control(endpoint: str, rates: Rates | None) -> dict[str, int]:
    data = None if rates is None else json.dumps(rates).encode()
    request = urllib.request.Request(
        f"{endpoint}/__faults", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        counts: dict[str, int] = json.loads(response.read())
    return counts


def set_rates(endpoint: str, rates: Rates) -> None:
    """Set the fault rates from now on."""
    _control(endpoint, rates)


def read_counts(endpoint: str) -> dict[str, Any]:
    """Requests forwarded and faults injected so far."""
    return _control(endpoint, None)


if __name__ == "__main__":
    main()
