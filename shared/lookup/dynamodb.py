"""The connection to DynamoDB: one per container, signing, sending and retrying one request.

The only module (with `shared.lookup.credentials` and the transport under it,
`shared.lookup.transport` and `shared.lookup.codec`) that imports aiodynamo or an HTTP library.
`open_connection` builds the container's one `Connection` on an `AsyncExitStack` (closed by
`aclose` in tests, bench and `make invoke`; Lambda has no reliable close hook): the TLS context
(`tls_context`: the Amazon Trust Services roots shipped in `shared/certs/`, or the file
`AWS_CA_BUNDLE` names; always verifying), one `shared.lookup.transport.Transport` over it with
pooled keep-alive connections, and the credentials `shared.lookup.credentials` picks. Requests
are signed by aiodynamo's SigV4 signer and sent by `Connection.send`, which owns the retries:
every request ends by the deadline its caller gives, attempts and backoff included, and a
backoff that would not fit is not started. aiodynamo's own `Client` is not used: its retry loop
sleeps past any deadline, it parses bodies with `json` and numbers into float, and its import
(expressions, models) costs about 35 ms of cold start. What the requests say and how their
answers decode is `shared.lookup.store`'s.

Every failure is translated here, through one table (`_TRANSLATIONS`), into a `StoreError`
raised `from` its cause: throttling into `StoreThrottled`; 5xx, other refusals, connection
failures and answers that are not usable HTTP (the codec's `ProtocolError`s) into
`StoreUnavailable`; no answer inside the deadline into `StoreTimeout` (unless an earlier attempt
of the same request met a throttle or a failure: that is what is reported).
`asyncio.CancelledError` passes through untouched.
"""

import asyncio
import os
import ssl
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final

import msgspec
from aiodynamo.credentials import Credentials
from aiodynamo.http.types import Request as HttpRequest
from aiodynamo.http.types import RequestFailed, Response
from aiodynamo.sign import make_default_endpoint, signed_dynamo_request
from yarl import URL

from shared.config import Settings
from shared.errors import ConfigError, StoreError, StoreThrottled, StoreTimeout, StoreUnavailable
from shared.lookup.codec import ProtocolError
from shared.lookup.credentials import credentials_from
from shared.lookup.store import backoff
from shared.lookup.transport import Http, Transport

__all__ = ("Connection", "open_connection", "tls_context")

_BUNDLED_CA_FILE: Final = Path(__file__).resolve().parents[1] / "certs" / "amazon-trust.pem"
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


class _NoCredentials(StoreUnavailable):
    """No credentials source gave a key: retrying cannot help, so no attempt follows."""

    def __init__(self) -> None:
        super().__init__(
            "no AWS credentials: set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or the "
            "container credentials variables"
        )


class Connection:
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

    async def post(self, action: str, payload: Mapping[str, Any]) -> Response:
        """Sign and send one DynamoDB request (one attempt, unbounded: the caller bounds it).

        Raises
        ------
        StoreUnavailable
            No credentials could be had (`_NoCredentials` when there are none at all).
        RequestFailed, OSError
            The request could not be sent or answered.
        """
        key = await self.credentials.get_key(self.http)
        if key is None:
            raise _NoCredentials
        signed = signed_dynamo_request(
            key=key, payload=payload, action=action, region=self.region, endpoint=self.endpoint
        )
        return await self.http(HttpRequest("POST", self.url, signed.headers, signed.body))

    async def send(self, action: str, payload: Mapping[str, Any], deadline: float) -> bytes:
        """Sign and send one request, retrying what may pass, until `deadline`; the 200 body.

        Retried: throttling, 5xx, an expired token (after dropping it), connection failures
        and an attempt's own timeout, each after a jittered backoff that must end before the
        deadline. When no further attempt fits, the last attempt's error is raised.
        """
        connection = self
        loop = asyncio.get_running_loop()
        last: StoreError | None = None
        for attempt in range(connection.max_attempts):
            if attempt:
                delay = backoff(attempt)
                if loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            bound = min(deadline, loop.time() + connection.attempt_timeout)
            try:
                async with asyncio.timeout_at(bound):
                    response = await connection.post(action, payload)
            except _NoCredentials:
                raise
            except _FAILURES as exc:  # every class `_TRANSLATIONS` lists
                if isinstance(exc, TimeoutError) and bound >= deadline and last is not None:
                    break  # the deadline cut this attempt: report what the one before met
                last = _translate(action, exc)
                continue
            if response.status == 200:
                return response.body
            error, code = _refusal(action, response)
            if code in _EXPIRED_CODES:
                connection.credentials.invalidate()
            elif not (isinstance(error, StoreThrottled) or response.status >= 500):
                raise error
            last = error
        if last is None:  # unreachable: max_attempts is at least 1
            raise StoreTimeout(f"{action} timed out: no attempt fit the deadline")
        raise last


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
        named = "`AWS_CA_BUNDLE` file" if settings.ca_bundle else "the bundled CA file"
        raise ConfigError(f"{named} {cafile} holds no usable CA certificate: {exc}") from exc


async def open_connection(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    environ: Mapping[str, str] = os.environ,
    http: Callable[[ssl.SSLContext], Http] = Transport,
) -> Connection:
    """Open the DynamoDB connection and enter it on `stack`, which closes it.

    Parameters
    ----------
    settings
        Region, endpoint override, CA bundle, attempts and their timeout.
    stack
        Closes the transport (and its pooled connections) when it closes.
    environ
        Where the AWS credentials variables are read (`shared.lookup.credentials`).
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
    return Connection(transport, credentials, settings, tls)


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


def _caused(error: StoreError, cause: BaseException) -> StoreError:
    error.__cause__ = cause
    return error


def _timed_out(action: str, exc: BaseException) -> StoreError:
    return _caused(StoreTimeout(f"{action} timed out: no answer in time"), exc)


def _failed_request(action: str, exc: BaseException) -> StoreError:
    inner = exc.inner if isinstance(exc, RequestFailed) else exc
    if isinstance(inner, TimeoutError):
        return _caused(StoreTimeout(f"{action} timed out: {type(inner).__name__}"), inner)
    if isinstance(inner, ProtocolError):
        return _unusable_answer(action, inner)
    return _caused(StoreUnavailable(f"{action} failed: {type(inner).__name__}: {inner}"), inner)


def _unusable_answer(action: str, exc: BaseException) -> StoreError:
    error = StoreUnavailable(
        f"{action} failed: not a usable HTTP answer: {type(exc).__name__}: {exc}"
    )
    return _caused(error, exc)


def _already(action: str, exc: BaseException) -> StoreError:
    assert isinstance(exc, StoreError)  # the table below sends only StoreErrors here
    return exc


def _socket_error(action: str, exc: BaseException) -> StoreError:
    return _caused(StoreUnavailable(f"{action} failed: {type(exc).__name__}"), exc)


_Translate = Callable[[str, BaseException], StoreError]
_TRANSLATIONS: Final[tuple[tuple[type[BaseException], _Translate], ...]] = (
    # In this order: TimeoutError is an OSError.
    (TimeoutError, _timed_out),  # the attempt's own bound
    (RequestFailed, _failed_request),  # the transport could not send or read (`inner`: why)
    (ProtocolError, _unusable_answer),  # the codec refused the answer (unwrapped)
    (StoreError, _already),  # the credentials could not be had
    (OSError, _socket_error),  # a socket error the transport lets by
)
"""How one attempt's failure becomes a `StoreError`: the first matching class wins."""
_FAILURES: Final = tuple(kind for kind, _ in _TRANSLATIONS)


def _translate(action: str, exc: BaseException) -> StoreError:
    """The `StoreError` one failed attempt means (`send` catches exactly `_FAILURES`)."""
    for kind, translate in _TRANSLATIONS:
        if isinstance(exc, kind):
            return translate(action, exc)
    raise exc  # pragma: no cover - `send` catches only the classes above
