"""The mapping file: decoding, every guard at load time, messages naming file, rule and problem."""

import json
from pathlib import Path
from typing import Any

import pytest

from shared.claims import ClaimRule, apply_mapping
from shared.errors import ConfigError
from shared.mapping import load_mapping, parse_mapping
from tests.conftest import EVENTS

EXAMPLE = EVENTS / "claims.example.toml"


def _parse(document: dict[str, Any]) -> Any:
    return parse_mapping(json.dumps(document).encode(), source="test.json", toml=False)


def _problem(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(document)
    message = str(caught.value)
    assert message.startswith("claim mapping `test.json`: ")
    return message


def test_example_file_loads_and_uses_every_feature() -> None:
    mapping = load_mapping(str(EXAMPLE))
    user, client = mapping.user, mapping.client
    assert {rule.type for rule in user.rules} == {
        "string",
        "integer",
        "boolean",
        "string_list",
        "json",
    }
    assert any(len(rule.path) > 1 for rule in user.rules)
    assert any(rule.required for rule in user.rules)
    assert any(rule.default is not None for rule in user.rules)
    assert user.static_id
    assert user.static_access
    assert user.suppress_id
    assert user.suppress_id_from
    assert user.suppress_access_from
    assert user.scopes_add
    assert user.scopes_add_from
    assert user.scopes_suppress
    assert user.scopes_suppress_from
    assert user.groups_from
    assert user.iam_roles_from
    assert user.preferred_role_from
    assert client.rules
    assert client.static_access
    assert client.scopes_suppress
    # GetItem projects exactly the top-level attributes the mapping reads.
    assert set(user.attributes) == {
        "first_name", "last_name", "profile", "tenant_id", "beta", "roles", "limits",
        "hide_from_id", "hide_from_access", "extra_scopes", "revoked_scopes", "groups",
        "iam_roles", "preferred_role",
    }  # fmt: skip
    assert client.attributes == ("interesting_value",)


def test_json_mapping_equals_toml_mapping(tmp_path: Path) -> None:
    document = {"user": {"claims": [{"attribute": "a.b", "claim": "c", "tokens": ["access"]}]}}
    toml = tmp_path / "m.toml"
    toml.write_text('[[user.claims]]\nattribute = "a.b"\nclaim = "c"\ntokens = ["access"]\n')
    js = tmp_path / "m.json"
    js.write_text(json.dumps(document))
    assert load_mapping(str(toml)) == load_mapping(str(js))
    assert load_mapping(str(toml)).user.rules == (ClaimRule(("a", "b"), "c", ("access",)),)


def test_claim_defaults_to_the_attribute() -> None:
    mapping = _parse({"user": {"claims": [{"attribute": "tier", "tokens": ["id"]}]}})
    assert mapping.user.rules[0].claim == "tier"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"users": {}}, "unknown field `users`"),
        ({"user": {"claims": [{"attribute": "a", "tokens": ["id"], "typ": "string"}]}}, "`typ`"),
        (
            {"user": {"claims": [{"attribute": "a", "tokens": ["both"]}]}},
            "$.user.claims[0].tokens[0]",
        ),
        (
            {"user": {"claims": [{"attribute": "a", "tokens": ["id"], "type": "text"}]}},
            "$.user.claims[0].type",
        ),
        ({"user": {"claims": [{"tokens": ["id"]}]}}, "missing required field `attribute`"),
    ],
)
def test_decoding_errors_carry_the_path(document: dict[str, Any], expected: str) -> None:
    assert expected in _problem(document)


def _rule(**fields: Any) -> dict[str, Any]:
    return {"user": {"claims": [{"attribute": "a", "tokens": ["id"], **fields}]}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _rule(claim="sub"),
            "user.claims[0] (`a`): claim `sub` in the id token: `sub` is reserved",
        ),
        (_rule(claim="cognito:groups"), "`cognito:` claims change only through the group override"),
        (_rule(claim="dev:flag"), "`dev:` claims may only be suppressed"),
        (_rule(claim="aud"), "`aud` is reserved"),
        (_rule(claim="scope", tokens=["access"]), "`scope` is reserved"),
        (_rule(claim="email_verified", type="json"), "may not hold an object or array"),
        (_rule(claim="address", type="string_list"), "may not hold an object or array"),
        (_rule(tokens=[]), "`tokens` must name"),
        (_rule(attribute="a..b"), "dotted path of names"),
        (_rule(type="integer", default="ten"), "`default` is not of type `integer`"),
        (_rule(default="x", required=True), "`required` and `default` contradict"),
        ({"user": {"static": {"id": {"iss": "me"}}}}, "user.static.id: claim `iss`"),
        ({"user": {"static": {"id": {"email_verified": {"x": 1}}}}}, "may not hold an object"),
        ({"user": {"suppress": {"access": ["sub"]}}}, "user.suppress.access: `sub`"),
        ({"user": {"suppress": {"id": ["cognito:groups"]}}}, "user.suppress.id: `cognito:groups`"),
        ({"user": {"scopes": {"add": ["api read"]}}}, "user.scopes.add: `'api read'`"),
        ({"user": {"scopes": {"suppress": [""]}}}, "user.scopes.suppress"),
        (
            {"client": {"claims": [{"attribute": "a", "tokens": ["id"]}]}},
            "machine clients get no ID token",
        ),
        ({"client": {"static": {"id": {"x": 1}}}}, "machine clients get no ID token"),
        ({"client": {"groups": {"groups_from": "g"}}}, "machine clients have no groups"),
        ({"user": {"groups": {"groups_from": " "}}}, "user.groups.groups_from: attribute names"),
        (
            {
                "user": {
                    "static": {"id": {"a": 1}},
                    "claims": [{"attribute": "a", "tokens": ["id"]}],
                }
            },
            "claim `a` is also set by user.static.id",
        ),
    ],
)
def test_guards_refuse_at_load_time(document: dict[str, Any], expected: str) -> None:
    assert expected in _problem(document)


def test_aud_is_allowed_in_the_access_token_and_checked_per_event() -> None:
    mapping = _parse({"user": {"static": {"access": {"aud": "client-1"}}}})
    assert apply_mapping(mapping.user, {}, "client-1").access_claims == {"aud": "client-1"}
    assert apply_mapping(mapping.user, {}, "client-2").access_claims == {}


def test_dev_claims_may_be_suppressed() -> None:
    mapping = _parse({"user": {"suppress": {"access": ["dev:trace"]}}})
    assert mapping.user.suppress_access == ("dev:trace",)


def test_every_problem_is_reported_at_once() -> None:
    message = _problem(
        {"user": {"claims": [{"attribute": "a", "claim": "sub", "tokens": ["id"]}],
                  "scopes": {"add": ["x y"]}}}
    )  # fmt: skip
    assert "claim `sub`" in message
    assert "user.scopes.add" in message


def test_toml_dates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[user.static.id]\nsince = 2024-01-01\n")
    with pytest.raises(ConfigError, match="dates and times are not JSON values"):
        load_mapping(str(path))


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read `.*missing\.toml`"):
        load_mapping(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"must name a \.toml or \.json file"):
        load_mapping(str(tmp_path / "m.yaml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[user\n")
    with pytest.raises(ConfigError, match=r"claim mapping `.*broken\.toml`"):
        load_mapping(str(broken))
