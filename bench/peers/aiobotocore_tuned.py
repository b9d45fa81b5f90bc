"""Ours on tuned aiobotocore: our whole pipeline, with the GetItem sent by aiobotocore instead.

Kept as a contender so the store's choice of client stays visible and revisitable. The client
is aiobotocore tuned in supported ways only: a fixed `user_agent` (botocore otherwise rebuilds
its long user-agent string on every request), `parameter_validation=False` (our request is
fixed), the same timeouts and standard-mode retry budget as our store, and no CA bundle load
for a plain-HTTP endpoint. Everything around the GetItem (settings, key, cache, mapping,
policies, log line) is ours, built once per container as `handler.app` does.
"""

import asyncio
import gc
import os
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from shared.claims import DEFAULT_MAPPING
from shared.config import Settings, load_settings
from shared.deps import Deps, build_deps
from shared.errors import StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.item import Item, decode_item
from shared.mapping import load_mapping
from shared.trigger import answer

__all__ = ("DEPS", "LOOP", "SETTINGS", "TunedStore", "close", "handler", "open_tuned")

_THROTTLES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def _request(settings: Settings, attributes: tuple[str, ...]) -> dict[str, Any]:
    wanted = tuple(dict.fromkeys((settings.key_attribute, *attributes)))
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    return {
        "TableName": settings.table_name,
        "ConsistentRead": settings.consistent_read,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }


class TunedStore:
    """Our store's contract (`get`, bounded by a timeout, `StoreError`s) on aiobotocore."""

    def __init__(
        self, client: Any, settings: Settings, user: tuple[str, ...], machine: tuple[str, ...]
    ) -> None:
        self._client = client
        self._key_attribute = settings.key_attribute
        self._requests = {False: _request(settings, user), True: _request(settings, machine)}

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        """The item at `key`, or None; a `StoreError` on any failure."""
        try:
            async with asyncio.timeout(timeout):
                response = await self._client.get_item(
                    **self._requests[machine], Key={self._key_attribute: {"S": key}}
                )
        except asyncio.CancelledError:
            raise
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            error: StoreError = (
                StoreThrottled(code) if code in _THROTTLES else StoreUnavailable(code)
            )
            raise error from exc
        except (TimeoutError, ConnectTimeoutError, ReadTimeoutError) as exc:
            raise StoreTimeout(type(exc).__name__) from exc
        except (BotoCoreError, aiohttp.ClientError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        raw = response.get("Item")
        return None if raw is None else decode_item(raw)


async def open_tuned(settings: Settings, loop: asyncio.AbstractEventLoop) -> Deps:
    """Our per-container dependencies around one tuned aiobotocore client, entered once.

    Run on `loop`, the one every later lookup runs on.
    """
    per_attempt = settings.attempt_timeout_seconds
    config = AioConfig(
        connect_timeout=per_attempt,
        read_timeout=per_attempt,
        retries={"mode": "standard", "total_max_attempts": settings.store_max_attempts},
        tcp_keepalive=True,
        user_agent="cognito-pretoken",
        parameter_validation=False,
    )
    plain_http = (settings.endpoint_url or "").startswith("http://")
    stack = AsyncExitStack()
    client = await stack.enter_async_context(
        AioSession().create_client(
            "dynamodb",
            region_name=settings.region,
            endpoint_url=settings.endpoint_url,
            verify=False if plain_http else None,
            config=config,
        )
    )
    mapping = load_mapping(settings.claims_config) if settings.claims_config else DEFAULT_MAPPING
    store = TunedStore(client, settings, mapping.user.attributes, mapping.client.attributes)
    return build_deps(settings, store, loop, mapping=mapping, stack=stack)


SETTINGS = load_settings(os.environ)
LOOP = asyncio.new_event_loop()
DEPS = LOOP.run_until_complete(open_tuned(SETTINGS, LOOP))
gc.freeze()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one event through our pipeline (`shared.trigger.answer`), as `handler.app` does."""
    remaining = context.get_remaining_time_in_millis() if context is not None else None
    return answer(event, DEPS, remaining_ms=remaining)


def close() -> None:
    """Close the client and the loop (the bench, at its end; Lambda never does)."""
    DEPS.close()
    LOOP.run_until_complete(asyncio.sleep(0.01))
    LOOP.close()
