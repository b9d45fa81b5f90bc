"""A loopback TCP proxy in front of a DynamoDB endpoint that injects faults on demand.

Modes: `pass` (forward both ways), `refuse` (accept, then close at once with a reset), `stall`
(accept and never answer), `delay` (forward, but only after `delay` seconds), `respond` (read one
HTTP request, answer with canned bytes, close), `respond_reset` (the same, then a reset instead
of a clean close: a response cut off in the middle), `respond_to` (request by request: the next
`times` requests for one DynamoDB operation get the canned bytes, the rest are forwarded).
Switching mode closes every open connection, so pooled keep-alive connections meet the new mode
too. Listens on 127.0.0.1, on a free port; `close` stops it (after which connecting is refused).
"""

import contextlib
import socket
import struct
import threading
from typing import Literal

__all__ = ("FaultProxy", "Mode", "http_response")

Mode = Literal["pass", "refuse", "stall", "delay", "respond", "respond_reset", "respond_to"]


def http_response(status: int, body: bytes, reason: str = "Error", *, close: bool = True) -> bytes:
    """A complete HTTP/1.1 response with a JSON body; by default it closes the connection."""
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/x-amz-json-1.0\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    ).encode() + body


class FaultProxy:
    """Forwards 127.0.0.1:<port> to `upstream`, or injects the current fault."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._mode: Mode = "pass"
        self._canned = b""
        self._delay = 0.0
        self._operation = b""
        self._times = 0
        self.answered = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def set_mode(
        self,
        mode: Mode,
        canned: bytes = b"",
        delay: float = 0.0,
        *,
        operation: str = "",
        times: int = 1,
    ) -> None:
        """Switch the fault; open connections are closed so the next request sees it.

        `operation` and `times` apply to `respond_to`: e.g. `BatchGetItem`, answered once.
        """
        with self._lock:
            self._mode = mode
            self._canned = canned
            self._delay = delay
            self._operation = operation.encode()
            self._times = times
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _close(sock)

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed.set()
        _close(self._listener)
        self.set_mode("refuse")
        self._thread.join(timeout=5)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with self._lock:
                mode, canned, delay = self._mode, self._canned, self._delay
            if mode == "refuse":
                _reset(conn)
                continue
            self._track(conn)
            if mode == "respond_to":
                thread = threading.Thread(target=self._route, args=(conn,), daemon=True)
            elif mode in ("respond", "respond_reset"):
                args: tuple[object, ...] = (conn, canned, mode == "respond_reset")
                thread = threading.Thread(target=_answer, args=args, daemon=True)
            elif mode == "delay":
                thread = threading.Thread(target=self._pipe, args=(conn, delay), daemon=True)
            else:
                serve = self._pipe if mode == "pass" else _hold
                thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()

    def _pipe(self, conn: socket.socket, delay: float = 0.0) -> None:
        if delay and self._closed.wait(delay):
            return
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            _close(conn)
            return
        upstream.settimeout(None)
        self._track(upstream)
        threading.Thread(target=_copy, args=(upstream, conn), daemon=True).start()
        _copy(conn, upstream)

    def _route(self, conn: socket.socket) -> None:
        """Request by request: the chosen operation gets the canned answer, the rest upstream."""
        upstream: socket.socket | None = None
        try:
            while request := _read_message(conn):
                with self._lock:
                    hit = self._times > 0 and b"DynamoDB_20120810." + self._operation in request
                    if hit:
                        self._times -= 1
                        self.answered += 1
                    canned = self._canned
                if hit:
                    conn.sendall(canned)
                    return  # the canned answers say `Connection: close`
                if upstream is None:
                    upstream = socket.create_connection(self._upstream, timeout=5)
                    self._track(upstream)
                upstream.sendall(request)
                response = _read_message(upstream)
                if not response:
                    return
                conn.sendall(response)
                if b"connection: close" in response.partition(b"\r\n\r\n")[0].lower():
                    _close(upstream)  # the server closes after each answer: reconnect next time
                    upstream = None
        except OSError:
            pass
        finally:
            _close(conn)
            if upstream is not None:
                _close(upstream)


def _read_message(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 message (head and a Content-Length body), or b"" at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _hold(conn: socket.socket) -> None:
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    finally:
        _close(conn)


def _answer(conn: socket.socket, canned: bytes, reset: bool) -> None:
    try:
        _read_message(conn)
        conn.sendall(canned)
    except OSError:
        pass
    finally:
        if reset:
            _reset(conn)
        else:
            _close(conn)


def _reset(conn: socket.socket) -> None:
    # SO_LINGER 0: close with a reset, the harshest way a peer can go away.
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
