"""Ours on another transport: what `handler.app` does at import, with the store's HTTP swapped.

`OursOn(http)` builds settings, the container's loop and the dependencies around one store client
whose transport `http` makes from the connection's TLS context
(`shared.lookup.dynamodb.open_connection(http=...)`),
then freezes the collector as `handler.app` does; `handler` answers an event through
`shared.trigger.answer`. The transports measured against ours live beside this module
(`ours_aiohttp`, `ours_h11`); nothing here ships.
"""

import asyncio
import gc
import os
import ssl
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from shared.config import load_settings
from shared.deps import Deps, build_deps
from shared.lookup import Store
from shared.lookup.dynamodb import open_connection
from shared.lookup.transport import Http
from shared.trigger import answer

__all__ = ("OursOn",)


class OursOn:
    """One container of ours whose store sends through `http(tls_context)`."""

    def __init__(self, http: Callable[[ssl.SSLContext], Http]) -> None:
        """Init as `handler.app` does, from `os.environ`."""
        self.settings = load_settings(os.environ)
        self.loop = asyncio.new_event_loop()
        self.deps: Deps = self.loop.run_until_complete(self._enter(http))
        gc.freeze()

    async def _enter(self, http: Callable[[ssl.SSLContext], Http]) -> Deps:
        stack = AsyncExitStack()
        store = Store(await open_connection(self.settings, stack, http=http))
        return build_deps(self.settings, store, self.loop, stack=stack)

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer one event, as `handler.app.handler` does."""
        remaining = context.get_remaining_time_in_millis() if context is not None else None
        request_id = getattr(context, "aws_request_id", None)
        return answer(event, self.deps, remaining_ms=remaining, request_id=request_id)

    def close(self) -> None:
        """Close the connection and the loop (the bench, at its end)."""
        self.deps.close()
        self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.close()
