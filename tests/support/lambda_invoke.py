"""A local Lambda Invoke API in front of a `RuntimeAPI`, so a Cognito emulator can call the
handler running under the real `awslambdaric`, as Cognito calls a deployed function.

`POST /2015-03-31/functions/<name>/invocations` queues the payload as an invocation and answers
with what the runtime posted back: the response (200), or the error with
`X-Amz-Function-Error: Unhandled`, as the Lambda service does. Listens on 127.0.0.1, free port.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.runtime_api import Result, RuntimeAPI

__all__ = ("LambdaInvokeAPI",)


class LambdaInvokeAPI:
    """Lambda's Invoke operation, served by one `awslambdaric` process behind `runtime`."""

    def __init__(self, runtime: RuntimeAPI, function_name: str) -> None:
        self.events: list[Any] = []
        self.results: list[Result] = []
        api = self
        lock = threading.Lock()  # one invocation at a time, as one warm container serves them

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != f"/2015-03-31/functions/{function_name}/invocations":
                    self._reply(404, b'{"Type":"User","message":"Function not found"}', {})
                    return
                event = json.loads(body)
                with lock:
                    api.events.append(event)
                    result = runtime.invoke(event)
                    api.results.append(result)
                headers = {"X-Amz-Executed-Version": "$LATEST"}
                if result.kind == "error":
                    headers["X-Amz-Function-Error"] = "Unhandled"
                self._reply(200, result.raw, headers)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
