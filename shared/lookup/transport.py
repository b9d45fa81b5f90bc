"""HTTP/1.1 over asyncio for the connection: our own keep-alive connections, llhttp parses.

`Transport` is what `shared.lookup.dynamodb` and the credentials send requests through: an
aiodynamo `HttpImplementation` (`await transport(Request)` returns `Response(status, body)`, a
connection-level failure raises `RequestFailed(inner)`), with `aclose()`. The protocol is
written and parsed by a `Codec` (`shared.lookup.codec`: llhttp through `httptools` by default,
never a parser of ours; the bench plugs h11 in the same way). What is ours is the connection
handling:

- one keep-alive pool per origin (scheme, host, port), kept across invocations: the most recently
  used idle connection first, at most `MAX_IDLE_PER_ORIGIN` idle, none idle longer than
  `IDLE_SECONDS`;
- a kept-alive connection the server closed while idle (or closes as the request goes out,
  before a byte of the answer) is retried once on a fresh connection; a fresh connection that
  fails is a failure (every request the store sends is a read, so asking again is safe);
- no bound of its own: every phase (connect, TLS handshake, write, read) runs under the caller's
  deadline (`Connection.send`'s `asyncio.timeout_at` per attempt), and a connection whose
  exchange was cut short, by cancellation or by any failure, is closed, never pooled;
- TLS always verified (`ssl.SSLContext` given by the caller, hostname checked);
- an answer the codec refuses (a `ProtocolError`: cut short, too large, not HTTP) fails the
  request as `RequestFailed` with that error as its `inner`.

Requests carry the caller's headers plus `Host` and, with a body, `Content-Length` (callers
pass neither).
"""

import asyncio
import ssl
import time
from collections.abc import Callable
from typing import Final, NamedTuple, Protocol, cast
from urllib.parse import urlsplit

from aiodynamo.http.types import Request, RequestFailed, Response

from shared.lookup.codec import MAX_BODY_BYTES, Codec, LlhttpCodec, ProtocolError

__all__ = ("IDLE_SECONDS", "MAX_IDLE_PER_ORIGIN", "Http", "Transport")

IDLE_SECONDS: Final = 30.0
"""An idle connection older than this is closed rather than reused."""
MAX_IDLE_PER_ORIGIN: Final = 8
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class _Unanswered(Exception):
    """The connection closed before a byte of the answer came: the request may be sent again."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__("the server closed the connection before answering")
        self.cause = cause


class Http(Protocol):
    """What the store sends through: an aiodynamo `HttpImplementation` that can be closed."""

    async def __call__(self, request: Request) -> Response:
        """The response to `request`; `RequestFailed` on a connection-level failure."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


class _Origin(NamedTuple):
    tls: bool
    host: str
    port: int


class _Target(NamedTuple):
    origin: _Origin
    authority: str
    path: str


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying one exchange at a time."""

    def __init__(self, codec: Codec, origin: _Origin) -> None:
        self.codec = codec
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.abort()  # bytes nobody asked for (or came too late): never reuse this
            return
        try:
            complete = self.codec.feed(data)
        except ProtocolError as exc:
            self.waiter = None
            waiter.set_exception(exc)
            self.abort()
            return
        if complete:
            self.waiter = None
            waiter.set_result(self.codec.response())

    def eof_received(self) -> bool:
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        try:
            complete = self.codec.eof()
        except ProtocolError as error:
            error.__cause__ = exc
            waiter.set_exception(error)
            return
        if complete:
            waiter.set_result(self.codec.response())
        else:
            waiter.set_exception(_Unanswered(exc))

    def usable(self, now: float) -> bool:
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and now - self.idle_since < IDLE_SECONDS
        )

    async def exchange(self, data: bytes) -> Response:
        transport = self.transport
        if transport is None or self.closed:
            raise _Unanswered(None)
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        transport.write(data)
        return await waiter

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Transport:
    """An aiodynamo `HttpImplementation` over pooled keep-alive HTTP/1.1 connections.

    Parameters
    ----------
    tls
        Verifies every https connection (certificate and host name); the caller builds it.
    codec
        Makes one connection's `Codec` from the body limit; llhttp by default.
    max_body_bytes
        Longest response body accepted.
    """

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        codec: Callable[[int], Codec] = LlhttpCodec,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        """A transport with no connection yet; the first request opens one."""
        if tls.verify_mode != ssl.CERT_REQUIRED or not tls.check_hostname:
            raise ValueError("the TLS context must verify certificates and host names")
        self.tls = tls
        self._codec = codec
        self._limit = max_body_bytes
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        self.closed = False

    @property
    def connections(self) -> int:
        """Connections open now, idle or busy."""
        self._open = {c for c in self._open if not c.closed}
        return len(self._open)

    async def __call__(self, request: Request) -> Response:
        """Send `request`, return its response.

        Raises
        ------
        RequestFailed
            Connecting, TLS, the connection or the response failed (`inner` says which).
        """
        if self.closed:
            raise RequestFailed(ConnectionError("the transport is closed"))
        target = self._targets.get(request.url) or self._target(request.url)
        connection = self._take(target.origin)
        if connection is not None:
            try:
                return await self._exchange(connection, target, request)
            except _Unanswered:
                pass  # closed by the server while idle: once more, on a fresh connection
        connection = await self._connect(target.origin)
        try:
            return await self._exchange(connection, target, request)
        except _Unanswered as exc:
            failure = ConnectionResetError(str(exc))
            failure.__cause__ = exc.cause
            raise RequestFailed(failure) from exc.cause

    async def aclose(self) -> None:
        """Close every connection; later requests fail. Idempotent."""
        self.closed = True
        self._idle.clear()
        for connection in self._open:
            connection.abort()
        self._open.clear()
        await asyncio.sleep(0)  # let the transports report their connections lost

    def _target(self, url: str) -> _Target:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            raise RequestFailed(ValueError(f"not an http(s) URL: {url!r}"))
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise RequestFailed(exc) from exc
        shown = f"[{host}]" if ":" in host else host
        authority = shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        target = _Target(_Origin(scheme == "https", host, port), authority, path)
        if len(self._targets) >= 64:
            self._targets.clear()
        self._targets[url] = target
        return target

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.abort()
            self._open.discard(connection)
        return None

    def _release(self, connection: _Connection) -> None:
        if self.closed or connection.closed or not connection.codec.keep_alive:
            connection.abort()
            self._open.discard(connection)
            return
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            oldest = idle.pop(0)
            oldest.abort()
            self._open.discard(oldest)
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, origin: _Origin) -> _Connection:
        if self.closed:  # closed while this request waited for another connection
            raise RequestFailed(ConnectionError("the transport is closed"))
        loop = asyncio.get_running_loop()
        connection = _Connection(self._codec(self._limit), origin)
        try:
            if origin.tls:
                await loop.create_connection(
                    lambda: connection,
                    origin.host,
                    origin.port,
                    ssl=self.tls,
                    server_hostname=origin.host,
                )
            else:
                await loop.create_connection(lambda: connection, origin.host, origin.port)
        except OSError as exc:  # refused, unreachable, name not found, TLS refused
            raise RequestFailed(exc) from exc
        self._open.add(connection)
        return connection

    async def _exchange(
        self, connection: _Connection, target: _Target, request: Request
    ) -> Response:
        try:
            data = connection.codec.request(
                request.method, target.path, target.authority, request.headers, request.body
            )
            response = await connection.exchange(data)
        except _Unanswered:
            self._drop(connection)
            raise
        except (ProtocolError, OSError, ValueError) as exc:
            self._drop(connection)
            raise RequestFailed(exc) from exc
        except BaseException:  # cancelled (the caller's deadline) or worse: never pooled
            self._drop(connection)
            raise
        self._release(connection)
        return response

    def _drop(self, connection: _Connection) -> None:
        connection.abort()
        self._open.discard(connection)
