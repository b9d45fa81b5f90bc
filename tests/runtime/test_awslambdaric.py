"""The handler driven by the real Lambda runtime client, `awslambdaric`, in its own process.

One process serves every invocation, as a warm Lambda container does: V1, V2 and V3 events, a
missing user, the store going down and coming back. This proves the module-level loop and client
survive across invocations and that every response marshals with the runtime's own encoder.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.errors import DENIED_UNAVAILABLE
from tests.conftest import ROOT, load_event
from tests.support.runtime_api import LambdaContainer, RuntimeAPI
from tools.fault_proxy import FaultProxy
from tools.local_dynamodb import create_table, load_items, moto_server, put_items

pytestmark = pytest.mark.runtime


# moto keeps one backend per process, shared by every server it starts: each test gets a table.
TABLE = f"profiles-runtime-{uuid.uuid4().hex[:8]}"


def _environment(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": TABLE,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "LOOKUP_TIMEOUT_MS": "500",
        "STORE_MAX_ATTEMPTS": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def store() -> Iterator[FaultProxy]:
    with moto_server() as endpoint:
        create_table(endpoint, TABLE)
        put_items(endpoint, TABLE, load_items(ROOT / "events" / "profiles.json"))
        host, port = endpoint.removeprefix("http://").split(":")
        proxy = FaultProxy(host, int(port))
        yield proxy
        proxy.close()


@pytest.fixture
def runtime() -> Iterator[RuntimeAPI]:
    api = RuntimeAPI()
    yield api
    api.close()


def _claims(result: Any, token: str) -> Any:
    details = result.body["response"]["claimsAndScopeOverrideDetails"]
    return details[f"{token}TokenGeneration"]["claimsToAddOrOverride"]


def test_runtime_serves_many_invocations_in_one_process(
    store: FaultProxy, runtime: RuntimeAPI, tmp_path: Path
) -> None:
    store.set_mode("pass")
    container = LambdaContainer(runtime, _environment(store.endpoint), tmp_path / "c.log", cwd=ROOT)
    try:
        v1, v2 = load_event("v1-authentication.json"), load_event("v2-authentication.json")
        v3, missing = load_event("v3-client-credentials.json"), load_event("v2-missing-user.json")
        docs = load_event("aws-docs-v2-test-event.json")
        count = 0

        def ok(event: dict[str, Any]) -> Any:
            nonlocal count
            count += 1
            result = runtime.invoke(event)
            assert result.kind == "response", result.body
            # The whole event comes back with only `response` replaced.
            assert {k: v for k, v in result.body.items() if k != "response"} == {
                k: v for k, v in event.items() if k != "response"
            }
            return result

        def denied(event: dict[str, Any]) -> Any:
            nonlocal count
            count += 1
            result = runtime.invoke(event)
            assert result.kind == "error"
            assert result.body["errorType"] == "SignInDenied"
            assert result.body["errorMessage"] == DENIED_UNAVAILABLE
            return result

        for _ in range(4):
            result = ok(v2)
            assert _claims(result, "id") == {"first_name": "Jane", "last_name": "Doe"}
            assert _claims(result, "access") == {"interesting_value": "tier-gold"}
            groups = result.body["response"]["claimsAndScopeOverrideDetails"][
                "groupOverrideDetails"
            ]
            assert groups["groupsToOverride"] == ["readers", "editors"]
        for _ in range(3):
            result = ok(v1)
            details = result.body["response"]["claimsOverrideDetails"]
            assert details["claimsToAddOrOverride"] == {"first_name": "Jane", "last_name": "Doe"}
            assert details["groupOverrideDetails"]["groupsToOverride"] == ["readers", "editors"]
        for _ in range(3):
            result = ok(v3)
            assert _claims(result, "access") == {
                "interesting_value": {"tenant": "acme", "quota": 1000}
            }
            assert (
                "groupOverrideDetails"
                not in result.body["response"]["claimsAndScopeOverrideDetails"]
            )
        for _ in range(2):
            result = ok(missing)
            details = result.body["response"]["claimsAndScopeOverrideDetails"]
            assert set(details) == {"groupOverrideDetails"}
        assert _claims(ok(docs), "access") == {"interesting_value": 42}

        store.set_mode("refuse")
        for event in (v2, v1, v3):
            denied(event)
        store.set_mode("stall")
        denied(v2)
        store.set_mode("pass")
        for _ in range(4):
            assert _claims(ok(v2), "id") == {"first_name": "Jane", "last_name": "Doe"}

        assert count >= 20
        assert container.process.poll() is None  # still the same warm container
        lines = [line for line in container.log_lines() if line.get("message") == "pretoken"]
        assert len(lines) == count
        assert [line["cold_start"] for line in lines].count(True) == 1
        assert {line["outcome"] for line in lines} == {
            "claims_added",
            "allowed_without_claims",
            "denied",
        }
    finally:
        container.stop()


def test_runtime_bad_setting_fails_init_naming_the_variable(
    store: FaultProxy, runtime: RuntimeAPI, tmp_path: Path
) -> None:
    env = _environment(store.endpoint, LOOKUP_TIMEOUT_MS="2s")
    container = LambdaContainer(runtime, env, tmp_path / "c.log", cwd=ROOT)
    try:
        error = runtime.init_errors.get(timeout=30)
        assert error["errorType"] == "ConfigError"
        assert "`LOOKUP_TIMEOUT_MS`" in error["errorMessage"]
        assert container.process.wait(timeout=30) != 0
    finally:
        container.stop()
