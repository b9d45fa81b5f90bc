"""The profile store: one long-lived DynamoDB client and the one async GetItem.

The only module that imports botocore, aiobotocore and aiohttp. It creates the client once per
container on an `AsyncExitStack` (closed by `aclose` in tests, bench and `make invoke`; Lambda
has no reliable close hook), with connect/read timeouts and a standard-mode retry budget that fit
inside the lookup deadline. Every lookup is also bounded by `asyncio.timeout`, and every failure
below (botocore, aiohttp, timeouts) is translated here into a `StoreError` raised `from` it.
"""

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    DataNotFoundError,
    ReadTimeoutError,
)
from botocore.loaders import JSONFileLoader, Loader

from shared.config import Settings
from shared.errors import StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.item import Item, decode_item

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.client import DynamoDBClient

__all__ = ("Store", "create_session", "open_client")

_THROTTLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
    }
)


_LAST_ATTEMPT: Final[ContextVar[str | None]] = ContextVar("pretoken_last_attempt", default=None)
"""What the last attempt of the current lookup met: an error code or exception name, or None."""


def _remember_attempt(
    response: Any = None, caught_exception: BaseException | None = None, **_: Any
) -> None:
    # A retry's backoff can outlast the deadline; then the timeout is what we see, and this is
    # what happened before it. Returns None: a value here would be taken as a retry delay.
    if caught_exception is not None:
        _LAST_ATTEMPT.set(type(caught_exception).__name__)
    elif response is not None:
        _LAST_ATTEMPT.set(response[1].get("Error", {}).get("Code"))


class _MalformedResponse(Exception):
    """A 2xx GetItem response whose body is not a JSON object."""


def _require_json_object(response_dict: dict[str, Any], **_: Any) -> None:
    # botocore's JSON parser turns an unparsable body into an empty result, which would read
    # as "no such item"; a corrupted answer must be an error, never a missing profile.
    if response_dict.get("status_code", 0) >= 300:
        return
    try:
        body = orjson.loads(response_dict.get("body", b""))
    except orjson.JSONDecodeError:
        raise _MalformedResponse("GetItem response body is not JSON") from None
    if not isinstance(body, dict):
        raise _MalformedResponse("GetItem response body is not a JSON object")


class _OrjsonFileLoader(JSONFileLoader):
    """botocore's model loader, parsing with orjson instead of `json` + `OrderedDict`.

    Client creation spends most of its time parsing botocore's JSON (endpoints, partitions, the
    DynamoDB model); orjson reads the same files into the same (insertion-ordered) dicts, several
    times faster. `bench/` measures the difference; tests check endpoints resolve identically.
    """

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        try:
            with open_method(full_path, "rb") as file:
                return orjson.loads(file.read())
        except FileNotFoundError:
            return None


class _ServiceNames(Sequence[str]):
    """The services botocore knows, answering `name in ...` by looking in one folder only.

    botocore checks the service name against a listing of every service folder (over 400 of
    them, about 20 ms of client creation) before loading one model. Membership is all that
    check needs; the full listing is built only if something iterates.
    """

    def __init__(self, loader: "_Loader", type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def _listing(self) -> list[str]:
        if self._all is None:
            self._all = Loader.list_available_services(self._loader, self._type_name)
        return self._all

    def __getitem__(self, index: Any) -> Any:
        return self._listing()[index]

    def __len__(self) -> int:
        return len(self._listing())


class _Loader(Loader):
    """botocore's loader, with the service-name check answered without listing every service."""

    def list_available_services(self, type_name: str) -> Any:
        return _ServiceNames(self, type_name)


def create_session() -> AioSession:
    """An aiobotocore session whose model loader parses with orjson and looks up lazily.

    Same search paths (`AWS_DATA_PATH` included) and same data as botocore's own loader; tests
    check the models and the resolved endpoints are identical.
    """
    session = AioSession()
    stock = session.get_component("data_loader")
    loader = _Loader(
        extra_search_paths=list(stock.search_paths),
        file_loader=_OrjsonFileLoader(),
        include_default_search_paths=False,
    )
    session.register_component("data_loader", loader)
    return session


async def open_client(settings: Settings, stack: AsyncExitStack) -> "DynamoDBClient":
    """Create the DynamoDB client and enter it on `stack`, which closes it.

    aiobotocore directly, not aioboto3: aioboto3 adds nothing a GetItem needs and imports boto3
    (about 0.1 s of cold start, measured by `make bench`). Connect and read timeouts are one
    attempt's share of `lookup_timeout_ms`, and standard-mode retries are capped at
    `store_max_attempts` (botocore's defaults, 60 s timeouts and 10 attempts, could never fit
    Cognito's 5 s).
    """
    per_attempt = settings.attempt_timeout_seconds
    config = AioConfig(
        connect_timeout=per_attempt,
        read_timeout=per_attempt,
        retries={"mode": "standard", "total_max_attempts": settings.store_max_attempts},
        tcp_keepalive=True,
    )
    plain_http = (settings.endpoint_url or "").startswith("http://")
    creator = create_session().create_client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        # A plain-HTTP endpoint (DynamoDB Local, moto) has no TLS to verify: not loading the CA
        # bundle saves its parse (about 35 ms) on the first request. HTTPS always verifies.
        verify=False if plain_http else None,
        config=config,
    )
    client = await stack.enter_async_context(creator)
    client.meta.events.register("before-parse.dynamodb.GetItem", _require_json_object)
    client.meta.events.register("needs-retry.dynamodb.GetItem", _remember_attempt)
    return client


def _request(settings: Settings, attributes: tuple[str, ...]) -> dict[str, Any]:
    # The key attribute is always projected, so an item that holds none of the mapped
    # attributes still comes back and is told apart from a missing one.
    wanted = tuple(dict.fromkeys((settings.key_attribute, *attributes)))
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    return {
        "TableName": settings.table_name,
        "ConsistentRead": settings.consistent_read,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }


def _translate(exc: Exception) -> StoreError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLE_CODES:
            return StoreThrottled(f"DynamoDB throttled GetItem: {code}")
        return StoreUnavailable(f"DynamoDB rejected GetItem: {code or 'unknown'} (HTTP {status})")
    if isinstance(exc, _MalformedResponse):
        return StoreUnavailable(str(exc))
    if isinstance(exc, TimeoutError):
        last = _LAST_ATTEMPT.get()
        if last in _THROTTLE_CODES:
            return StoreThrottled(f"DynamoDB throttled GetItem: {last}; no retry fit the deadline")
        if last is not None and not last.endswith("TimeoutError"):
            return StoreUnavailable(f"GetItem failed: {last}; no retry fit the deadline")
        return StoreTimeout("GetItem timed out: no answer inside the deadline")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return StoreTimeout(f"GetItem timed out: {type(exc).__name__}")
    return StoreUnavailable(f"GetItem failed: {type(exc).__name__}: {exc}")


class Store:
    """Reads profile items by key through one shared client."""

    __slots__ = ("_client", "_client_request", "_key_attribute", "_user_request")

    def __init__(
        self,
        client: "DynamoDBClient",
        settings: Settings,
        *,
        user_attributes: tuple[str, ...],
        client_attributes: tuple[str, ...],
    ) -> None:
        """Prepare both GetItem requests once: table, consistency and projection."""
        self._client = client
        self._key_attribute = settings.key_attribute
        self._user_request = _request(settings, user_attributes)
        self._client_request = _request(settings, client_attributes)

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        """Fetch the item at `key`, or None when there is none.

        Parameters
        ----------
        key
            Partition key value.
        machine
            Use the machine-client projection instead of the user one.
        timeout
            Seconds this lookup may take, retries included.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        request = self._client_request if machine else self._user_request
        _LAST_ATTEMPT.set(None)
        try:
            async with asyncio.timeout(timeout):
                response = await self._client.get_item(
                    **request, Key={self._key_attribute: {"S": key}}
                )
        except asyncio.CancelledError:
            raise
        except (
            BotoCoreError,
            ClientError,
            aiohttp.ClientError,
            OSError,
            _MalformedResponse,
        ) as exc:
            # OSError covers TimeoutError (the deadline) and raw socket errors aiohttp lets by.
            raise _translate(exc) from exc
        raw = response.get("Item")
        return None if raw is None else decode_item(raw)
