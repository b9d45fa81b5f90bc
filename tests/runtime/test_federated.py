"""The federated sample event end to end: `awslambdaric` in its own process, moto behind a proxy.

The event-only example mapping (`events/federated.toml`) runs with no `TABLE_NAME` while the
DynamoDB endpoint points at a counting proxy in front of a moto server: the tokens come from the
event and the proxy never sees a connection. The same mapping plus one item rule reads the
seeded profile through the proxy, and gets both kinds of claims.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT, load_event
from tests.support.runtime_api import LambdaContainer, RuntimeAPI
from tools.fault_proxy import FaultProxy
from tools.local_dynamodb import create_table, moto_server, put_items

pytestmark = pytest.mark.runtime

TABLE = f"profiles-federated-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def proxy() -> Iterator[FaultProxy]:
    with moto_server() as endpoint:
        create_table(endpoint, TABLE)
        put_items(endpoint, TABLE, [{"id": {"S": "USER#Okta_abc123"}, "plan": {"S": "enterprise"}}])
        host, port = endpoint.removeprefix("http://").split(":")
        counting = FaultProxy(host, int(port))
        yield counting
        counting.close()


@pytest.fixture
def runtime() -> Iterator[RuntimeAPI]:
    api = RuntimeAPI()
    yield api
    api.close()


def _environment(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "LOOKUP_TIMEOUT_MS": "1000",
        **extra,
    }


def _generation(result: Any, token: str) -> Any:
    return result.body["response"]["claimsAndScopeOverrideDetails"][f"{token}TokenGeneration"]


def _ok(runtime: RuntimeAPI, event: dict[str, Any]) -> Any:
    result = runtime.invoke(event)
    assert result.kind == "response", result.body
    return result


def test_federated_event_only_mapping_opens_no_connection(
    proxy: FaultProxy, runtime: RuntimeAPI, tmp_path: Path
) -> None:
    before = proxy.connections
    env = _environment(proxy.endpoint, CLAIMS_CONFIG="events/federated.toml")
    assert "TABLE_NAME" not in env
    container = LambdaContainer(runtime, env, tmp_path / "c.log", cwd=ROOT)
    try:
        event = load_event("v2-federated.json")
        for _ in range(3):
            result = _ok(runtime, event)
            details = result.body["response"]["claimsAndScopeOverrideDetails"]
            assert _generation(result, "id")["claimsToAddOrOverride"] == {
                "department": "Engineering",
                "contractor": False,
                "idp": "Okta",
            }
            access = _generation(result, "access")
            assert access["claimsToAddOrOverride"]["cost_center"] == 4711
            assert access["claimsToAddOrOverride"]["idp_groups"] == [
                "Domain Admins",
                "Developers",
                "Everyone",
            ]
            assert access["scopesToAdd"] == ["reports/read"]
            assert details["groupOverrideDetails"]["groupsToOverride"] == [
                "us-east-1_EXAMPLE_Okta",
                "admins",
                "developers",
            ]
        # A pool user (no identities) gets no grant, and loses `admins`.
        local = load_event("v2-federated.json")
        attributes = local["request"]["userAttributes"]
        del attributes["identities"]
        local["request"]["groupConfiguration"]["groupsToOverride"] = ["admins", "readers"]
        result = _ok(runtime, local)
        assert "scopesToAdd" not in _generation(result, "access")
        groups = result.body["response"]["claimsAndScopeOverrideDetails"]["groupOverrideDetails"]
        assert groups["groupsToOverride"] == ["readers", "developers"]
        lines = [line for line in container.log_lines() if line.get("message") == "pretoken"]
        assert [line["cache"] for line in lines] == ["none"] * 4
        assert proxy.connections == before  # not one connection to DynamoDB
    finally:
        container.stop()


def test_federated_mixed_mapping_reads_the_profile(
    proxy: FaultProxy, runtime: RuntimeAPI, tmp_path: Path
) -> None:
    mapping = tmp_path / "mixed.toml"
    mapping.write_text(
        (EVENTS / "federated.toml").read_text()
        + '\n[[user.claims]]\nattribute = "plan"\ntokens = ["access"]\n'
    )
    before = proxy.connections
    env = _environment(proxy.endpoint, CLAIMS_CONFIG=str(mapping), TABLE_NAME=TABLE)
    container = LambdaContainer(runtime, env, tmp_path / "c.log", cwd=ROOT)
    try:
        result = _ok(runtime, load_event("v2-federated.json"))
        claims = _generation(result, "access")["claimsToAddOrOverride"]
        assert claims["plan"] == "enterprise"  # from the item
        assert claims["idp"] == "Okta"  # from the event
        assert proxy.connections > before
    finally:
        container.stop()
