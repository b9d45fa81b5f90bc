"""HTTP/1.1 over asyncio for the store: our own keep-alive connections, llhttp parses answers.

`Transport` is what the store and the credentials send requests through: an aiodynamo
`HttpImplementation` (`await transport(Request)` returns `Response(status, body)`, a
connection-level failure raises `RequestFailed(inner)`), with `aclose()`. The protocol is
parsed by a maintained parser, never by us: llhttp (the parser of Node and aiohttp) through
`httptools`, behind the small `Codec` interface (the bench plugs h11 in the same way). What is
ours is the connection handling:

- one keep-alive pool per origin (scheme, host, port), kept across invocations: the most recently
  used idle connection first, at most `MAX_IDLE_PER_ORIGIN` idle, none idle longer than
  `IDLE_SECONDS`;
- a kept-alive connection the server closed while idle (or closes as the request goes out,
  before a byte of the answer) is retried once on a fresh connection; a fresh connection that
  fails is a failure (every request the store sends is a read, so asking again is safe);
- no bound of its own: every phase (connect, TLS handshake, write, read) runs under the caller's
  deadline (the store's `asyncio.timeout_at` per attempt), and a connection whose exchange was
  cut short, by cancellation or by any failure, is closed, never pooled;
- TLS always verified (`ssl.SSLContext` given by the caller, hostname checked);
- a body cut short (`ResponseTruncated`), larger than `MAX_BODY_BYTES` (`ResponseTooLarge`), or
  bytes that are not HTTP (`MalformedResponse`) fail the request; Content-Length, chunked and
  close-delimited bodies are read.

Requests carry the caller's headers plus `Host` and, with a body, `Content-Length` (callers
pass neither).
"""

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple, Protocol, cast
from urllib.parse import urlsplit

from aiodynamo.http.types import Request, RequestFailed, Response
from httptools import HttpParserError, HttpResponseParser

__all__ = (
    "IDLE_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_IDLE_PER_ORIGIN",
    "Codec",
    "Http",
    "LlhttpCodec",
    "MalformedResponse",
    "ProtocolError",
    "ResponseTooLarge",
    "ResponseTruncated",
    "Transport",
)

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""A response body past this is an error (DynamoDB's largest answers are a few MB)."""
IDLE_SECONDS: Final = 30.0
"""An idle connection older than this is closed rather than reused."""
MAX_IDLE_PER_ORIGIN: Final = 8
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class ProtocolError(Exception):
    """The server's answer is not a usable HTTP/1.1 response."""


class MalformedResponse(ProtocolError):
    """Bytes the parser refuses."""


class ResponseTruncated(ProtocolError):
    """The connection closed before the whole response arrived."""


class ResponseTooLarge(ProtocolError):
    """The body is (or announces itself) larger than the transport accepts."""


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


class Codec(Protocol):
    """One connection's HTTP/1.1: requests to bytes, bytes to one response at a time."""

    def request(
        self,
        method: str,
        target: str,
        authority: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> bytes:
        """The request's bytes; also starts a new exchange (the previous response was read)."""
        ...

    def feed(self, data: bytes) -> bool:
        """Take bytes of the answer; True once the response is complete.

        Raises
        ------
        ProtocolError
            Malformed, or too large.
        """
        ...

    def eof(self) -> bool:
        """The connection closed: True when that completes the response (a close-delimited body).

        Raises
        ------
        ProtocolError
            The response had started and is cut short.
        """
        ...

    @property
    def started(self) -> bool:
        """Whether any byte of the current answer arrived."""
        ...

    @property
    def keep_alive(self) -> bool:
        """Whether the connection may carry another request after this complete response."""
        ...

    def response(self) -> Response:
        """The complete response."""
        ...


class LlhttpCodec:
    """`Codec` on llhttp (`httptools.HttpResponseParser`); the request is written here."""

    __slots__ = (
        "_complete",
        "_extra",
        "_failure",
        "_framed",
        "_headers_done",
        "_keep_alive",
        "_limit",
        "_parser",
        "_parts",
        "_size",
        "_started",
        "_status",
    )

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        """Parse responses whose body is at most `limit` bytes."""
        self._limit = limit
        self._parser = HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._status = 0
        self._started = False
        self._complete = False
        self._keep_alive = False
        self._extra = False
        self._framed = False
        self._headers_done = False
        self._failure: ProtocolError | None = None

    def request(
        self,
        method: str,
        target: str,
        authority: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> bytes:
        """`method target HTTP/1.1`, `Host`, the headers, `Content-Length` with a body."""
        self._reset()
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {authority}\r\n"]
        if headers:
            lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n")
        head = "".join(lines)
        # Two line ends on the first line, one on each other: a name or value holding a line
        # break would split its header in two.
        ends = len(lines) + 1
        if head.count("\n") != ends or head.count("\r") != ends:
            raise ValueError("a request header holds a line break")
        data = (head + "\r\n").encode("latin-1")
        return data + body if body else data

    def feed(self, data: bytes) -> bool:
        """Parse `data`; True once the response is complete."""
        self._started = True
        try:
            self._parser.feed_data(data)
        except HttpParserError as exc:
            if self._complete and self._failure is None:
                self._extra = True  # junk after a whole response: keep it, drop the connection
                return True
            raise (self._failure or MalformedResponse(f"not an HTTP/1.1 response: {exc}")) from exc
        return self._complete

    def eof(self) -> bool:
        """True when the close ends a body framed by neither Content-Length nor chunking."""
        if self._complete:
            return True
        if self._headers_done and not self._framed:
            self._complete = True
            return True
        if self._started:
            raise ResponseTruncated(
                f"the connection closed after {self._size} bytes of the body"
                if self._headers_done
                else "the connection closed inside the response's head"
            )
        return False

    @property
    def started(self) -> bool:
        """Whether any byte of the current answer arrived."""
        return self._started

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 without `Connection: close`, and nothing after the response."""
        return self._keep_alive and not self._extra

    def response(self) -> Response:
        """The complete response."""
        return Response(self._status, b"".join(self._parts))

    # llhttp's callbacks (httptools calls them by name)

    def on_message_begin(self) -> None:
        if self._complete:
            self._extra = True  # bytes past the response: the connection is not to be trusted

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length":
            self._framed = True
            if value.strip().isdigit() and int(value) > self._limit:
                self._too_large(f"announces {int(value)} bytes")
        elif lowered == b"transfer-encoding":
            self._framed = True

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._limit:
            self._too_large(f"passed {self._limit} bytes")
        self._parts.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._status, self._headers_done, self._framed = 0, False, False
            return
        # Asked here: once the callback returns, llhttp resets for the next message.
        self._keep_alive = self._parser.should_keep_alive()
        self._complete = True

    def _too_large(self, detail: str) -> None:
        self._failure = ResponseTooLarge(f"the response body {detail}, over {self._limit} bytes")
        raise self._failure


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
