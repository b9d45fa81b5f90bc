"""The mapping as data: the reference mapping, the reserved-claim guard, applying rules."""

import pytest

from shared.claims import (
    DEFAULT_MAPPING,
    RESERVED_CLAIMS,
    ClaimRule,
    Mapping,
    apply_mapping,
    reserved_reason,
)
from shared.errors import ConfigError


def test_default_mapping_is_the_reference_one() -> None:
    item = {
        "id": "USER#jane",
        "first_name": "Jane",
        "last_name": "Doe",
        "interesting_value": 7,
        "notes": "private",
        "sub": "forged-sub",
        "cognito:groups": ["admin"],
    }
    claims = apply_mapping(DEFAULT_MAPPING.user_rules, item)
    assert claims.id_claims == {"first_name": "Jane", "last_name": "Doe"}
    assert claims.access_claims == {"interesting_value": 7}


def test_apply_mapping_absent_attribute_emits_nothing() -> None:
    claims = apply_mapping(DEFAULT_MAPPING.user_rules, {"first_name": "Jane"})
    assert claims.id_claims == {"first_name": "Jane"}
    assert claims.access_claims == {}
    assert claims.dropped == 0


def test_apply_mapping_null_is_dropped_and_counted() -> None:
    claims = apply_mapping(DEFAULT_MAPPING.user_rules, {"first_name": None, "last_name": "Doe"})
    assert "first_name" not in claims.id_claims
    assert claims.dropped == 1


def test_apply_mapping_both_tokens_and_renames() -> None:
    rules = (ClaimRule("plan", "custom:plan", ("id", "access")),)
    claims = apply_mapping(rules, {"plan": {"tier": "gold"}})
    assert claims.id_claims == {"custom:plan": {"tier": "gold"}}
    assert claims.access_claims == {"custom:plan": {"tier": "gold"}}


def test_mapping_projection_is_every_attribute_read_once() -> None:
    mapping = Mapping(
        user_rules=(
            ClaimRule("a", "x", ("id",)),
            ClaimRule("b", "y", ("access",)),
            ClaimRule("a", "z", ("access",)),
        ),
        client_rules=(ClaimRule("c", "c", ("access",)),),
    )
    assert mapping.user_attributes == ("a", "b")
    assert mapping.client_attributes == ("c",)
    assert DEFAULT_MAPPING.user_attributes == ("first_name", "last_name", "interesting_value")


@pytest.mark.parametrize(
    "claim",
    [*sorted(RESERVED_CLAIMS), "cognito:groups", "cognito:anything", "dev:flag", "", " x"],
)
def test_mapping_rejects_reserved_claims(claim: str) -> None:
    assert reserved_reason(claim) is not None
    with pytest.raises(ConfigError, match="invalid claim mapping"):
        Mapping(user_rules=(ClaimRule("attr", claim, ("id",)),))


@pytest.mark.parametrize(
    "name",
    [
        "sub", "username", "cognito:username", "identities", "aud", "client_id", "event_id",
        "version", "device_key", "acr", "amr", "at_hash", "auth_time", "azp", "exp", "iat",
        "iss", "jti", "nbf", "nonce", "origin_jti", "token_use",
    ],
)  # fmt: skip
def test_reserved_list_covers_developers_guide(name: str) -> None:
    assert reserved_reason(name) is not None


def test_reserved_reason_allows_ordinary_claims() -> None:
    for claim in ("first_name", "custom:tenant", "email", "tenant_id"):
        assert reserved_reason(claim) is None


def test_mapping_rejects_id_token_rules_for_machine_clients() -> None:
    with pytest.raises(ConfigError, match="machine clients get no ID token"):
        Mapping(user_rules=(), client_rules=(ClaimRule("a", "a", ("id",)),))


def test_mapping_rejects_rule_without_token() -> None:
    with pytest.raises(ConfigError, match="no target token"):
        Mapping(user_rules=(ClaimRule("a", "a", ()),))
