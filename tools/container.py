"""One simulated Lambda container, driving the same path production runs.

`Container` does what `handler.app` does at import (settings given, one event loop kept for the
container's life, the dependencies opened once on it) and answers events through
`shared.trigger.answer`, exactly as the handler does. Tests, `make bench`, `make soak` and the
fault benchmarks all use it, so none of them drives a private entry the handler never calls.

Log lines are captured (parsed, for tests to read), discarded (bench, soak), or written to
standard output, as in Lambda.
"""

import asyncio
import json
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, NamedTuple

from shared.claims import Rules, Trace
from shared.config import Settings
from shared.deps import Deps, build_deps, open_deps
from shared.errors import SignInDenied
from shared.lookup import Clock, ProfileSource
from shared.telemetry import Logger
from shared.trigger import answer
from shared.values import JSONValue

__all__ = ("Call", "Container", "LogMode")

LogMode = Literal["capture", "discard", "stdout"]


class Call(NamedTuple):
    """One invocation seen from outside: the answer, or the denial, and its log line."""

    response: dict[str, JSONValue] | None
    denied: str | None
    """The message Cognito would show (`PreTokenGeneration failed with error <denied>.`)."""
    log: dict[str, Any]
    """The invocation's log line; empty unless lines are captured (and the level lets it out)."""


class Container:
    """A container: settings, a kept loop, deps opened once; `invoke` is the Lambda handler.

    Parameters
    ----------
    settings
        The container's settings, as `load_settings` builds them.
    source
        A fake profile source (unit tests); by default the real store, opened on the loop.
    mapping
        A claim mapping; by default the one the settings name.
    clock
        The cache's clock (tests pass a fake one).
    logs
        `capture` parses every line into `lines`; `discard` writes nowhere (the line is still
        built, as in production); `stdout` writes as Lambda does.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        source: ProfileSource | None = None,
        mapping: Rules | None = None,
        clock: Clock = time.monotonic,
        logs: LogMode = "capture",
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.lines: list[dict[str, Any]] = []
        write: Callable[[str], object]
        if logs == "capture":
            write = self._capture
        elif logs == "discard":
            write = _discard
        else:
            write = _stdout
        logger = Logger(
            settings.service_name,
            settings.log_level,
            write,
            metrics_namespace=settings.metrics_namespace if settings.metrics else None,
        )
        self.loop = asyncio.new_event_loop()
        self._connected = source is None
        try:
            if source is None:
                self.deps: Deps = open_deps(
                    settings, self.loop, rules=mapping, clock=clock, logger=logger
                )
            else:
                self.deps = build_deps(
                    settings, source, self.loop, rules=mapping, clock=clock, logger=logger
                )
        except BaseException:
            self.loop.close()
            raise

    def _capture(self, text: str) -> None:
        # One write may hold several lines (the `TokenBytes` metrics lines before the invocation's).
        self.lines.extend(json.loads(line) for line in text.splitlines())

    def invoke(
        self,
        event: Any,
        *,
        remaining_ms: int | None = 5000,
        request_id: str | None = None,
        trace: Trace | None = None,
    ) -> dict[str, JSONValue]:
        """Answer `event` as the handler does; `trace` collects the mapping's trace.

        Raises
        ------
        SignInDenied
            The sign-in fails, with a fixed user-safe message.
        """
        return answer(
            event, self.deps, remaining_ms=remaining_ms, request_id=request_id, trace=trace
        )

    def call(
        self,
        event: Any,
        *,
        remaining_ms: int | None = 5000,
        request_id: str | None = None,
        trace: Trace | None = None,
    ) -> Call:
        """Answer `event` and return what came out: the answer or the denial, and the log line.

        `trace`, when given, collects what the mapping did (`shared.claims.explain`).
        """
        before = len(self.lines)
        try:
            response = self.invoke(
                event, remaining_ms=remaining_ms, request_id=request_id, trace=trace
            )
            denied = None
        except SignInDenied as exc:
            response, denied = None, str(exc)
        log = self.lines[-1] if len(self.lines) > before else {}
        return Call(response, denied, log)

    def close(self) -> None:
        """Close the client, give its transports a beat to finish, close the loop. Idempotent."""
        if self.loop.is_closed():
            return
        self.deps.close()
        if self._connected:  # a fake source has no transports to wait for
            self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.close()

    def __enter__(self) -> "Container":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _discard(line: str) -> None:
    del line


def _stdout(line: str) -> None:
    sys.stdout.write(line)
