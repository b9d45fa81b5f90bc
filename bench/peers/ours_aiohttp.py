"""Ours on aiohttp, the store's transport before `shared.lookup.transport`: aiodynamo's aiohttp
adapter over one `aiohttp.ClientSession`, configured as the store had it (no total timeout: the
connection bounds every attempt; no `User-Agent` or `Accept-Encoding`), verifying TLS with the
connection's context. Kept as a contender so the transport choice stays measured (`make bench`).
"""

import ssl
from typing import Any

import aiohttp
from aiodynamo.http.aiohttp import AIOHTTP
from aiodynamo.http.types import Request, Response

from bench.peers.ours_on import OursOn

__all__ = ("OURS", "AiohttpTransport", "close", "handler")


class AiohttpTransport:
    """`shared.lookup.transport.Http` on aiohttp: aiodynamo's adapter, and `aclose`."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        """One session whose connector verifies with `tls`."""
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls),
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        self._adapter = AIOHTTP(self.session)

    async def __call__(self, request: Request) -> Response:
        """Send through aiodynamo's adapter (`RequestFailed` on aiohttp's client errors)."""
        return await self._adapter(request)

    async def aclose(self) -> None:
        """Close the session and its connections."""
        await self.session.close()


OURS = OursOn(AiohttpTransport)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one event through our pipeline on aiohttp."""
    return OURS.handler(event, context)


def close() -> None:
    """Close the client and the loop."""
    OURS.close()
