"""AWS credentials for the store, the way Lambda hands them out, behind aiodynamo's interface.

`credentials_from(environ)` picks one source when the client is opened (a SnapStart restore
opens a new client, so the choice and the key are made again):

1. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`): how Lambda
   usually passes the execution role's key.
2. The container credentials endpoint, which SnapStart-restored functions use:
   `AWS_CONTAINER_CREDENTIALS_FULL_URI` (https, or http to a loopback or the ECS/EKS link-local
   address) or `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on `http://169.254.170.2`), with the
   `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read again at every
   fetch: it may rotate) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`. The key is fetched again
   `REFRESH_BEFORE_SECONDS` before it expires; concurrent callers share one fetch, and a failed
   refresh keeps a key that has not expired yet.
3. The shared credentials file (aiodynamo's `FileCredentials`), for `make invoke` on a
   developer's machine.

Why not aiodynamo's `Credentials.auto()`: it ignores the token file, accepts any full URI,
retries the endpoint three times two seconds each (longer than Cognito ever waits), and tries
the EC2 instance metadata service, which costs a timeout wherever there is none. What an AWS SDK
reads from the environment is read here, from the mapping given; every other setting comes from
`shared.config`. Fetch failures are `StoreUnavailable`; a bad endpoint URI is a `ConfigError`.
"""

import asyncio
import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import msgspec
from aiodynamo.credentials import Credentials, FileCredentials, Key, StaticCredentials
from aiodynamo.http.types import HttpImplementation, Request
from yarl import URL

from shared.errors import ConfigError, StoreUnavailable

__all__ = ("REFRESH_BEFORE_SECONDS", "ContainerCredentials", "credentials_from")

REFRESH_BEFORE_SECONDS: Final = 300.0
"""A key from the endpoint is fetched again this long before it expires."""

_FETCH_TIMEOUT_SECONDS: Final = 2.0
"""Bound on one shared fetch; each caller is also bounded by its own deadline."""

_ECS_HOST: Final = "169.254.170.2"
_ALLOWED_HTTP_HOSTS: Final = frozenset({"localhost", _ECS_HOST, "169.254.170.23", "fd00:ec2::23"})


class _Issued(msgspec.Struct):
    """The endpoint's answer (the same shape ECS, EKS and Lambda serve)."""

    AccessKeyId: str
    SecretAccessKey: str
    Token: str | None = None
    Expiration: datetime | None = None


_ISSUED: Final = msgspec.json.Decoder(_Issued)


def _check_full_uri(uri: str) -> URL:
    url = URL(uri)
    if url.scheme == "https" and url.host:
        return url
    host = url.host or ""
    if url.scheme == "http" and (host in _ALLOWED_HTTP_HOSTS or _is_loopback(host)):
        return url
    raise ConfigError(
        f"`AWS_CONTAINER_CREDENTIALS_FULL_URI` must be https, or http to a loopback address or "
        f"{_ECS_HOST}, got `{uri!r}`"
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ContainerCredentials(Credentials):
    """The container credentials endpoint, as aiodynamo `Credentials`."""

    def __init__(
        self, url: URL, *, token: str | None = None, token_file: Path | None = None
    ) -> None:
        """Fetch from `url`, sending the token (the file wins when both are given)."""
        self._url = str(url)
        self._token = token
        self._token_file = token_file
        self._key: Key | None = None
        self._refresh_at = datetime.max.replace(tzinfo=UTC)
        self._expires = self._refresh_at
        self._fetching: asyncio.Task[None] | None = None

    def is_disabled(self) -> bool:
        """Never: an endpoint was configured."""
        return False

    def invalidate(self) -> bool:
        """Forget the key (DynamoDB said it expired); the next call fetches a new one."""
        self._key = None
        return True

    async def get_key(self, http: HttpImplementation) -> Key | None:
        """The current key, fetched first when there is none or it is about to expire.

        Raises
        ------
        StoreUnavailable
            The endpoint failed and no unexpired key is left.
        """
        now = datetime.now(UTC)
        if self._key is not None and now < self._refresh_at:
            return self._key
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._fetch(http))
            self._fetching.add_done_callback(self._fetched)
        try:
            # Shielded: a caller whose deadline ends does not cancel the fetch others share.
            await asyncio.shield(self._fetching)
        except StoreUnavailable:
            if self._key is not None and datetime.now(UTC) < self._expires:
                return self._key  # the refresh failed, but the key still works
            raise
        return self._key

    def _fetched(self, task: "asyncio.Task[None]") -> None:
        self._fetching = None
        if not task.cancelled():
            task.exception()  # retrieved here even when every caller stopped waiting

    def _authorization(self) -> dict[str, str] | None:
        token = self._token
        if self._token_file is not None:
            try:
                token = self._token_file.read_text().strip()
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot read `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` {self._token_file}: "
                    f"{exc.strerror}"
                ) from exc
        if token is None:
            return None
        if "\r" in token or "\n" in token:
            raise StoreUnavailable("the container authorization token holds a line break")
        return {"Authorization": token}

    async def _fetch(self, http: HttpImplementation) -> None:
        request = Request(method="GET", url=self._url, headers=self._authorization(), body=None)
        try:
            async with asyncio.timeout(_FETCH_TIMEOUT_SECONDS):
                response = await http(request)
        except TimeoutError as exc:
            raise StoreUnavailable("the container credentials endpoint did not answer") from exc
        except Exception as exc:  # aiodynamo's RequestFailed, or a socket error it lets by
            raise StoreUnavailable(
                f"the container credentials endpoint failed: {type(exc).__name__}"
            ) from exc
        if response.status != 200:
            raise StoreUnavailable(
                f"the container credentials endpoint answered HTTP {response.status}"
            )
        try:
            issued = _ISSUED.decode(response.body)
        except msgspec.DecodeError as exc:
            raise StoreUnavailable(
                f"the container credentials endpoint sent no usable credentials: {exc}"
            ) from exc
        self._key = Key(id=issued.AccessKeyId, secret=issued.SecretAccessKey, token=issued.Token)
        if issued.Expiration is None:
            self._expires = self._refresh_at = datetime.max.replace(tzinfo=UTC)
        else:
            expires = issued.Expiration
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            self._expires = expires
            self._refresh_at = expires - timedelta(seconds=REFRESH_BEFORE_SECONDS)


def credentials_from(environ: Mapping[str, str]) -> Credentials:
    """Pick the credentials source the environment describes (see the module docstring).

    Raises
    ------
    ConfigError
        `AWS_CONTAINER_CREDENTIALS_FULL_URI` points at a host credentials may not come from.
    """
    key_id = environ.get("AWS_ACCESS_KEY_ID")
    secret = environ.get("AWS_SECRET_ACCESS_KEY")
    if key_id and secret:
        return StaticCredentials(
            Key(id=key_id, secret=secret, token=environ.get("AWS_SESSION_TOKEN"))
        )
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative or full:
        url = URL(f"http://{_ECS_HOST}{relative}") if relative else _check_full_uri(full or "")
        token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        return ContainerCredentials(
            url,
            token=environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            token_file=Path(token_file) if token_file else None,
        )
    shared_file = environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return FileCredentials(
        path=Path(shared_file) if shared_file else None,
        profile_name=environ.get("AWS_PROFILE", "default"),
    )
