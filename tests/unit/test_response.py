"""Response building: shape choice, V1 strings, group preservation, machine clients."""

from decimal import Decimal
from typing import Any

import pytest
import simplejson

from shared.claims.model import EMPTY_CLAIMS, ClaimSet, GroupOverride
from shared.event import decode_event
from shared.response import build_response, choose_shape
from tests.conftest import load_event
from tests.unit.test_models import ODD_VERSIONS

CLAIMS = ClaimSet(
    id_claims={"first_name": "Jane", "age": 42, "vip": True, "tags": ["a", 1], "meta": {"k": "v"}},
    access_claims={"interesting_value": {"tier": "gold"}},
)


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("v1-authentication.json", "v1"),
        ("v2-authentication.json", "v2"),
        ("v3-client-credentials.json", "v2"),
        ("aws-docs-v2-test-event.json", "v2"),
        # Published V2 events say "version": "1"; request.scopes gives them away.
        ("rust-pretokengen-v2-incoming.json", "v2"),
        ("powertools-python-pretokengen-v2.json", "v2"),
        ("powertools-python-pretokengen-v1.json", "v1"),
        ("go-pretokengen-v1.json", "v1"),
        ("dotnet-pretokengen-v2.json", "v2"),
    ],
)
def test_choose_shape_auto(name: str, shape: str) -> None:
    assert choose_shape(decode_event(load_event(name)), "auto") == shape


def test_choose_shape_emulator_version_zero_is_v1() -> None:
    assert choose_shape(decode_event({"version": "0", "userName": "u"}), "auto") == "v1"


@pytest.mark.parametrize("version", ODD_VERSIONS, ids=repr)
def test_choose_shape_odd_version_decides_as_a_missing_one(version: object) -> None:
    # GIVEN events that differ from a version-less one only in an odd `version`
    for base in ({"userName": "u"}, load_event("v1-authentication.json")):
        missing = {k: v for k, v in base.items() if k != "version"}
        odd = {**missing, "version": version}
        # THEN the shape is the one a missing version gives (V1 here: no scopes)
        assert choose_shape(decode_event(odd), "auto") == "v1"
        assert choose_shape(decode_event(missing), "auto") == "v1"
    # and the request's scopes still decide for V2, whatever the version says
    with_scopes = {**load_event("v2-authentication.json"), "version": version}
    assert choose_shape(decode_event(with_scopes), "auto") == "v2"


@pytest.mark.parametrize("forced", ["v1", "v2"])
def test_choose_shape_forced(forced: Any) -> None:
    assert choose_shape(decode_event(load_event("v2-authentication.json")), forced) == forced
    assert choose_shape(decode_event(load_event("v1-authentication.json")), forced) == forced


def test_build_response_v2_both_tokens_and_groups_kept() -> None:
    event = decode_event(load_event("v2-authentication.json"))
    response = build_response(event, CLAIMS, "v2", machine=event.is_machine_client)
    details = response["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == CLAIMS.id_claims
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == CLAIMS.access_claims
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["readers", "editors"],
        "iamRolesToOverride": ["arn:aws:iam::123456789012:role/readers"],
        "preferredRole": "arn:aws:iam::123456789012:role/readers",
    }
    assert "claimsOverrideDetails" not in response


def test_build_response_v1_strings_only_id_token_only() -> None:
    event = decode_event(load_event("v1-authentication.json"))
    response = build_response(event, CLAIMS, "v1", machine=event.is_machine_client)
    details = response["claimsOverrideDetails"]
    assert details["claimsToAddOrOverride"] == {
        "first_name": "Jane",
        "age": "42",
        "vip": "true",
        "tags": '["a",1]',
        "meta": '{"k":"v"}',
    }
    assert "interesting_value" not in simplejson.dumps(response)
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["readers", "editors"]
    assert "claimsAndScopeOverrideDetails" not in response


def test_build_response_no_claims_still_keeps_groups() -> None:
    event = decode_event(load_event("v2-missing-user.json"))
    details = build_response(event, EMPTY_CLAIMS, "v2", machine=event.is_machine_client)[
        "claimsAndScopeOverrideDetails"
    ]
    assert details == {
        "groupOverrideDetails": {
            "groupsToOverride": ["readers"],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    }


def test_build_response_preferred_role_list_becomes_string() -> None:
    event = decode_event(load_event("aws-docs-v2-test-event.json"))
    details = build_response(event, EMPTY_CLAIMS, "v2", machine=event.is_machine_client)[
        "claimsAndScopeOverrideDetails"
    ]
    assert details["groupOverrideDetails"]["preferredRole"] == (
        "arn:aws:iam::123456789012:role/sns_caller"
    )


def test_build_response_preferred_role_ambiguous_list_is_dropped() -> None:
    raw = load_event("aws-docs-v2-test-event.json")
    raw["request"]["groupConfiguration"]["preferredRole"] = ["a", "b"]
    details = build_response(decode_event(raw), EMPTY_CLAIMS, "v2", machine=False)
    assert details["claimsAndScopeOverrideDetails"]["groupOverrideDetails"]["preferredRole"] is None


def test_build_response_empty_group_configuration_copies_empty_lists() -> None:
    raw = load_event("v2-authentication.json")
    raw["request"]["groupConfiguration"] = {}
    details = build_response(decode_event(raw), EMPTY_CLAIMS, "v2", machine=False)
    assert details["claimsAndScopeOverrideDetails"]["groupOverrideDetails"] == {
        "groupsToOverride": [],
        "iamRolesToOverride": [],
        "preferredRole": None,
    }


def test_build_response_machine_client_access_only_no_groups() -> None:
    event = decode_event(load_event("v3-client-credentials.json"))
    details = build_response(event, CLAIMS, "v2", machine=event.is_machine_client)[
        "claimsAndScopeOverrideDetails"
    ]
    assert details == {
        "accessTokenGeneration": {"claimsToAddOrOverride": {"interesting_value": {"tier": "gold"}}}
    }


def test_build_response_does_not_alias_claim_dicts() -> None:
    event = decode_event(load_event("v2-authentication.json"))
    response = build_response(event, CLAIMS, "v2", machine=event.is_machine_client)
    response["claimsAndScopeOverrideDetails"]["idTokenGeneration"]["claimsToAddOrOverride"]["x"] = 1
    assert "x" not in CLAIMS.id_claims


def test_build_response_v1_big_numbers_become_text() -> None:
    # DynamoDB numbers reach 38 digits, past orjson's 64-bit integers.
    big = 12345678901234567890123456789012345678
    claims = ClaimSet(id_claims={"n": big, "l": [big, {"k": -big}]}, access_claims={})
    event = decode_event(load_event("v1-authentication.json"))
    details = build_response(event, claims, "v1", machine=event.is_machine_client)[
        "claimsOverrideDetails"
    ]
    assert details["claimsToAddOrOverride"] == {
        "n": str(big),
        "l": f'[{big},{{"k":-{big}}}]',
    }


def test_build_response_v1_decimals_render_as_their_exact_text() -> None:
    exact = Decimal("1.00000000000000000001")
    tiny = Decimal("-1.5E-130")
    claims = ClaimSet(
        id_claims={"n": exact, "l": [exact, {"k": tiny}], "big": 2**63 + 1}, access_claims={}
    )
    event = decode_event(load_event("v1-authentication.json"))
    details = build_response(event, claims, "v1", machine=False)["claimsOverrideDetails"]
    assert details["claimsToAddOrOverride"] == {
        "n": "1.00000000000000000001",
        # DynamoDB's own decimal text, never the exponent form `str(Decimal)` switches to.
        "l": '[1.00000000000000000001,{"k":-0.' + "0" * 129 + "15}]",
        "big": "9223372036854775809",
    }


FULL = ClaimSet(
    id_claims={"plan": "gold", "seats": 25},
    access_claims={"plan": "gold", "roles": ["a"]},
    id_suppress=("phone_number",),
    access_suppress=("dev:trace",),
    scopes_add=("orders/read",),
    scopes_suppress=("email",),
    groups=GroupOverride(groups=["admins"], iam_roles=None, preferred_role=None),
)


def test_build_response_v2_suppressions_scopes_and_group_override() -> None:
    event = decode_event(load_event("v2-authentication.json"))
    details = build_response(event, FULL, "v2", machine=event.is_machine_client)[
        "claimsAndScopeOverrideDetails"
    ]
    assert details["idTokenGeneration"] == {
        "claimsToAddOrOverride": {"plan": "gold", "seats": 25},
        "claimsToSuppress": ["phone_number"],
    }
    assert details["accessTokenGeneration"] == {
        "claimsToAddOrOverride": {"plan": "gold", "roles": ["a"]},
        "claimsToSuppress": ["dev:trace"],
        "scopesToAdd": ["orders/read"],
        "scopesToSuppress": ["email"],
    }
    # Groups from the item; roles and preferred role kept from the request.
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["admins"],
        "iamRolesToOverride": ["arn:aws:iam::123456789012:role/readers"],
        "preferredRole": "arn:aws:iam::123456789012:role/readers",
    }


def test_build_response_v1_drops_access_and_scopes_keeps_id_suppression() -> None:
    event = decode_event(load_event("v1-authentication.json"))
    details = build_response(event, FULL, "v1", machine=event.is_machine_client)[
        "claimsOverrideDetails"
    ]
    assert details["claimsToAddOrOverride"] == {"plan": "gold", "seats": "25"}
    assert details["claimsToSuppress"] == ["phone_number"]
    assert details["groupOverrideDetails"]["groupsToOverride"] == ["admins"]
    text = simplejson.dumps(details)
    for absent in ("orders/read", "dev:trace", "roles"):
        assert absent not in text


def test_build_response_machine_client_ignores_id_changes_and_groups() -> None:
    event = decode_event(load_event("v3-client-credentials.json"))
    details = build_response(event, FULL, "v2", machine=event.is_machine_client)[
        "claimsAndScopeOverrideDetails"
    ]
    assert set(details) == {"accessTokenGeneration"}
