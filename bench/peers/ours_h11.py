"""Ours on `shared.lookup.transport` with h11 parsing instead of llhttp (`bench.h11_codec`).

The other candidate of issue 21: the same connection handling, h11 writing requests and parsing
answers. Measured beside ours in `make bench`; nothing here ships.
"""

import ssl
from typing import Any

from bench.h11_codec import H11Codec
from bench.peers.ours_on import OursOn
from shared.lookup.transport import Transport

__all__ = ("OURS", "close", "h11_transport", "handler")


def h11_transport(tls: ssl.SSLContext) -> Transport:
    """`shared.lookup.transport.Transport` parsing with h11."""
    return Transport(tls, codec=H11Codec)


OURS = OursOn(h11_transport)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one event through our pipeline, h11 parsing."""
    return OURS.handler(event, context)


def close() -> None:
    """Close the client and the loop."""
    OURS.close()
