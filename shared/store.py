"""The profile store: one DynamoDB client per container, and the reads it serves.

The only module that talks to DynamoDB and imports aiohttp and aiodynamo. `open_client` builds
the container's one client on an `AsyncExitStack` (closed by `aclose` in tests, bench and `make
invoke`; Lambda has no reliable close hook): one aiohttp session with pooled keep-alive
connections, aiodynamo's aiohttp adapter over it, and the credentials `shared.credentials`
picks. Requests are signed by aiodynamo's SigV4 signer and sent by `Store._send`, which owns the
retries: every read (`get`, `get_item`, `batch_get`, `query`) ends by the deadline its caller
gives, attempts and backoff included, and a backoff that would not fit is not started.
aiodynamo's own `Client` is not used: its retry loop sleeps past any deadline, it parses bodies
with `json` and numbers into float, and its import (expressions, models) costs about 35 ms of
cold start. Response bodies are decoded from bytes by `shared.item`'s msgspec decoders.

Every failure is translated here into a `StoreError` raised `from` its cause: throttling into
`StoreThrottled`; 5xx, other refusals, connection failures and corrupted 2xx bodies into
`StoreUnavailable`; no answer inside the deadline into `StoreTimeout` (unless an earlier attempt
of the same read met a throttle or a failure: that is what is reported); an undecodable item into
`ItemError`. `asyncio.CancelledError` passes through untouched.
"""

import asyncio
import os
import random
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any, Final

import aiohttp
import msgspec
from aiodynamo.credentials import Credentials
from aiodynamo.http.aiohttp import AIOHTTP
from aiodynamo.http.types import Request as HttpRequest
from aiodynamo.http.types import RequestFailed, Response
from aiodynamo.sign import make_default_endpoint, signed_dynamo_request
from yarl import URL

from shared.config import Settings
from shared.credentials import credentials_from
from shared.errors import StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.item import Item, RawKey, decode_batch_get, decode_get_item, decode_query

__all__ = ("Client", "KeyValue", "Page", "Store", "open_client")

KeyValue = str | int | Decimal
"""A key attribute's value: a string (S) or a number (N)."""

_THROTTLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
    }
)
_EXPIRED_CODES: Final = frozenset({"ExpiredTokenException", "ExpiredToken"})
_BACKOFF_BASE_SECONDS: Final = 0.05
"""First retry waits up to this long (full jitter), doubling per retry."""
_BACKOFF_CAP_SECONDS: Final = 1.0
_NO_CREDENTIALS: Final = StoreUnavailable(
    "no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or the container "
    "credentials variables"
)
_BATCH_MAX_KEYS: Final = 100
"""BatchGetItem's limit on keys per request."""


class Client:
    """The container's connection to DynamoDB: session, adapter, signer inputs, retry budget."""

    __slots__ = (
        "attempt_timeout",
        "credentials",
        "endpoint",
        "http",
        "max_attempts",
        "region",
        "session",
        "url",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        settings: Settings,
    ) -> None:
        """Wrap an open `session`; requests go to `settings.endpoint_url` or the region's."""
        self.session = session
        self.http = AIOHTTP(session)
        self.credentials = credentials
        self.region = settings.region
        self.endpoint = (
            URL(settings.endpoint_url)
            if settings.endpoint_url
            else make_default_endpoint(settings.region)
        )
        self.url = str(self.endpoint)
        self.max_attempts = settings.store_max_attempts
        self.attempt_timeout = settings.attempt_timeout_seconds


async def open_client(
    settings: Settings, stack: AsyncExitStack, *, environ: Mapping[str, str] = os.environ
) -> Client:
    """Create the DynamoDB client and enter it on `stack`, which closes it.

    Parameters
    ----------
    settings
        Region, endpoint override, attempts and their timeout.
    stack
        Closes the session (and its pooled connections) when it closes.
    environ
        Where the AWS credentials variables are read (`shared.credentials`).

    Raises
    ------
    ConfigError
        The credentials endpoint URI is not one credentials may come from.
    """
    credentials = credentials_from(environ)
    session = aiohttp.ClientSession(
        # The deadline is enforced per read by `Store._send`; the session adds no other bound.
        timeout=aiohttp.ClientTimeout(total=None),
        # DynamoDB needs neither header, and aiohttp would build both for every request.
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )
    await stack.enter_async_context(session)
    return Client(session, credentials, settings)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a Query.

    Parameters
    ----------
    items
        The items on this page, in the index's sort order.
    last_key
        Where the next page would start (DynamoDB JSON), or None when this was the last.
    """

    items: list[Item]
    last_key: RawKey | None


def _attribute_value(value: KeyValue) -> dict[str, str]:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"a key value must be a str, int or Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"a key number must be finite, got {value}")
    return {"N": str(value)}


def _projection(
    names: dict[str, str], keys: Sequence[str], attributes: tuple[str, ...]
) -> dict[str, str]:
    # The key attributes are always projected, so an item holding none of the asked attributes
    # still comes back and is told apart from a missing one.
    wanted = dict.fromkeys((*keys, *attributes))
    placeholders = []
    for index, name in enumerate(wanted):
        placeholder = f"#p{index}"
        names[placeholder] = name
        placeholders.append(placeholder)
    return {"ProjectionExpression": ", ".join(placeholders)}


def _read_request(
    keys: Sequence[str], attributes: tuple[str, ...] | None, consistent: bool
) -> dict[str, Any]:
    request: dict[str, Any] = {"ConsistentRead": consistent}
    if attributes is not None:
        names: dict[str, str] = {}
        request |= _projection(names, keys, attributes)
        request["ExpressionAttributeNames"] = names
    return request


class _ErrorBody(msgspec.Struct):
    type: str = msgspec.field(name="__type", default="")


_ERROR_BODY: Final = msgspec.json.Decoder(_ErrorBody)


def _refusal(action: str, response: Response) -> tuple[StoreError, str]:
    """What a non-200 answer means, and DynamoDB's error code."""
    try:
        code = _ERROR_BODY.decode(response.body).type.rpartition("#")[2]
    except msgspec.DecodeError:
        code = ""
    if code in _THROTTLE_CODES:
        return StoreThrottled(f"DynamoDB throttled {action}: {code}"), code
    return StoreUnavailable(
        f"DynamoDB rejected {action}: {code or 'unknown'} (HTTP {response.status})"
    ), code


def _backoff(retry: int) -> float:
    return random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (retry - 1)))


def _caused(error: StoreError, cause: BaseException) -> StoreError:
    error.__cause__ = cause
    return error


class Store:
    """Reads items through the container's one client, each read bounded by its deadline."""

    __slots__ = ("_client", "_client_request", "_key_attribute", "_table", "_user_request")

    def __init__(
        self,
        client: Client,
        settings: Settings,
        *,
        user_attributes: tuple[str, ...],
        client_attributes: tuple[str, ...],
    ) -> None:
        """Prepare both profile GetItem requests once: table, consistency and projection."""
        self._client = client
        self._table = settings.table_name
        self._key_attribute = settings.key_attribute
        keys = (settings.key_attribute,)
        base = {"TableName": settings.table_name}
        self._user_request = base | _read_request(keys, user_attributes, settings.consistent_read)
        self._client_request = base | _read_request(
            keys, client_attributes, settings.consistent_read
        )

    async def get(self, key: str, *, machine: bool, timeout: float) -> Item | None:
        """Fetch the profile item at `key`, or None when there is none.

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
        payload = {**request, "Key": {self._key_attribute: {"S": key}}}
        body = await self._send("GetItem", payload, self._deadline(timeout))
        return self._decode_get_item(body)

    async def get_item(
        self,
        table: str,
        key: Mapping[str, KeyValue],
        attributes: tuple[str, ...] | None,
        consistent: bool,
        *,
        timeout: float,
    ) -> Item | None:
        """Fetch one item by its full key (partition, and sort key if the table has one).

        Parameters
        ----------
        table
            Table name.
        key
            Attribute name -> value (str for S, int or Decimal for N).
        attributes
            Attributes to fetch (the key attributes are always added); None for the whole item.
        consistent
            Strongly consistent read.
        timeout
            Seconds this read may take, retries included.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        payload = {
            "TableName": table,
            "Key": {name: _attribute_value(value) for name, value in key.items()},
            **_read_request(tuple(key), attributes, consistent),
        }
        body = await self._send("GetItem", payload, self._deadline(timeout))
        return self._decode_get_item(body)

    async def batch_get(
        self,
        keys: Mapping[str, Sequence[Mapping[str, KeyValue]]],
        attributes: tuple[str, ...] | None,
        *,
        consistent: bool = False,
        timeout: float,
    ) -> dict[str, list[Item]]:
        """Fetch up to 100 items from one or more tables; keys DynamoDB leaves unprocessed are
        asked again, after a backoff, while the deadline allows.

        Parameters
        ----------
        keys
            Table -> the full keys to fetch there (no key twice).
        attributes
            Attributes to fetch in every table (each table's key attributes are always added);
            None for whole items.
        consistent
            Strongly consistent reads.
        timeout
            Seconds this read may take, every round and retry included.

        Returns
        -------
        dict
            Table -> the items found there, in no particular order; a missing item is absent.

        Raises
        ------
        ValueError
            More than 100 keys.
        StoreError
            `StoreTimeout`, `StoreThrottled` (also when unprocessed keys remain and no further
            round fits the deadline), `StoreUnavailable` or `ItemError`.
        """
        deadline = self._deadline(timeout)
        if sum(map(len, keys.values())) > _BATCH_MAX_KEYS:
            raise ValueError(f"BatchGetItem takes at most {_BATCH_MAX_KEYS} keys")
        found: dict[str, list[Item]] = {table: [] for table in keys}
        requests = {
            table: {
                "Keys": [{n: _attribute_value(v) for n, v in key.items()} for key in table_keys],
                **_read_request(tuple(table_keys[0]), attributes, consistent),
            }
            for table, table_keys in keys.items()
            if table_keys
        }
        loop = asyncio.get_running_loop()
        round_ = 0
        while requests:
            body = await self._send("BatchGetItem", {"RequestItems": requests}, deadline)
            try:
                items, unprocessed = decode_batch_get(body)
            except msgspec.DecodeError as exc:
                raise StoreUnavailable("BatchGetItem response body is not a JSON object") from exc
            for table, table_items in items.items():
                found.setdefault(table, []).extend(table_items)
            requests = {
                table: requests[table] | {"Keys": left}
                for table, left in unprocessed.items()
                if left and table in requests
            }
            if requests:
                round_ += 1
                delay = _backoff(round_)
                if loop.time() + delay >= deadline:
                    left = sum(len(r["Keys"]) for r in requests.values())
                    raise StoreThrottled(
                        f"BatchGetItem left {left} keys unprocessed; no retry fit the deadline"
                    )
                await asyncio.sleep(delay)
        return found

    async def query(
        self,
        table: str,
        *,
        index: str | None,
        partition: tuple[str, KeyValue],
        sort_begins_with: tuple[str, str] | None,
        limit: int,
        attributes: tuple[str, ...] | None,
        consistent: bool,
        timeout: float,
    ) -> Page:
        """Read one page (at most `limit` items) of a Query on the table or one of its indexes.

        Parameters
        ----------
        table, index
            Table name, and the index to query (None for the table itself).
        partition
            The partition key's attribute name and value.
        sort_begins_with
            The sort key's attribute name and a string prefix its values must start with.
        limit
            Most items to read (DynamoDB also stops a page at 1 MB).
        attributes
            Attributes to fetch (the named key attributes are always added); None for all.
        consistent
            Strongly consistent read (not on a global secondary index).
        timeout
            Seconds this read may take, retries included.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        names = {"#k0": partition[0]}
        values = {":k0": _attribute_value(partition[1])}
        condition = "#k0 = :k0"
        if sort_begins_with is not None:
            names["#k1"] = sort_begins_with[0]
            values[":k1"] = {"S": sort_begins_with[1]}
            condition += " AND begins_with(#k1, :k1)"
        payload: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": names,
            "ConsistentRead": consistent,
            "Limit": limit,
        }
        if index is not None:
            payload["IndexName"] = index
        if attributes is not None:
            keys = (partition[0], *(() if sort_begins_with is None else (sort_begins_with[0],)))
            payload |= _projection(names, keys, attributes)
        body = await self._send("Query", payload, self._deadline(timeout))
        try:
            items, last_key = decode_query(body)
        except msgspec.DecodeError as exc:
            raise StoreUnavailable("Query response body is not a JSON object") from exc
        return Page(items=items, last_key=last_key)

    @staticmethod
    def _deadline(timeout: float) -> float:
        return asyncio.get_running_loop().time() + timeout

    @staticmethod
    def _decode_get_item(body: bytes) -> Item | None:
        try:
            return decode_get_item(body)
        except msgspec.DecodeError as exc:
            # A corrupted answer must be an error, never a missing profile.
            raise StoreUnavailable("GetItem response body is not a JSON object") from exc

    async def _send(self, action: str, payload: Mapping[str, Any], deadline: float) -> bytes:
        """Sign and send one request, retrying what may pass, until `deadline`; the 200 body.

        Retried: throttling, 5xx, an expired token (after dropping it), connection failures
        and an attempt's own timeout, each after a jittered backoff that must end before the
        deadline. When no further attempt fits, the last attempt's error is raised.
        """
        client = self._client
        loop = asyncio.get_running_loop()
        last: StoreError | None = None
        for attempt in range(client.max_attempts):
            if attempt:
                delay = _backoff(attempt)
                if loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            bound = min(deadline, loop.time() + client.attempt_timeout)
            try:
                async with asyncio.timeout_at(bound):
                    key = await client.credentials.get_key(client.http)
                    if key is None:
                        raise _NO_CREDENTIALS
                    signed = signed_dynamo_request(
                        key=key,
                        payload=payload,
                        action=action,
                        region=client.region,
                        endpoint=client.endpoint,
                    )
                    response = await client.http(
                        HttpRequest("POST", client.url, signed.headers, signed.body)
                    )
            except TimeoutError as exc:
                if bound >= deadline and last is not None:
                    break  # the deadline cut this attempt: report what the one before met
                last = _caused(StoreTimeout(f"{action} timed out: no answer in time"), exc)
                continue
            except RequestFailed as exc:
                inner = exc.inner
                if isinstance(inner, TimeoutError):
                    last = _caused(
                        StoreTimeout(f"{action} timed out: {type(inner).__name__}"), inner
                    )
                else:
                    last = _caused(
                        StoreUnavailable(f"{action} failed: {type(inner).__name__}: {inner}"), inner
                    )
                continue
            except StoreUnavailable as exc:  # the credentials could not be had
                if exc is _NO_CREDENTIALS:
                    raise StoreUnavailable(str(exc)) from None
                last = exc
                continue
            except OSError as exc:  # a socket error aiohttp lets by
                last = _caused(StoreUnavailable(f"{action} failed: {type(exc).__name__}"), exc)
                continue
            if response.status == 200:
                return response.body
            error, code = _refusal(action, response)
            if code in _EXPIRED_CODES:
                client.credentials.invalidate()
            elif not (isinstance(error, StoreThrottled) or response.status >= 500):
                raise error
            last = error
        if last is None:  # unreachable: max_attempts is at least 1
            raise StoreTimeout(f"{action} timed out: no attempt fit the deadline")
        raise last
