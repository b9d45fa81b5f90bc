"""A moto server with the seeded profile table, and handler-like harnesses around it.

A harness does what `handler.app` does at import: one event loop and one client per
"container", reused by every invocation, closed at the end of the test.
"""

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.config import Settings
from shared.telemetry import Logger
from shared.trigger import Deps, Invocation, evaluate, open_deps, process
from tests.conftest import EVENTS, FakeClock, make_settings
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


class Harness:
    """One simulated container: settings, a kept loop, deps opened once, a fake cache clock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = FakeClock()
        self.lines: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        logger = Logger(
            "test", settings.log_level, lambda line: self.lines.append(json.loads(line))
        )
        self.deps: Deps = self.loop.run_until_complete(
            open_deps(settings, logger=logger, clock=self.clock)
        )

    def invoke(self, event: dict[str, Any], remaining_ms: int | None = 5000) -> dict[str, Any]:
        return self.loop.run_until_complete(process(event, remaining_ms, self.deps))

    def evaluate(self, event: dict[str, Any], remaining_ms: int | None = 5000) -> Invocation:
        return self.loop.run_until_complete(evaluate(event, remaining_ms, self.deps))

    def close(self) -> None:
        self.loop.run_until_complete(self.deps.aclose())
        # Give aiohttp a beat to finish closing its transports before the loop goes.
        self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.close()


@pytest.fixture
def harness(endpoint: str) -> Iterator[Callable[..., Harness]]:
    """Factory: `harness(endpoint=..., **env)` builds a container against a server."""
    made: list[Harness] = []

    def build(url: str | None = None, **env: str) -> Harness:
        settings = make_settings(AWS_ENDPOINT_URL_DYNAMODB=url or endpoint, **env)
        made.append(Harness(settings))
        return made[-1]

    yield build
    for item in made:
        item.close()
