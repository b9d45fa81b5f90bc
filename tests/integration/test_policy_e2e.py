"""Conditions and grants end to end: the example mapping through the moto server over HTTP.

Each sample event (`events/policy-*.json`) runs through a simulated container reading the seeded
profiles, and the tokens Cognito would issue are checked; a denial carries the fixed message and
its log line names the grant by position, never a value.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.errors import DENIED_NO_PROFILE
from tests.conftest import EVENTS, load_event
from tests.integration.conftest import Harness
from tools.fault_proxy import FaultProxy, http_response
from tools.token_preview import preview_tokens

pytestmark = pytest.mark.integration

EXAMPLE = str(EVENTS / "policy.example.toml")


@pytest.fixture
def policy(harness: Callable[..., Harness]) -> Harness:
    return harness(CLAIMS_CONFIG=EXAMPLE)


def _tokens(container: Harness, event: dict[str, Any]) -> dict[str, Any]:
    call = container.call(event)
    assert call.denied is None, call.log
    assert call.response is not None
    assert call.log["outcome"] == "claims_added"
    return preview_tokens(event, call.response["response"])


def _scopes(tokens: dict[str, Any]) -> set[str]:
    return set(tokens["access_token"]["scope"].split())


def test_policy_hosted_auth_gets_the_interactive_claims(policy: Harness) -> None:
    tokens = _tokens(policy, load_event("policy-hosted-auth.json"))
    id_token, access = tokens["id_token"], tokens["access_token"]
    assert id_token["interactive_login"] is True  # HostedAuth, not only Authentication
    assert "support_pin" not in id_token  # not the support console
    assert id_token["cognito:groups"] == ["readers", "editors", "reviewers", "publishers"]
    assert _scopes(tokens) == {"openid", "email", "orders/read", "beta/api"}
    assert access["seat_tier"] == "team"
    assert "role" not in access


def test_policy_refresh_drops_internal_api_for_non_staff(policy: Harness) -> None:
    tokens = _tokens(policy, load_event("policy-refresh.json"))
    assert "interactive_login" not in tokens["id_token"]
    assert "internal/api" not in _scopes(tokens)


def test_policy_support_console_sees_the_pin_and_loses_admin(policy: Harness) -> None:
    tokens = _tokens(policy, load_event("policy-support-console.json"))
    id_token, access = tokens["id_token"], tokens["access_token"]
    assert id_token["support_pin"] == "1177"
    assert id_token["cognito:groups"] == ["staff"]
    assert "orders/write" not in _scopes(tokens)  # suppression wins over grants[1]'s addition
    # grants[1] read the groups before grants[5] removed `admins`: its claim still applies.
    assert access["role"] == "admin"


def test_policy_admin_writes_orders_and_keeps_internal_api(policy: Harness) -> None:
    tokens = _tokens(policy, load_event("policy-admin.json"))
    assert _scopes(tokens) >= {"orders/write", "internal/api"}
    assert tokens["access_token"]["role"] == "admin"
    assert "support_pin" not in tokens["id_token"]


def test_policy_suspended_user_is_denied_without_a_reason(policy: Harness) -> None:
    event = load_event("policy-suspended.json")
    call = policy.call(event)
    assert call.response is None
    assert call.denied == DENIED_NO_PROFILE
    assert call.log["outcome"] == "denied"
    assert call.log["reason"] == "grant_denied"
    assert call.log["denied_by"] == "user.grants[0]"
    line = json.dumps(call.log)
    for secret in ("suspended", "status", event["userName"]):
        assert secret not in line


def test_policy_tenant_switch_only_to_a_tenant_the_item_lists(policy: Harness) -> None:
    event = load_event("policy-tenant-switch.json")
    tokens = _tokens(policy, event)
    assert tokens["id_token"]["tenant"] == "globex"
    assert tokens["access_token"]["tenant"] == "globex"
    assert "tenant-globex" in tokens["id_token"]["cognito:groups"]
    # A tenant the item does not list: nothing is taken from the request.
    event["request"]["clientMetadata"] = {"tenant": "initech"}
    tokens = _tokens(policy, event)
    assert "tenant" not in tokens["id_token"]
    assert "tenant-globex" not in tokens["id_token"]["cognito:groups"]
    # A value of another type is ignored and counted, never an error.
    event["request"]["clientMetadata"] = {"tenant": ["globex"]}
    call = policy.call(event)
    assert call.log["outcome"] == "claims_added"
    assert call.log["metadata_ignored"] == 1
    assert call.response is not None
    assert "tenant" not in preview_tokens(event, call.response["response"])["id_token"]


def test_policy_tenant_switch_to_a_tenant_left_is_denied(
    harness: Callable[..., Harness], tmp_path: Path
) -> None:
    mapping = tmp_path / "left.toml"
    mapping.write_text(
        '[request]\nclient_metadata = ["tenant"]\n[[user.grants]]\n'
        'when = { metadata_equals = { tenant = "globex" }, attribute_equals = { beta = true } }\n'
        "deny = true\n"
    )
    container = harness(CLAIMS_CONFIG=str(mapping))
    call = container.call(load_event("policy-tenant-switch.json"))
    assert call.denied == DENIED_NO_PROFILE
    assert call.log["denied_by"] == "user.grants[0]"
    assert "globex" not in json.dumps(call.log)


def test_policy_machine_client_grants(policy: Harness) -> None:
    tokens = _tokens(policy, load_event("policy-client-credentials.json"))
    access = tokens["access_token"]
    assert tokens["id_token"] is None
    assert access["tenant_verified"] is True
    assert access["tenant"] == "acme"
    assert _scopes(tokens) == {"orders/read", "orders/write"}  # admin/all suppressed


def test_policy_v1_event_gets_string_claims_and_group_edits(policy: Harness) -> None:
    event = load_event("policy-hosted-auth.json")
    event["version"] = "1"
    del event["request"]["scopes"]
    call = policy.call(event)
    assert call.response is not None
    details = call.response["response"]["claimsOverrideDetails"]
    assert details["claimsToAddOrOverride"]["interactive_login"] == "true"
    assert "seat_tier" not in details["claimsToAddOrOverride"]  # access token: not in V1
    assert details["groupOverrideDetails"]["groupsToOverride"][-1] == "publishers"


def test_policy_item_free_deny_holds_without_a_profile(
    harness: Callable[..., Harness], proxy: FaultProxy, tmp_path: Path
) -> None:
    mapping = tmp_path / "legacy.toml"
    mapping.write_text(
        '[[user.grants]]\nwhen = { clients = ["legacy-app"] }\ndeny = true\n'
        '[[user.grants]]\nwhen = { attribute_equals = { status = "suspended" } }\ndeny = true\n'
    )
    event = load_event("v2-missing-user.json")
    event["callerContext"]["clientId"] = "legacy-app"
    # GIVEN no profile and ON_MISSING=allow: the client rule still denies
    missing = harness(CLAIMS_CONFIG=str(mapping), ON_MISSING="allow")
    call = missing.call(event)
    assert call.denied == DENIED_NO_PROFILE
    assert call.log["denied_by"] == "user.grants[0]"
    # GIVEN a failing store and ON_ERROR=allow: the client rule still denies
    failing = harness(
        proxy.endpoint, CLAIMS_CONFIG=str(mapping), ON_ERROR="allow", STORE_MAX_ATTEMPTS="1"
    )
    proxy.set_mode("respond", http_response(500, b'{"__type":"InternalServerError"}'))
    call = failing.call(event)
    assert call.denied == DENIED_NO_PROFILE
    assert call.log["reason"] == "grant_denied"
    assert call.log["error_kind"] == "unavailable"
    # Another client: tokens without store claims, as ON_ERROR=allow promises
    event["callerContext"]["clientId"] = "1example23456789"
    assert failing.call(event).log["outcome"] == "allowed_without_claims"
