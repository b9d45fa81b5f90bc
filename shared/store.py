"""The profile store: one DynamoDB client per container, and the reads it serves.

The only module that talks to DynamoDB. `open_client` builds the container's one client on an
`AsyncExitStack` (closed by `aclose` in tests, bench and `make invoke`; Lambda has no reliable
close hook): the TLS context (`tls_context`: the Amazon Trust Services roots shipped in
`shared/certs/`, or the file `AWS_CA_BUNDLE` names; always verifying), one `shared.transport`
over it with pooled keep-alive connections, and the credentials `shared.credentials` picks.
Requests are signed by aiodynamo's SigV4 signer and sent by `Store._send`, which owns the
retries: every read (`get_item`, `batch_get`, `query`) ends by the deadline its caller
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
import ssl
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

import msgspec
from aiodynamo.credentials import Credentials
from aiodynamo.http.types import Request as HttpRequest
from aiodynamo.http.types import RequestFailed, Response
from aiodynamo.sign import make_default_endpoint, signed_dynamo_request
from yarl import URL

from shared.config import AWS_CA_BUNDLE, Settings
from shared.credentials import credentials_from
from shared.errors import ConfigError, StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.item import Item, decode_batch_get, decode_get_item, decode_query
from shared.lookup import ItemRead, ItemSource, QueryRead, QuerySource
from shared.transport import Http, Transport

__all__ = ("Client", "Store", "open_client", "tls_context")

_BUNDLED_CA_FILE: Final = Path(__file__).resolve().parent / "certs" / "amazon-trust.pem"
"""The Amazon Trust Services roots every AWS endpoint chains to, shipped in the package."""

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


class Client:
    """The container's connection to DynamoDB: transport, signer inputs, retry budget."""

    __slots__ = (
        "attempt_timeout",
        "credentials",
        "endpoint",
        "http",
        "max_attempts",
        "region",
        "tls",
        "url",
    )

    def __init__(
        self, http: Http, credentials: Credentials, settings: Settings, tls: ssl.SSLContext
    ) -> None:
        """Send through `http` (verifying with `tls`) to `settings.endpoint_url` or the region's."""
        self.http = http
        self.tls = tls
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


def tls_context(settings: Settings) -> ssl.SSLContext:
    """What every https connection is verified against: certificate chain and host name.

    The roots are the file `AWS_CA_BUNDLE` names, else the bundled Amazon Trust Services roots;
    never the system's, never unverified.

    Raises
    ------
    ConfigError
        The file holds no certificate OpenSSL can load.
    """
    cafile = settings.ca_bundle or str(_BUNDLED_CA_FILE)
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        named = f"`{AWS_CA_BUNDLE}` file" if settings.ca_bundle else "the bundled CA file"
        raise ConfigError(f"{named} {cafile} holds no usable CA certificate: {exc}") from exc


async def open_client(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    environ: Mapping[str, str] = os.environ,
    http: Callable[[ssl.SSLContext], Http] = Transport,
) -> Client:
    """Create the DynamoDB client and enter it on `stack`, which closes it.

    Parameters
    ----------
    settings
        Region, endpoint override, CA bundle, attempts and their timeout.
    stack
        Closes the transport (and its pooled connections) when it closes.
    environ
        Where the AWS credentials variables are read (`shared.credentials`).
    http
        Makes the transport from the TLS context (the bench passes others).

    Raises
    ------
    ConfigError
        The credentials endpoint URI is not one credentials may come from, or the CA file
        holds no usable certificate.
    """
    credentials = credentials_from(environ)
    tls = tls_context(settings)
    transport = http(tls)
    stack.push_async_callback(transport.aclose)
    return Client(transport, credentials, settings, tls)


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


def _deadline(timeout: float) -> float:
    return asyncio.get_running_loop().time() + timeout


def _projection(key: tuple[str, ...], attributes: tuple[str, ...]) -> dict[str, Any]:
    # The key attributes are always projected, so an item that holds none of the mapped
    # attributes still comes back and is told apart from a missing one.
    wanted = dict.fromkeys((*key, *attributes))
    names = {f"#a{index}": name for index, name in enumerate(wanted)}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


def _key(key: tuple[tuple[str, str], ...]) -> dict[str, dict[str, str]]:
    return {attribute: {"S": value} for attribute, value in key}


def _key_of(item: Item, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """An answered item's key, as its read named it (key values are strings: S)."""
    key = []
    for name in names:
        value = item.get(name)
        key.append((name, value if isinstance(value, str) else ""))
    return tuple(key)


class Store:
    """Reads items (GetItem, BatchGetItem, Query) through the container's one client.

    Each read ends by its `timeout`, attempts and backoff included. Projections are built once
    per source (sources live as long as the container).
    """

    __slots__ = ("_client", "_projections")

    def __init__(self, client: Client) -> None:
        """Read through `client`."""
        self._client = client
        self._projections: dict[int, tuple[ItemSource | QuerySource, dict[str, Any]]] = {}

    def _projected(self, source: ItemSource | QuerySource, key: tuple[str, ...]) -> dict[str, Any]:
        known = self._projections.get(id(source))
        if known is None or known[0] is not source:
            # The source is kept beside its projection, so its id is never reused meanwhile.
            known = (source, _projection(key, source.attributes))
            self._projections[id(source)] = known
        return known[1]

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        """Fetch the item `read` names, or None when there is none.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        payload = {
            "TableName": source.table,
            "Key": _key(read.key),
            "ConsistentRead": consistent,
            **self._projected(source, tuple(attribute for attribute, _ in read.key)),
        }
        body = await self._send("GetItem", payload, _deadline(timeout))
        try:
            return decode_get_item(body)
        except msgspec.DecodeError as exc:
            # A corrupted answer must be an error, never a missing profile.
            raise StoreUnavailable("GetItem response body is not a JSON object") from exc

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        """Fetch the items `reads` name with BatchGetItem, in their order (None: no such item).

        Keys DynamoDB leaves unprocessed are asked again after a jittered backoff, while the
        deadline allows; when no further round fits, `StoreThrottled`.

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        deadline = _deadline(timeout)
        # One entry per table: its keys once each (DynamoDB refuses a key asked twice) and one
        # projection holding every source's attributes.
        positions: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = {}
        tables: dict[str, tuple[tuple[str, ...], dict[str, None]]] = {}
        for index, read in enumerate(reads):
            table = read.source.table
            positions.setdefault((table, read.key), []).append(index)
            key_names = tuple(attribute for attribute, _ in read.key)
            _, attributes = tables.setdefault(table, (key_names, {}))
            attributes.update(dict.fromkeys(read.source.attributes))
        requests: dict[str, dict[str, Any]] = {
            table: {
                "Keys": [_key(key) for (of, key) in positions if of == table],
                "ConsistentRead": consistent,
                **_projection(key_names, tuple(attributes)),
            }
            for table, (key_names, attributes) in tables.items()
        }
        key_names_of = {table: key_names for table, (key_names, _) in tables.items()}
        found: list[Item | None] = [None] * len(reads)
        loop = asyncio.get_running_loop()
        rounds = 0
        while requests:
            body = await self._send("BatchGetItem", {"RequestItems": requests}, deadline)
            try:
                items, unprocessed = decode_batch_get(body)
            except msgspec.DecodeError as exc:
                raise StoreUnavailable("BatchGetItem response body is not a JSON object") from exc
            for table, table_items in items.items():
                names = key_names_of.get(table, ())
                for item in table_items:
                    for position in positions.get((table, _key_of(item, names)), ()):
                        found[position] = item
            requests = {
                table: requests[table] | {"Keys": keys}
                for table, keys in unprocessed.items()
                if keys and table in requests
            }
            if requests:
                rounds += 1
                delay = _backoff(rounds)
                if loop.time() + delay >= deadline:
                    left = sum(len(entry["Keys"]) for entry in requests.values())
                    raise StoreThrottled(
                        f"DynamoDB left {left} BatchGetItem keys unprocessed until the deadline"
                    )
                await asyncio.sleep(delay)
        return found

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        """The items `read` matches, in key order: one page (at most `limit` items, 1 MB).

        Raises
        ------
        StoreError
            `StoreTimeout`, `StoreThrottled`, `StoreUnavailable` or `ItemError`.
        """
        source = read.source
        projection = self._projected(source, ())
        names = {**projection["ExpressionAttributeNames"], "#p": source.partition[0]}
        values = {":p": {"S": read.partition}}
        condition = "#p = :p"
        if source.sort_prefix is not None and read.prefix is not None:
            names["#s"] = source.sort_prefix[0]
            values[":s"] = {"S": read.prefix}
            condition += " AND begins_with(#s, :s)"
        payload: dict[str, Any] = {
            "TableName": source.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": names,
            "ProjectionExpression": projection["ProjectionExpression"],
            "Limit": source.limit,
            "ConsistentRead": consistent and source.index is None,
        }
        if source.index is not None:
            payload["IndexName"] = source.index
        body = await self._send("Query", payload, _deadline(timeout))
        try:
            items, _ = decode_query(body)
        except msgspec.DecodeError as exc:
            raise StoreUnavailable("Query response body is not a JSON object") from exc
        return items

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
            except OSError as exc:  # a socket error the transport lets by
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
