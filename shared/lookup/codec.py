"""HTTP/1.1 on one connection for `shared.lookup.transport`: requests written, answers parsed.

The protocol is parsed by a maintained parser, never by us: llhttp (the parser of Node and
aiohttp) through `httptools`, in `LlhttpCodec`, behind the small `Codec` interface the transport
drives (the bench plugs h11 in the same way). A body cut short (`ResponseTruncated`), larger
than `MAX_BODY_BYTES` (`ResponseTooLarge`), or bytes that are not HTTP (`MalformedResponse`)
are `ProtocolError`s; Content-Length, chunked and close-delimited bodies are read, interim
(1xx) answers skipped, and bytes after a whole answer keep the answer but not the connection.
"""

from collections.abc import Mapping
from typing import Final, Protocol

from aiodynamo.http.types import Response
from httptools import HttpParserError, HttpResponseParser

__all__ = (
    "MAX_BODY_BYTES",
    "Codec",
    "LlhttpCodec",
    "MalformedResponse",
    "ProtocolError",
    "ResponseTooLarge",
    "ResponseTruncated",
)

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""A response body past this is an error (DynamoDB's largest answers are a few MB)."""


class ProtocolError(Exception):
    """The server's answer is not a usable HTTP/1.1 response."""


class MalformedResponse(ProtocolError):
    """Bytes the parser refuses."""


class ResponseTruncated(ProtocolError):
    """The connection closed before the whole response arrived."""


class ResponseTooLarge(ProtocolError):
    """The body is (or announces itself) larger than the transport accepts."""


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
