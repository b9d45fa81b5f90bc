"""A `shared.lookup.codec.Codec` on h11 (pure Python, sans-I/O): the other parser issue 21 measured.

h11 writes the request (its state machine must see it) and parses the answer; the connection
handling stays `shared.lookup.transport`'s. Used by `bench.peers.ours_h11` and by the transport
tests (the same fault matrix for both parsers); nothing here ships.
"""

from collections.abc import Mapping

import h11
from aiodynamo.http.types import Response

from shared.lookup.codec import (
    MAX_BODY_BYTES,
    MalformedResponse,
    ResponseTooLarge,
    ResponseTruncated,
)

__all__ = ("H11Codec",)


class H11Codec:
    """`shared.lookup.codec.Codec` on one `h11.Connection` (client side), reused per keep-alive."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        """Parse responses whose body is at most `limit` bytes."""
        self._limit = limit
        self._connection = h11.Connection(h11.CLIENT)
        self._parts: list[bytes] = []
        self._size = 0
        self._status = 0
        self._started = False
        self._complete = False

    def request(
        self,
        method: str,
        target: str,
        authority: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> bytes:
        """h11's bytes for the request, `Host` and `Content-Length` added."""
        connection = self._connection
        if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
            connection.start_next_cycle()
        self._parts, self._size, self._status = [], 0, 0
        self._started = self._complete = False
        fields = [("Host", authority), *(headers or {}).items()]
        if body is not None:
            fields.append(("Content-Length", str(len(body))))
        try:
            data = connection.send(h11.Request(method=method, target=target, headers=fields))
            if body:
                data = (data or b"") + (connection.send(h11.Data(data=body)) or b"")
            data = (data or b"") + (connection.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise ValueError(f"h11 refuses the request: {exc}") from exc
        return data

    def feed(self, data: bytes) -> bool:
        """Parse `data`; True once the response is complete."""
        self._started = True
        self._connection.receive_data(data)
        return self._events()

    def eof(self) -> bool:
        """The connection closed: complete, cut short, or never answered."""
        if self._complete:
            return True
        if not self._started:
            return False
        self._connection.receive_data(b"")
        try:
            return self._events()
        except MalformedResponse as exc:
            raise ResponseTruncated(f"the connection closed inside the response: {exc}") from exc

    def _events(self) -> bool:
        while True:
            try:
                event = self._connection.next_event()
            except h11.RemoteProtocolError as exc:
                raise MalformedResponse(f"not an HTTP/1.1 response: {exc}") from exc
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return self._complete
            if isinstance(event, h11.Response):
                self._status = event.status_code
                for name, value in event.headers:
                    if name == b"content-length" and int(value) > self._limit:
                        raise ResponseTooLarge(f"the response body announces {int(value)} bytes")
            elif isinstance(event, h11.Data):
                self._size += len(event.data)
                if self._size > self._limit:
                    raise ResponseTooLarge(f"the response body passed {self._limit} bytes")
                self._parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._complete = True
                return True
            elif isinstance(event, h11.ConnectionClosed):
                return self._complete

    @property
    def started(self) -> bool:
        """Whether any byte of the current answer arrived."""
        return self._started

    @property
    def keep_alive(self) -> bool:
        """Both sides done, neither asked to close, nothing after the response."""
        connection = self._connection
        return (
            connection.our_state is h11.DONE
            and connection.their_state is h11.DONE
            and not connection.trailing_data[0]
        )

    def response(self) -> Response:
        """The complete response."""
        return Response(self._status, b"".join(self._parts))
