"""The store: one long-lived DynamoDB client; GetItem, BatchGetItem and Query under a deadline.

The only module that imports botocore, aiobotocore and aiohttp. It creates the client once per
container on an `AsyncExitStack` (closed by `aclose` in tests, bench and `make invoke`; Lambda
has no reliable close hook), with connect/read timeouts and a standard-mode retry budget that fit
inside the lookup deadline. Every lookup is also bounded by `asyncio.timeout`, and every failure
below (botocore, aiohttp, timeouts) is translated here into a `StoreError` raised `from` it.
"""

import asyncio
import random
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
from shared.lookup import ItemRead, ItemSource, QueryRead, QuerySource

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
    """A 2xx response whose body is not a JSON object."""


def _require_json_object(response_dict: dict[str, Any], **_: Any) -> None:
    # botocore's JSON parser turns an unparsable body into an empty result, which would read
    # as "no such item"; a corrupted answer must be an error, never a missing profile.
    if response_dict.get("status_code", 0) >= 300:
        return
    try:
        body = orjson.loads(response_dict.get("body", b""))
    except orjson.JSONDecodeError:
        raise _MalformedResponse("DynamoDB response body is not JSON") from None
    if not isinstance(body, dict):
        raise _MalformedResponse("DynamoDB response body is not a JSON object")


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
    for operation in ("GetItem", "BatchGetItem", "Query"):
        client.meta.events.register(f"before-parse.dynamodb.{operation}", _require_json_object)
        client.meta.events.register(f"needs-retry.dynamodb.{operation}", _remember_attempt)
    return client


def _projection(key: tuple[str, ...], attributes: tuple[str, ...]) -> dict[str, Any]:
    # The key attributes are always projected, so an item that holds none of the mapped
    # attributes still comes back and is told apart from a missing one.
    wanted = tuple(dict.fromkeys((*key, *attributes)))
    names = {f"#a{i}": name for i, name in enumerate(wanted)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _key_values(key: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {attribute: {"S": value} for attribute, value in key}


def _translate(exc: Exception, operation: str) -> StoreError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLE_CODES:
            return StoreThrottled(f"DynamoDB throttled {operation}: {code}")
        return StoreUnavailable(
            f"DynamoDB rejected {operation}: {code or 'unknown'} (HTTP {status})"
        )
    if isinstance(exc, _MalformedResponse):
        return StoreUnavailable(str(exc))
    if isinstance(exc, TimeoutError):
        last = _LAST_ATTEMPT.get()
        if last in _THROTTLE_CODES:
            return StoreThrottled(
                f"DynamoDB throttled {operation}: {last}; no retry fit the deadline"
            )
        if last is not None and not last.endswith("TimeoutError"):
            return StoreUnavailable(f"{operation} failed: {last}; no retry fit the deadline")
        return StoreTimeout(f"{operation} timed out: no answer inside the deadline")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return StoreTimeout(f"{operation} timed out: {type(exc).__name__}")
    return StoreUnavailable(f"{operation} failed: {type(exc).__name__}: {exc}")


_METHODS: Final = {"GetItem": "get_item", "BatchGetItem": "batch_get_item", "Query": "query"}


class Store:
    """Reads items (GetItem, BatchGetItem, Query) through one shared client.

    Requests are built per read from its source, whose projection was fixed at init.
    """

    __slots__ = ("_client", "_projections")

    def __init__(self, client: "DynamoDBClient") -> None:
        self._client = client
        self._projections: dict[int, dict[str, Any]] = {}

    def _projected(self, source: ItemSource | QuerySource, key: tuple[str, ...]) -> dict[str, Any]:
        # Built once per source (sources live as long as the container).
        projection = self._projections.get(id(source))
        if projection is None:
            projection = _projection(key, source.attributes)
            self._projections[id(source)] = projection
        return projection

    async def _call(self, operation: str, timeout: float, request: dict[str, Any]) -> Any:
        _LAST_ATTEMPT.set(None)
        method = getattr(self._client, _METHODS[operation])
        try:
            async with asyncio.timeout(max(timeout, 0)):
                return await method(**request)
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
            raise _translate(exc, operation) from exc

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """Fetch the item `read` names, or None when there is none.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        request = {
            "TableName": source.table,
            "Key": _key_values(read.key),
            "ConsistentRead": consistent,
            **self._projected(source, tuple(a for a, _ in read.key)),
        }
        response = await self._call("GetItem", timeout, request)
        raw = response.get("Item")
        return None if raw is None else decode_item(raw)

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """Fetch the items `reads` name with BatchGetItem, in their order (None: no such item).

        Unprocessed keys are asked again, with a short backoff, until they are all answered or
        `timeout` runs out (then `StoreThrottled`: DynamoDB left them unprocessed).

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # One entry per table: its keys once each (DynamoDB refuses duplicates) and one
        # projection holding every source's attributes.
        wanted: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = {}
        tables: dict[str, tuple[tuple[str, ...], dict[str, None]]] = {}
        for index, read in enumerate(reads):
            table = read.source.table
            wanted.setdefault((table, read.key), []).append(index)
            key_names = tuple(attribute for attribute, _ in read.key)
            _, attributes = tables.setdefault(table, (key_names, {}))
            attributes.update(dict.fromkeys(read.source.attributes))
        requests: dict[str, dict[str, Any]] = {
            table: {
                "Keys": [_key_values(key) for (t, key) in wanted if t == table],
                "ConsistentRead": consistent,
                **_projection(key_names, tuple(attributes)),
            }
            for table, (key_names, attributes) in tables.items()
        }
        found: list[Item | None] = [None] * len(reads)
        attempt = 0
        while requests:
            response = await self._call(
                "BatchGetItem", deadline - loop.time(), {"RequestItems": requests}
            )
            for table, items in (response.get("Responses") or {}).items():
                key_names = tables[table][0] if table in tables else ()
                for raw in items:
                    item = decode_item(raw)
                    values = tuple((name, item.get(name)) for name in key_names)
                    if not all(isinstance(value, str) for _, value in values):
                        continue
                    key = tuple((name, str(value)) for name, value in values)
                    for position in wanted.get((table, key), ()):
                        found[position] = item
            requests = response.get("UnprocessedKeys") or {}
            if requests:
                attempt += 1
                pause = min(0.05 * 2**attempt, 0.5) * random.random()
                if loop.time() + pause >= deadline:
                    raise StoreThrottled(
                        "DynamoDB left BatchGetItem keys unprocessed until the deadline"
                    )
                await asyncio.sleep(pause)
        return found

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """The items `read` matches, in key order: one page (at most `limit` items, 1 MB).

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        partition_attribute = source.partition[0]
        names = {"#p": partition_attribute}
        values: dict[str, Any] = {":p": {"S": read.partition}}
        condition = "#p = :p"
        if source.sort_prefix is not None and read.prefix is not None:
            names["#s"] = source.sort_prefix[0]
            values[":s"] = {"S": read.prefix}
            condition += " AND begins_with(#s, :s)"
        projection = self._projected(source, ())
        request: dict[str, Any] = {
            "TableName": source.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": source.limit,
            "ConsistentRead": consistent and source.index is None,
            "ProjectionExpression": projection["ProjectionExpression"],
            "ExpressionAttributeNames": {**projection["ExpressionAttributeNames"], **names},
        }
        if source.index is not None:
            request["IndexName"] = source.index
        response = await self._call("Query", timeout, request)
        return [decode_item(raw) for raw in response.get("Items") or ()]
