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
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from shared.config import Settings, load_settings
from shared.deps import Deps, build_deps
from shared.errors import StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.lookup.sources import ItemRead, QueryRead
from shared.lookup.wire import decode_item
from shared.trigger import answer
from shared.values import Item

__all__ = ("DEPS", "LOOP", "SETTINGS", "TunedStore", "close", "handler", "open_tuned")

_THROTTLES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


class TunedStore:
    """Our store's reads (bounded by a timeout, failures as `StoreError`s) on aiobotocore.

    GetItem, and BatchGetItem as GetItems side by side; no Query: the bench's mapping reads
    one item per sign-in.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._projections: dict[int, dict[str, Any]] = {}

    def _projected(self, read: ItemRead) -> dict[str, Any]:
        projection = self._projections.get(id(read.source))
        if projection is None:
            # The key attributes are always projected: an item without any mapped attribute
            # still comes back, told apart from no item.
            wanted = dict.fromkeys((*(a for a, _ in read.key), *read.source.attributes))
            names = {f"#a{i}": name for i, name in enumerate(wanted)}
            projection = {
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
            self._projections[id(read.source)] = projection
        return projection

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """The item `read` names, or None; a `StoreError` on any failure."""
        try:
            async with asyncio.timeout(max(timeout, 0)):
                response = await self._client.get_item(
                    TableName=read.source.table,
                    Key={attribute: {"S": value} for attribute, value in read.key},
                    ConsistentRead=consistent,
                    **self._projected(read),
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

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """The items `reads` name, in their order, read side by side."""
        return list(
            await asyncio.gather(
                *(self.get_item(read, consistent=consistent, timeout=timeout) for read in reads)
            )
        )

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """Not served: raises `StoreUnavailable` (the bench's mapping has no queries)."""
        raise StoreUnavailable("the tuned aiobotocore contender serves no Query")


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
    return build_deps(settings, TunedStore(client), loop, stack=stack)


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
