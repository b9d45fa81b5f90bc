"""Shared test helpers: a settings factory, a fake monotonic clock, and the sample events."""

import json
import os
from collections.abc import Callable
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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    return make_settings
