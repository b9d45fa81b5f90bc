"""Shared test helpers: a settings factory, a fake monotonic clock, and the sample events.

Also records every mapping document the tests hand the loader (`RECORDED_MAPPINGS`), so
`tests/unit/test_schema.py` can hold the JSON Schema and the loader to agree on every fixture
of the run; its test marked `after_all` runs last.
"""

import importlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from shared.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PUBLISHED = EVENTS / "published"

# botocore signs every request, so it needs credentials even against a local server.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

# `make test` explores the same examples every run, so CI cannot flake on a lucky draw;
# HYPOTHESIS_PROFILE=explore draws fresh ones.
hypothesis_settings.register_profile("default", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

BASE_ENV = {"TABLE_NAME": "profiles", "AWS_REGION": "us-east-1"}


def make_settings(**env: str) -> Settings:
    """Settings from `BASE_ENV` plus the given variables, through the real parser."""
    return load_settings({**BASE_ENV, **env})


def load_event(name: str) -> dict[str, Any]:
    """A sample event from `events/` (or `events/published/`), BOM tolerated."""
    path = EVENTS / name if (EVENTS / name).exists() else PUBLISHED / name
    event = json.loads(path.read_text(encoding="utf-8-sig"))
    assert isinstance(event, dict)
    return event


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


RECORDED_MAPPINGS: dict[tuple[bytes, bool], None] = {}
"""Every mapping document decoded during the run: (bytes, TOML or not), in first-seen order."""
_MAX_RECORDED = 20_000


@pytest.fixture(autouse=True, scope="session")
def _record_mappings() -> Iterator[None]:
    compile_module = importlib.import_module("shared.claims.compile")
    decode = compile_module.decode_file

    def recording(data: bytes, *, source: str, toml: bool) -> Any:
        if len(RECORDED_MAPPINGS) < _MAX_RECORDED:
            RECORDED_MAPPINGS[(bytes(data), toml)] = None
        return decode(data, source=source, toml=toml)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compile_module, "decode_file", recording)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_all` run last (they read what the others recorded)."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    return make_settings
