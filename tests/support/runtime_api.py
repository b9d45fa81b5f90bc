"""A small Lambda Runtime API server, so the real `awslambdaric` can drive the handler in tests.

Serves queued events on `GET /2018-06-01/runtime/invocation/next` and records what the runtime
posts back to `.../response`, `.../error` and `/runtime/init/error`. Listens on 127.0.0.1 on a
free port; `close` stops it.
"""

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ("LambdaContainer", "Result", "RuntimeAPI")

_PREFIX = "/2018-06-01/runtime"


class Result:
    """What the runtime posted for one invocation: a response or an error."""

    def __init__(self, request_id: str, kind: str, body: bytes) -> None:
        self.request_id = request_id
        self.kind = kind  # "response" or "error"
        self.raw = body
        self.body: Any = json.loads(body) if body else None


class RuntimeAPI:
    """The Runtime API endpoints awslambdaric calls."""

    def __init__(self, deadline_ms: int = 5000) -> None:
        self._events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: queue.Queue[Result] = queue.Queue()
        self.init_errors: queue.Queue[Any] = queue.Queue()
        self._deadline_ms = deadline_ms
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(
                self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self._reply(404)
                    return
                request_id, body = api._events.get()
                deadline = int(time.time() * 1000) + api._deadline_ms
                self._reply(
                    200,
                    body,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline),
                        "Lambda-Runtime-Invoked-Function-Arn": (
                            "arn:aws:lambda:us-east-1:123456789012:function:cognito-pretoken"
                        ),
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.removeprefix(_PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.put(json.loads(body) if body else None)
                elif (
                    len(parts) == 3
                    and parts[0] == "invocation"
                    and parts[2] in ("response", "error")
                ):
                    api.results.put(Result(parts[1], parts[2], body))
                else:
                    self._reply(404)
                    return
                self._reply(202, b"{}", {"Content-Type": "application/json"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def invoke(self, event: Any, timeout: float = 30.0) -> Result:
        """Queue one event and wait for the runtime's answer."""
        request_id = str(uuid.uuid4())
        self._events.put((request_id, json.dumps(event).encode()))
        result = self.results.get(timeout=timeout)
        if result.request_id != request_id:
            raise AssertionError(f"answer for {result.request_id}, expected {request_id}")
        return result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class LambdaContainer:
    """`python -m awslambdaric <handler>` against a `RuntimeAPI`: one warm Lambda container.

    `env` is the whole environment (plus `AWS_LAMBDA_RUNTIME_API`); the process's output goes to
    `log`, whose JSON lines `log_lines` returns.
    """

    def __init__(
        self,
        runtime: RuntimeAPI,
        env: dict[str, str],
        log: Path,
        *,
        cwd: Path,
        handler: str = "handler.app.handler",
    ) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", handler],
            cwd=cwd,
            env={**env, "AWS_LAMBDA_RUNTIME_API": runtime.address},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.log.read_text().splitlines() if raw.startswith("{")]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._out.close()
