"""Credentials as Lambda hands them out: environment variables, and the container credentials
endpoint (SnapStart) with its authorization token, refreshed before the key expires.

A local server on 127.0.0.1 plays the credentials endpoint and refuses a wrong `Authorization`
header; a scripted DynamoDB records which key signed each request.
"""

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiodynamo.credentials import Key

from shared.config import Settings
from shared.errors import ConfigError, StoreUnavailable
from shared.lookup import Store
from shared.lookup.credentials import ContainerCredentials, credentials_from
from shared.lookup.dynamodb import Connection, open_connection
from shared.lookup.keys import KeyTemplate
from shared.lookup.sources import ItemRead, ItemSource
from tests.conftest import make_settings
from tests.integration.conftest import Scripted
from tests.support.scripted_http import Answer, Recorded, ScriptedServer

pytestmark = pytest.mark.integration

TOKEN = "Bearer-token-for-tests"
ITEM = b'{"Item": {"id": {"S": "USER#jane.doe"}, "first_name": {"S": "Jane"}}}'
PROFILES = ItemSource(name="item", table="profiles", key=(("id", KeyTemplate("test", "x")),),
                      attributes=("first_name",))  # fmt: skip
EXPIRED = b'{"__type":"com.amazonaws.dynamodb.v20120810#ExpiredTokenException","message":"old"}'


class Issuer:
    """The credentials endpoint: a new key per fetch, only for the right token, while `up`."""

    def __init__(self, token: str = TOKEN, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.token = token
        self.lifetime = lifetime
        self.up = True
        self.issued = 0
        self.server = ScriptedServer(self._answer, content_type="application/json")
        self.url = f"{self.server.endpoint}/v1/credentials"

    def _answer(self, seen: Recorded) -> Answer:
        if seen.headers.get("Authorization") != self.token:
            return 401, b'{"message": "wrong authorization token"}'
        if not self.up:
            return 500, b'{"message": "down"}'
        self.issued += 1
        expires = datetime.now(UTC) + self.lifetime
        return 200, json.dumps(
            {
                "AccessKeyId": f"AKIDTEST{self.issued}",
                "SecretAccessKey": "secret",
                "Token": f"session-{self.issued}",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ).encode()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    made = Issuer()
    yield made
    made.server.close()


class Container:
    """A client opened with a given environment, on its own loop, closed at the end."""

    def __init__(self, settings: Settings, environ: dict[str, str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.client: Connection = self.loop.run_until_complete(
            open_connection(settings, self.stack, environ=environ)
        )
        self.store = Store(self.client)

    def get(self) -> Any:
        read = ItemRead(source=PROFILES, key=(("id", "USER#jane.doe"),))
        return self.loop.run_until_complete(
            self.store.get_item(read, consistent=False, timeout=1.5)
        )

    def key(self) -> Key | None:
        return self.loop.run_until_complete(self.client.credentials.get_key(self.client.http))

    def close(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.close()


@pytest.fixture
def container() -> Iterator[Callable[..., Container]]:
    made: list[Container] = []

    def build(environ: dict[str, str], **env: str) -> Container:
        made.append(Container(make_settings(**env), environ))
        return made[-1]

    yield build
    for item in made:
        item.close()


def _signed_by(server: ScriptedServer) -> list[tuple[str, str | None]]:
    return [
        (r.headers["Authorization"].split("Credential=")[1].split("/")[0],
         r.headers.get("X-Amz-Security-Token"))
        for r in server.requests
    ]  # fmt: skip


def test_credentials_from_environment_variables_sign_requests(
    scripted: Scripted, container: Callable[..., Container]
) -> None:
    store = scripted([(200, ITEM)])
    env = {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s",
           "AWS_SESSION_TOKEN": "session-env"}  # fmt: skip
    c = container(env, AWS_ENDPOINT_URL_DYNAMODB=store.endpoint)
    assert c.get() == {"id": "USER#jane.doe", "first_name": "Jane"}
    assert _signed_by(store) == [("AKIDENV", "session-env")]


def test_credentials_container_endpoint_with_token(
    issuer: Issuer,
    scripted: Scripted,
    container: Callable[..., Container],
) -> None:
    store = scripted([(200, ITEM)])
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}  # fmt: skip
    c = container(env, AWS_ENDPOINT_URL_DYNAMODB=store.endpoint)
    assert c.get() is not None
    assert c.get() is not None
    # One fetch serves every request while the key is far from expiry.
    assert issuer.issued == 1
    assert _signed_by(store) == [("AKIDTEST1", "session-1")] * 2
    assert issuer.server.requests[0].headers["Authorization"] == TOKEN


def test_credentials_wrong_token_is_unavailable(
    issuer: Issuer,
    scripted: Scripted,
    container: Callable[..., Container],
) -> None:
    store = scripted([(200, ITEM)])
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer-wrong"}  # fmt: skip
    c = container(env, AWS_ENDPOINT_URL_DYNAMODB=store.endpoint, STORE_MAX_ATTEMPTS="1")
    with pytest.raises(StoreUnavailable, match="HTTP 401"):
        c.get()
    assert store.requests == []  # nothing unsigned or badly signed ever left


def test_credentials_token_file_is_read_at_every_fetch(
    issuer: Issuer, container: Callable[..., Container], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("Bearer-old\n")
    issuer.lifetime = timedelta(minutes=2)  # inside the refresh window: every call fetches
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer-ignored-when-a-file-is-set",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)}  # fmt: skip
    c = container(env)
    issuer.token = "Bearer-old"
    assert c.key() is not None
    token_file.write_text("Bearer-rotated")
    issuer.token = "Bearer-rotated"
    key = c.key()
    assert key is not None
    assert key.id == "AKIDTEST2"
    sent = [r.headers["Authorization"] for r in issuer.server.requests]
    assert sent == ["Bearer-old", "Bearer-rotated"]


def test_credentials_refreshed_before_expiry_and_kept_when_refresh_fails(
    issuer: Issuer, container: Callable[..., Container]
) -> None:
    # GIVEN a key that expires in four minutes: inside the five-minute refresh window
    issuer.lifetime = timedelta(minutes=4)
    c = container({"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN})  # fmt: skip
    first = c.key()
    second = c.key()
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == ("AKIDTEST1", "AKIDTEST2")
    # WHEN the endpoint fails, the key that has not expired yet is still used
    issuer.up = False
    third = c.key()
    assert third is not None
    assert third.id == "AKIDTEST2"


def test_credentials_expired_key_and_endpoint_down_is_unavailable(
    issuer: Issuer, container: Callable[..., Container]
) -> None:
    issuer.lifetime = timedelta(seconds=-1)
    c = container({"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN})  # fmt: skip
    assert c.key() is not None
    issuer.up = False
    with pytest.raises(StoreUnavailable, match="HTTP 500"):
        c.key()


def test_credentials_concurrent_callers_share_one_fetch(
    issuer: Issuer, container: Callable[..., Container]
) -> None:
    c = container({"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN})  # fmt: skip

    async def many() -> list[Key | None]:
        creds, http = c.client.credentials, c.client.http
        return list(await asyncio.gather(*(creds.get_key(http) for _ in range(5))))

    keys = c.loop.run_until_complete(many())
    assert {k.id for k in keys if k is not None} == {"AKIDTEST1"}
    assert issuer.issued == 1


def test_credentials_expired_token_answer_fetches_a_new_key(
    issuer: Issuer,
    scripted: Scripted,
    container: Callable[..., Container],
) -> None:
    store = scripted([(400, EXPIRED), (200, ITEM)])
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": issuer.url,
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}  # fmt: skip
    c = container(env, AWS_ENDPOINT_URL_DYNAMODB=store.endpoint, LOOKUP_TIMEOUT_MS="2000")
    assert c.get() is not None
    assert _signed_by(store) == [("AKIDTEST1", "session-1"), ("AKIDTEST2", "session-2")]


def test_credentials_relative_uri_uses_the_ecs_address() -> None:
    creds = credentials_from({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"})
    assert isinstance(creds, ContainerCredentials)
    assert creds._url == "http://169.254.170.2/v2/credentials/abc"  # what it will fetch


@pytest.mark.parametrize(
    "uri", ["http://10.0.0.5/creds", "http://example.com/creds", "ftp://127.0.0.1/creds"]
)
def test_credentials_full_uri_to_a_foreign_host_is_refused(uri: str) -> None:
    with pytest.raises(ConfigError, match="AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        credentials_from({"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri})


@pytest.mark.parametrize(
    "uri", ["https://creds.example.com/v1", "http://127.0.0.1:9001/c", "http://[::1]/c",
            "http://localhost/c", "http://169.254.170.23/c"],
)  # fmt: skip
def test_credentials_full_uri_accepted(uri: str) -> None:
    assert isinstance(
        credentials_from({"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri}), ContainerCredentials
    )


def test_credentials_none_found_is_unavailable(
    scripted: Scripted,
    container: Callable[..., Container],
    tmp_path: Path,
) -> None:
    store = scripted([(200, ITEM)])
    c = container({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent")},
                  AWS_ENDPOINT_URL_DYNAMODB=store.endpoint)  # fmt: skip
    with pytest.raises(StoreUnavailable, match="no AWS credentials"):
        c.get()
    assert store.requests == []
