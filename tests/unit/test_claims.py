"""Applying a compiled mapping: every rule kind, and the run-time guard on what data brings in."""

from typing import Any

import pytest

from shared.claims import (
    DEFAULT_MAPPING,
    RESERVED_CLAIMS,
    ClaimRule,
    GroupOverride,
    Section,
    apply_mapping,
    fits_type,
    reserved_reason,
    scope_reason,
    suppress_reason,
)


def _rule(attribute: str, claim: str | None = None, *tokens: Any, **options: Any) -> ClaimRule:
    return ClaimRule(tuple(attribute.split(".")), claim or attribute, tokens or ("id",), **options)


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
    claims = apply_mapping(DEFAULT_MAPPING.user, item)
    assert claims.id_claims == {"first_name": "Jane", "last_name": "Doe"}
    assert claims.access_claims == {"interesting_value": 7}
    assert claims.groups is None
    assert DEFAULT_MAPPING.user.attributes == ("first_name", "last_name", "interesting_value")
    assert DEFAULT_MAPPING.client.attributes == ("interesting_value",)


def test_apply_absent_attribute_emits_nothing() -> None:
    claims = apply_mapping(DEFAULT_MAPPING.user, {"first_name": "Jane"})
    assert claims.id_claims == {"first_name": "Jane"}
    assert claims.access_claims == {}
    assert claims.dropped == ()


def test_apply_null_is_dropped_and_named() -> None:
    claims = apply_mapping(DEFAULT_MAPPING.user, {"first_name": None, "last_name": "Doe"})
    assert "first_name" not in claims.id_claims
    assert claims.dropped == (("first_name", "null"),)


def test_apply_dotted_path_both_tokens_rename() -> None:
    section = Section(rules=(_rule("profile.plan.tier", "tier", "id", "access"),))
    claims = apply_mapping(section, {"profile": {"plan": {"tier": "gold"}}})
    assert claims.id_claims == {"tier": "gold"}
    assert claims.access_claims == {"tier": "gold"}
    assert apply_mapping(section, {"profile": "not a map"}).id_claims == {}
    assert Section(rules=(_rule("profile.plan.tier"),)).attributes == ("profile",)


@pytest.mark.parametrize(
    ("claim_type", "good", "bad"),
    [
        ("string", "x", 1),
        ("number", 1.5, "1.5"),
        ("number", 3, True),
        ("integer", 3, 3.5),
        ("integer", 4, False),
        ("boolean", True, "true"),
        ("string_list", ["a", "b"], ["a", 1]),
        ("json", {"k": [1]}, "text"),
        ("json", [1, 2], 3),
        ("any", 0, None),
    ],
)
def test_apply_types_keep_good_values_and_drop_others(claim_type: Any, good: Any, bad: Any) -> None:
    assert fits_type(good, claim_type)
    assert not fits_type(bad, claim_type)
    section = Section(rules=(_rule("v", "c", "access", type=claim_type),))
    assert apply_mapping(section, {"v": good}).access_claims == {"c": good}
    wrong = apply_mapping(section, {"v": bad})
    assert wrong.access_claims == {}
    assert wrong.dropped == (("c", "null" if bad is None else "wrong_type"),)


def test_apply_default_when_absent_or_null() -> None:
    section = Section(rules=(_rule("plan", "plan", "id", type="string", default="free"),))
    assert apply_mapping(section, {}).id_claims == {"plan": "free"}
    assert apply_mapping(section, {"plan": None}).id_claims == {"plan": "free"}
    assert apply_mapping(section, {"plan": "gold"}).id_claims == {"plan": "gold"}


def test_apply_required_missing_is_reported() -> None:
    section = Section(
        rules=(_rule("tenant", "tenant", "access", required=True), _rule("first_name"))
    )
    missing = apply_mapping(section, {"first_name": "Jane"})
    assert missing.missing_required == "tenant"
    assert apply_mapping(section, {"tenant": "t1"}).missing_required is None


def test_apply_static_claims_per_token() -> None:
    section = Section(static_id=(("app", "portal"),), static_access=(("api", 2), ("f", [1])))
    claims = apply_mapping(section, {})
    assert claims.id_claims == {"app": "portal"}
    assert claims.access_claims == {"api": 2, "f": [1]}


def test_apply_suppression_static_and_from_list_attribute() -> None:
    section = Section(
        suppress_id=("email",),
        suppress_access_from="hide",
        suppress_id_from="hide_id",
    )
    item: dict[str, Any] = {
        "hide": ["phone_number", "dev:debug", "sub", "cognito:groups"],
        "hide_id": "x",
    }
    claims = apply_mapping(section, item)
    assert claims.id_suppress == ("email",)
    # dev: claims may be suppressed; reserved ones the data names are dropped, never sent.
    assert claims.access_suppress == ("phone_number", "dev:debug")
    assert set(claims.dropped) == {
        ("sub", "reserved"),
        ("cognito:groups", "reserved"),
        ("hide_id", "not_a_list"),
    }


def test_apply_scopes_static_and_from_attributes_reject_whitespace() -> None:
    section = Section(
        scopes_add=("api/read",),
        scopes_add_from="extra",
        scopes_suppress=("aws.cognito.signin.user.admin",),
        scopes_suppress_from="revoked",
    )
    claims = apply_mapping(section, {"extra": ["api/write", "bad scope", ""], "revoked": ["email"]})
    assert claims.scopes_add == ("api/read", "api/write")
    assert claims.scopes_suppress == ("aws.cognito.signin.user.admin", "email")
    assert claims.dropped == (("extra", "invalid_scope"), ("extra", "invalid_scope"))


def test_apply_groups_override_only_what_the_item_holds() -> None:
    section = Section(groups_from="groups", iam_roles_from="roles", preferred_role_from="role")
    assert apply_mapping(section, {}).groups is None
    assert apply_mapping(section, {"groups": ["admins"]}).groups == GroupOverride(
        ["admins"], None, None
    )
    full = apply_mapping(section, {"groups": [], "roles": ["arn:r"], "role": "arn:r"})
    assert full.groups == GroupOverride([], ["arn:r"], "arn:r")
    bad = apply_mapping(section, {"groups": "admins", "role": 5})
    assert bad.groups == GroupOverride([], None, None)
    assert set(bad.dropped) == {("groups", "not_a_list"), ("role", "wrong_type")}


def test_apply_aud_in_access_token_only_when_it_is_the_client_id() -> None:
    section = Section(rules=(_rule("audience", "aud", "access"),))
    assert apply_mapping(section, {"audience": "client-1"}, "client-1").access_claims == {
        "aud": "client-1"
    }
    forged = apply_mapping(section, {"audience": "other-api"}, "client-1")
    assert forged.access_claims == {}
    assert forged.dropped == (("aud", "reserved"),)


@pytest.mark.parametrize(
    "claim", ["email_verified", "phone_number_verified", "updated_at", "address"]
)
def test_apply_no_objects_in_four_id_token_claims(claim: str) -> None:
    section = Section(rules=(_rule("v", claim, "id", "access"),))
    claims = apply_mapping(section, {"v": {"street": "x"}})
    assert claims.id_claims == {}
    assert claims.access_claims == {claim: {"street": "x"}}
    assert claims.dropped == ((claim, "object_not_allowed"),)
    assert apply_mapping(section, {"v": "true"}).id_claims == {claim: "true"}


@pytest.mark.parametrize(
    "claim", [*sorted(RESERVED_CLAIMS), "cognito:groups", "cognito:x", "dev:flag", "", " x"]
)
def test_reserved_reason_refuses_reserved_claims_in_the_id_token(claim: str) -> None:
    assert reserved_reason(claim, "id") is not None


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


def test_reserved_reason_allows_ordinary_claims_and_access_aud() -> None:
    for claim in ("first_name", "custom:tenant", "email", "tenant_id"):
        assert reserved_reason(claim) is None
    assert reserved_reason("aud", "access") is None
    assert reserved_reason("aud", "id") is not None


def test_suppress_and_scope_reasons() -> None:
    assert suppress_reason("dev:debug") is None
    assert suppress_reason("email") is None
    for claim in ("sub", "aud", "cognito:groups", "exp"):
        assert suppress_reason(claim) is not None
    assert scope_reason("api/read") is None
    for scope in ("", "a b", "a\tb", " a"):
        assert scope_reason(scope) is not None
