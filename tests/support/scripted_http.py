"""A scripted HTTP server for tests: answers canned (status, body) pairs in order, records requests.

It stands in for what moto cannot be made to say on demand (DynamoDB's unprocessed keys, an
expired token), for the container credentials endpoint, and for a TLS server. Listens on
127.0.0.1 on a free port, serves from a thread; `close` stops it.
"""

import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ("Answer", "Recorded", "ScriptedServer")

Answer = tuple[int, bytes]
"""An HTTP status and a JSON body."""


class Recorded:
    """One request as the server saw it."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class ScriptedServer:
    """Answers each request with the next canned answer (the last one again once at the end)."""

    def __init__(
        self,
        answers: list[Answer] | Callable[[Recorded], Answer],
        content_type: str = "application/x-amz-json-1.0",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._answers = answers
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Recorded(self.command, self.path, dict(self.headers), body)
                status, answer = server._next(seen)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        self.endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _next(self, seen: Recorded) -> Answer:
        with self._lock:
            self.requests.append(seen)
            if callable(self._answers):
                return self._answers(seen)
            return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
