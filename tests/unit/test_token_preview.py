"""`make invoke`'s token preview: group claims land in the tokens Cognito puts them in."""

from typing import Any

import pytest

from tools.token_preview import preview_tokens

_EVENT: dict[str, Any] = {
    "version": "2",
    "triggerSource": "TokenGeneration_Authentication",
    "region": "us-east-1",
    "userPoolId": "us-east-1_pool",
    "userName": "jane",
    "callerContext": {"clientId": "client-1"},
    "request": {
        "userAttributes": {"sub": "s-1", "email": "j@example.com"},
        "groupConfiguration": {
            "groupsToOverride": ["admins"],
            "iamRolesToOverride": ["arn:aws:iam::1:role/a"],
            "preferredRole": "arn:aws:iam::1:role/a",
        },
        "scopes": ["openid"],
    },
}
_ROLES = {
    "cognito:roles": ["arn:aws:iam::1:role/a"],
    "cognito:preferred_role": "arn:aws:iam::1:role/a",
}


_GROUPS = _EVENT["request"]["groupConfiguration"]


@pytest.mark.parametrize(
    "response",
    [
        {},
        {"claimsOverrideDetails": {"groupOverrideDetails": _GROUPS}},
        {"claimsAndScopeOverrideDetails": {"groupOverrideDetails": _GROUPS}},
    ],
    ids=["no-answer", "v1", "v2"],
)
def test_preview_roles_go_to_the_id_token_only(response: dict[str, Any]) -> None:
    tokens = preview_tokens(_EVENT, response)
    id_token, access = tokens["id_token"], tokens["access_token"]
    assert id_token["cognito:groups"] == ["admins"]
    assert {k: id_token[k] for k in _ROLES} == _ROLES
    assert access["cognito:groups"] == ["admins"]
    assert not set(_ROLES) & set(access)


def test_preview_group_override_changes_both_tokens_roles_only_in_the_id_token() -> None:
    override = {
        "groupsToOverride": ["ops"],
        "iamRolesToOverride": ["arn:aws:iam::1:role/o"],
        "preferredRole": "arn:aws:iam::1:role/o",
    }
    response = {"claimsAndScopeOverrideDetails": {"groupOverrideDetails": override}}
    tokens = preview_tokens(_EVENT, response)
    assert tokens["id_token"]["cognito:groups"] == ["ops"]
    assert tokens["id_token"]["cognito:roles"] == ["arn:aws:iam::1:role/o"]
    assert tokens["access_token"]["cognito:groups"] == ["ops"]
    assert "cognito:roles" not in tokens["access_token"]
    assert "cognito:preferred_role" not in tokens["access_token"]


def test_preview_machine_client_has_no_groups_and_no_id_token() -> None:
    event = {**_EVENT, "triggerSource": "TokenGeneration_ClientCredentials"}
    tokens = preview_tokens(event, {})
    assert tokens["id_token"] is None
    assert not any(k.startswith("cognito:") for k in tokens["access_token"])
