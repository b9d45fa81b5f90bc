"""A moto server with the seeded profile table, and handler-like harnesses around it.

A harness is a `tools.container.Container`: what `handler.app` does at import (one event loop and
one client per container, reused by every invocation), closed at the end of the test.
"""

from collections.abc import Callable, Iterator

import pytest

from shared.config import Settings
from tests.conftest import EVENTS, FakeClock, make_settings
from tests.support.scripted_http import Answer, Recorded, ScriptedServer
from tools.container import Container
from tools.fault_proxy import FaultProxy
from tools.local_dynamodb import create_table, load_items, moto_server, put_items

TABLE = "profiles"


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        create_table(url, TABLE)
        put_items(url, TABLE, load_items(EVENTS / "profiles.json"))
        yield url


@pytest.fixture
def proxy(endpoint: str) -> Iterator[FaultProxy]:
    host, port = endpoint.removeprefix("http://").split(":")
    fault_proxy = FaultProxy(host, int(port))
    yield fault_proxy
    fault_proxy.close()


class Harness(Container):
    """One simulated container against the server, its cache on a fake clock, logs captured."""

    clock: FakeClock


def open_container(settings: Settings) -> Harness:
    """A container on `settings` whose cache runs on a fake clock (`harness.clock`)."""
    return Harness(settings, clock=FakeClock())


@pytest.fixture
def harness(endpoint: str) -> Iterator[Callable[..., Harness]]:
    """Factory: `harness(endpoint=..., **env)` builds a container against a server."""
    made: list[Harness] = []

    def build(url: str | None = None, **env: str) -> Harness:
        settings = make_settings(AWS_ENDPOINT_URL_DYNAMODB=url or endpoint, **env)
        made.append(open_container(settings))
        return made[-1]

    yield build
    for item in made:
        item.close()


Scripted = Callable[[list[Answer] | Callable[[Recorded], Answer]], ScriptedServer]
"""Starts a scripted HTTP server (127.0.0.1, free port) answering the given answers in turn."""


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    """Scripted servers for a test; each is stopped at its end."""
    made: list[ScriptedServer] = []

    def build(answers: list[Answer] | Callable[[Recorded], Answer]) -> ScriptedServer:
        made.append(ScriptedServer(answers))
        return made[-1]

    yield build
    for server in made:
        server.close()
