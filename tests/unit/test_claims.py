"""Applying a compiled mapping: every rule kind, and the run-time guard on what data brings in."""

from decimal import Decimal
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.claims.budget import size_bound
from shared.claims.file import Groups, Scopes, Suppress
from shared.claims.guard import (
    RESERVED_CLAIMS,
    fits_type,
    reserved_reason,
    scope_reason,
    suppress_reason,
)
from shared.claims.model import DEFAULT_RULES, ClaimRule, GroupOverride, Section
from shared.event import Event, decode_event
from shared.response import build_response
from shared.values import encode_json
from tests.unit.claims_helpers import apply_mapping


def _rule(attribute: str, claim: str | None = None, *tokens: Any, **options: Any) -> ClaimRule:
    return ClaimRule(
        path=tuple(attribute.split(".")),
        claim=claim or attribute,
        tokens=tokens or ("id",),
        **options,
    )


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
    claims = apply_mapping(DEFAULT_RULES.user, item)
    assert claims.id_claims == {"first_name": "Jane", "last_name": "Doe"}
    assert claims.access_claims == {"interesting_value": 7}
    assert claims.groups is None
    assert DEFAULT_RULES.user.attributes == ("first_name", "last_name", "interesting_value")
    assert DEFAULT_RULES.client.attributes == ("interesting_value",)


def test_apply_absent_attribute_emits_nothing() -> None:
    claims = apply_mapping(DEFAULT_RULES.user, {"first_name": "Jane"})
    assert claims.id_claims == {"first_name": "Jane"}
    assert claims.access_claims == {}
    assert claims.dropped == ()


def test_apply_null_is_dropped_and_named() -> None:
    claims = apply_mapping(DEFAULT_RULES.user, {"first_name": None, "last_name": "Doe"})
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
    section = Section(suppress=Suppress(id=("email",), access_from="hide", id_from="hide_id"))
    item: dict[str, Any] = {
        "hide": ["phone_number", "dev:debug", "sub", "cognito:groups"],
        "hide_id": "x",
    }
    claims = apply_mapping(section, item)
    assert claims.id_suppress == ("email",)
    # dev: claims may be suppressed; reserved ones the data names are dropped, never sent.
    assert claims.access_suppress == ("phone_number", "dev:debug")
    # Names read from the item are logged by position, never by what they say.
    assert set(claims.dropped) == {
        ("suppress.access_from[2]", "reserved"),
        ("suppress.access_from[3]", "reserved"),
        ("hide_id", "not_a_list"),
    }


def test_apply_scopes_static_and_from_attributes_reject_whitespace() -> None:
    section = Section(
        scopes=Scopes(
            add=("api/read",),
            add_from="extra",
            suppress=("aws.cognito.signin.user.admin",),
            suppress_from="revoked",
        )
    )
    claims = apply_mapping(section, {"extra": ["api/write", "bad scope", ""], "revoked": ["email"]})
    assert claims.scopes_add == ("api/read", "api/write")
    assert claims.scopes_suppress == ("aws.cognito.signin.user.admin", "email")
    assert claims.dropped == (
        ("scopes.add_from[1]", "invalid_scope"),
        ("scopes.add_from[2]", "invalid_scope"),
    )


def test_apply_groups_override_only_what_the_item_holds() -> None:
    section = Section(
        groups=Groups(groups_from="groups", iam_roles_from="roles", preferred_role_from="role")
    )
    assert apply_mapping(section, {}).groups is None
    assert apply_mapping(section, {"groups": ["admins"]}).groups == GroupOverride(
        groups=["admins"], iam_roles=None, preferred_role=None
    )
    full = apply_mapping(section, {"groups": [], "roles": ["arn:r"], "role": "arn:r"})
    assert full.groups == GroupOverride(groups=[], iam_roles=["arn:r"], preferred_role="arn:r")


_GROUP_SETTINGS: Final = (
    ("groups_from", "groups"),
    ("iam_roles_from", "roles"),
    ("preferred_role_from", "role"),
)
_MALFORMED_LISTS: Final = (None, "admins", ["admins", 5], [1], {"a": ["b"]}, 3, True, [None])
_MALFORMED_ROLES: Final = (None, 5, ["arn:r"], {"arn": "r"}, True, 1.5)


def _group_section(fields: dict[str, str]) -> Section:
    return Section(
        groups=Groups(
            groups_from=fields.get("groups_from"),
            iam_roles_from=fields.get("iam_roles_from"),
            preferred_role_from=fields.get("preferred_role_from"),
        )
    )


def _expected_drop(value: object, *, list_setting: bool) -> str:
    if value is None:
        return "null"
    return "not_a_list" if list_setting else "wrong_type"


@pytest.mark.parametrize(
    "group_settings",
    [[s] for s in _GROUP_SETTINGS]
    + [list(_GROUP_SETTINGS), [_GROUP_SETTINGS[0], _GROUP_SETTINGS[2]]],
    ids=lambda s: "+".join(field for field, _ in s),
)
@pytest.mark.parametrize("position", range(len(_MALFORMED_LISTS)))
def test_apply_malformed_group_attribute_never_overrides(
    group_settings: list[tuple[str, str]], position: int
) -> None:
    # GIVEN a section with some group settings, and an item whose every such attribute is
    # malformed (null, a string, a list holding a number, ...)
    section = _group_section(dict(group_settings))
    item: dict[str, Any] = {}
    expected: set[tuple[str, str]] = set()
    for field, attribute in group_settings:
        list_setting = field != "preferred_role_from"
        values = _MALFORMED_LISTS if list_setting else _MALFORMED_ROLES
        value = values[position % len(values)]
        item[attribute] = value
        expected.add((attribute, _expected_drop(value, list_setting=list_setting)))
    # WHEN the mapping is applied
    claims = apply_mapping(section, item)
    # THEN nothing overrides the request's groups, and each drop is named by its attribute
    assert claims.groups is None
    assert set(claims.dropped) == expected
    response = build_response(_event_with_groups(), claims, "v2", machine=False)
    assert response["claimsAndScopeOverrideDetails"]["groupOverrideDetails"] == _REQUEST_GROUPS


@pytest.mark.parametrize(("field", "attribute"), _GROUP_SETTINGS)
def test_apply_one_valid_group_setting_overrides_only_its_field(field: str, attribute: str) -> None:
    # A mapping whose only group setting is this one (preferred_role_from alone included).
    section = _group_section({field: attribute})
    value: Any = "arn:aws:iam::1:role/p" if field == "preferred_role_from" else ["x"]
    claims = apply_mapping(section, {attribute: value, "other": ["y"]})
    expected = dict(_REQUEST_GROUPS)
    key = {"groups_from": "groupsToOverride", "iam_roles_from": "iamRolesToOverride",
           "preferred_role_from": "preferredRole"}[field]  # fmt: skip
    expected[key] = value
    assert claims.dropped == ()
    response = build_response(_event_with_groups(), claims, "v2", machine=False)
    assert response["claimsAndScopeOverrideDetails"]["groupOverrideDetails"] == expected
    # An empty list is a valid, explicit override; absent keeps the request's value.
    if field != "preferred_role_from":
        emptied = apply_mapping(section, {attribute: []})
        answer = build_response(_event_with_groups(), emptied, "v2", machine=False)
        assert answer["claimsAndScopeOverrideDetails"]["groupOverrideDetails"][key] == []
    kept = build_response(_event_with_groups(), apply_mapping(section, {}), "v2", machine=False)
    assert kept["claimsAndScopeOverrideDetails"]["groupOverrideDetails"] == _REQUEST_GROUPS


def test_apply_valid_groups_override_while_malformed_roles_keep_the_request_roles() -> None:
    section = Section(
        groups=Groups(groups_from="groups", iam_roles_from="roles", preferred_role_from="role")
    )
    claims = apply_mapping(section, {"groups": ["ops"], "roles": "arn:r", "role": None})
    assert claims.groups == GroupOverride(groups=["ops"], iam_roles=None, preferred_role=None)
    assert set(claims.dropped) == {("roles", "not_a_list"), ("role", "null")}
    response = build_response(_event_with_groups(), claims, "v1", machine=False)
    assert response["claimsOverrideDetails"]["groupOverrideDetails"] == {
        **_REQUEST_GROUPS,
        "groupsToOverride": ["ops"],
    }


_REQUEST_GROUPS: Final = {
    "groupsToOverride": ["admins", "staff"],
    "iamRolesToOverride": ["arn:aws:iam::1:role/a"],
    "preferredRole": "arn:aws:iam::1:role/a",
}


def _event_with_groups() -> Event:
    return decode_event(
        {
            "version": "2",
            "userName": "jane",
            "request": {"groupConfiguration": dict(_REQUEST_GROUPS), "scopes": []},
        }
    )


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


def _json_size(claims: dict[str, Any]) -> int:
    return len(encode_json(claims))


@pytest.mark.parametrize("budget", [1024, 2048, 5000, 65_536])
@pytest.mark.parametrize(
    "sizes", [(100,), (3000, 10, 900), (1500, 1500, 1500), (700, 2000, 40, 9000)]
)
def test_apply_budget_drops_the_largest_item_claims_until_the_rest_fit(
    budget: int, sizes: tuple[int, ...]
) -> None:
    # GIVEN static claims and rules whose item values have the given sizes
    rules = tuple(_rule(f"a{i}", f"c{i}", "id", "access") for i in range(len(sizes)))
    static = (("static_big", "s" * 4000),)
    section = Section(rules=rules, static_id=static, static_access=static)
    item = {f"a{i}": "x" * size for i, size in enumerate(sizes)}
    # WHEN the mapping is applied under a claims budget
    claims = apply_mapping(section, item, budget=budget)
    for token_claims in (claims.id_claims, claims.access_claims):
        kept = {k: v for k, v in token_claims.items() if k != "static_big"}
        # THEN what the item brought fits the budget, static claims are never dropped
        assert _json_size(kept) <= budget or not kept
        assert token_claims["static_big"] == "s" * 4000
        # and every claim dropped is larger than (or as large as) every claim kept
        dropped = {name for name, reason in claims.dropped if reason == "over_budget"}
        assert dropped.isdisjoint(kept)
        assert set(kept) | dropped == {f"c{i}" for i in range(len(sizes))}
        if dropped and kept:
            smallest_dropped = min(len(item[f"a{n[1:]}"]) for n in dropped)
            assert smallest_dropped >= max(len(v) for v in kept.values())
    # Each token counts on its own: a drop is named once per token.
    over = [name for name, reason in claims.dropped if reason == "over_budget"]
    assert len(over) == 2 * len(set(over))
    assert all(reason == "over_budget" for _, reason in claims.dropped)


def test_apply_budget_counts_exact_numbers_and_keeps_a_small_answer_untouched() -> None:
    section = Section(rules=(_rule("n", "n", "access", type="number"), _rule("big")))
    item = {"n": Decimal("1.00000000000000000001"), "big": 2**100}
    claims = apply_mapping(section, item, budget=1024)
    assert claims.access_claims == {"n": Decimal("1.00000000000000000001")}
    assert claims.id_claims == {"big": 2**100}
    assert claims.dropped == ()


_ITEM_MARK: Final = "\N{SECTION SIGN}"
"""Every string drawn for an item holds this mark; no mapping name does."""
_item_strings = st.text(max_size=6).map(lambda s: _ITEM_MARK + s)
_item_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _item_strings,
              st.sampled_from(["sub", "aud", "cognito:x", "a b", ""]).map(_ITEM_MARK.__add__)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_item_strings, inner, max_size=3)),
    max_leaves=10,
)  # fmt: skip
_EVERY_FEATURE: Final = Section(
    rules=(
        _rule("a", "ca", "id", "access", type="string"),
        _rule("m.x", "email_verified", "id"),
        _rule("b", "aud", "access"),
        _rule("c", "cn", "access", type="number"),
    ),
    suppress=Suppress(id_from="a", access_from="b"),
    scopes=Scopes(add_from="c", suppress_from="m"),
    groups=Groups(groups_from="a", iam_roles_from="b", preferred_role_from="c"),
)


@settings(max_examples=300, deadline=None)
@given(
    item=st.dictionaries(st.sampled_from(["a", "b", "c", "m"]), _item_values, max_size=4),
    budget=st.sampled_from([1024, 65_536]),
)
def test_property_no_string_from_the_item_is_ever_named_in_dropped(
    item: dict[str, Any], budget: int
) -> None:
    claims = apply_mapping(_EVERY_FEATURE, item, "client-1", budget=budget)
    for name, reason in claims.dropped:
        assert _ITEM_MARK not in name
        assert _ITEM_MARK not in reason


_any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
              st.decimals(allow_nan=False, allow_infinity=False),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(), inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(value=_any_json, name=st.text(min_size=1))
def test_property_size_bound_never_under_counts(value: Any, name: str) -> None:
    # The cheap bound decides whether to measure at all: it may never be below the truth.
    exact = len(encode_json({name: value}))
    assert size_bound(value) + 6 * len(name) + 4 + 2 >= exact
