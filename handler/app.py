"""Lambda entry point (`handler.app.handler`): wiring only.

At import, once per container: settings from the environment (a bad value fails the init, never
a sign-in), one event loop kept for the container's life, and the dependencies (one DynamoDB
client, entered once). Per invocation, `handler` answers a fresh cache hit synchronously and
runs a lookup on that same loop: never `asyncio.run`, which would close the loop under the
cached client.
"""

import asyncio
import gc
import os
from typing import Any

from shared.config import load_settings
from shared.errors import SignInDenied
from shared.trigger import answer, open_deps

__all__ = ("DEPS", "LOOP", "SETTINGS", "handler")

SETTINGS = load_settings(os.environ)
LOOP = asyncio.new_event_loop()
DEPS = LOOP.run_until_complete(open_deps(SETTINGS))
# Init leaves about 100,000 long-lived objects (botocore's parsed models above all); freezing
# them keeps every later full collection from walking them again, a tail-latency cost.
gc.freeze()


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
        return answer(event, remaining, DEPS, LOOP, request_id=request_id)
    except SignInDenied:
        raise
    except Exception as exc:
        # Last resort: a bug must fail closed with a safe message, never leak its text.
        fields = {"function_request_id": request_id, "error_kind": type(exc).__name__}
        DEPS.logger.log("ERROR", "unhandled error", fields)
        raise SignInDenied from exc
