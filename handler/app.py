"""Lambda entry point (`handler.app.handler`): wiring only.

At import, once per container: settings from the environment (a bad value fails the init, never
a sign-in), one event loop kept for the container's life, and the dependencies (one DynamoDB
connection, entered once). With SnapStart, `before_snapshot` primes and `after_restore` renews
(`shared.lifecycle`). Per invocation, `handler` answers a fresh cache hit synchronously and
runs a lookup on that same loop: never `asyncio.run`, which would close the loop under the
cached connection.
"""

import asyncio
import gc
import os
from typing import Any

from shared.config import load_settings
from shared.deps import open_deps
from shared.errors import SignInDenied
from shared.lifecycle import prime, renew
from shared.trigger import answer

__all__ = ("DEPS", "LOOP", "SETTINGS", "after_restore", "before_snapshot", "handler")

SETTINGS = load_settings(os.environ)
LOOP = asyncio.new_event_loop()
DEPS = open_deps(SETTINGS, LOOP)
# Init leaves long-lived objects (decoders, the compiled mapping, the connection, modules);
# freezing them keeps every later full collection from walking them again, a tail-latency cost.
gc.freeze()


def before_snapshot() -> None:
    """SnapStart: prime everything the first invocation would pay for, then freeze it too."""
    prime(DEPS)
    gc.freeze()


def after_restore() -> None:
    """SnapStart: a new connection, an empty cache, fresh random state."""
    global DEPS  # noqa: PLW0603 (the per-container dependencies, replaced once per restore)
    DEPS = renew(DEPS, SETTINGS)


try:  # in the managed Python runtime (3.12+) and on PyPI; absent elsewhere: no SnapStart
    from snapshot_restore_py import register_after_restore, register_before_snapshot
except ImportError:  # pragma: no cover - depends on the runtime
    pass
else:
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Answer one pre token generation event.

    Raises
    ------
    SignInDenied
        The sign-in must fail; Cognito shows `PreTokenGeneration failed with error <msg>.`
        with one of the fixed messages in `shared.errors`.
    """
    request_id = getattr(context, "aws_request_id", None)
    remaining = context.get_remaining_time_in_millis() if context is not None else None
    try:
        return answer(event, DEPS, remaining_ms=remaining, request_id=request_id)
    except SignInDenied:
        raise
    except Exception as exc:
        # Last resort: a bug must fail closed with a safe message, never leak its text.
        fields = {"function_request_id": request_id, "error_kind": type(exc).__name__}
        DEPS.logger.log("ERROR", "unhandled error", fields)
        raise SignInDenied from exc
