"""Event decoding: every published sample, and the odd shapes real traffic and tools send."""

import copy
from typing import Final

import pytest

from shared.errors import EventError
from shared.event import decode_event
from tests.conftest import PUBLISHED, load_event

EVENT_FILES = sorted(
    p.name
    for p in PUBLISHED.glob("*.json")
    if not p.name.endswith(("-response.json", "-syntax.json"))
)


@pytest.mark.parametrize("name", EVENT_FILES)
def test_decode_event_accepts_every_published_event(name: str) -> None:
    event = decode_event(load_event(name))
    assert event.user_name


def test_decode_event_reads_the_fields_used() -> None:
    event = decode_event(load_event("aws-docs-v2-test-event.json"))
    assert event.user_name == "JaneDoe"
    assert event.client_id == "1example23456789"
    assert event.user_pool_id == "us-east-1_EXAMPLE"
    assert event.version_number == 2
    assert event.has_scopes
    assert not event.is_machine_client
    assert event.request is not None
    assert event.request.user_attributes is not None
    assert event.sub == "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    groups = event.request.group_configuration
    assert groups is not None
    assert groups.groups_to_override == ["group-1", "group-2", "group-3"]
    # The AWS docs' own test event sends preferredRole as a list.
    assert groups.preferred_role == ["arn:aws:iam::123456789012:role/sns_caller"]


@pytest.mark.parametrize(
    "response",
    [
        {},
        None,
        {"claimsOverrideDetails": None},
        {"claimsAndScopeOverrideDetails": []},
        {"claimsAndScopeOverrideDetails": None},
        "unexpected",
    ],
)
def test_decode_event_ignores_any_incoming_response(response: object) -> None:
    raw = load_event("v2-authentication.json")
    raw["response"] = response
    assert decode_event(raw).user_name == "jane.doe"


@pytest.mark.parametrize("groups", [None, {}])
def test_decode_event_group_configuration_null_or_empty(groups: object) -> None:
    raw = load_event("v2-authentication.json")
    raw["request"]["groupConfiguration"] = groups
    event = decode_event(raw)
    assert event.request is not None
    if groups is None:
        assert event.request.group_configuration is None
    else:
        assert event.request.group_configuration is not None
        assert event.request.group_configuration.groups_to_override is None


def test_decode_event_tolerates_missing_fields_and_unknown_ones() -> None:
    event = decode_event({"somethingNew": {"x": 1}})
    assert event.user_name is None
    assert event.client_id is None
    assert event.version_number == 0
    assert not event.has_scopes


def test_decode_event_machine_client() -> None:
    event = decode_event(load_event("v3-client-credentials.json"))
    assert event.is_machine_client
    assert event.request is not None
    assert event.request.group_configuration is None
    assert event.client_id == "7machine0client0id"


ODD_VERSIONS: Final = [
    "", " 2", "2 ", "2.0", "-1", "+2", "v2", "0x2", "1e1", "2\n", "1_0", "9999",
    "\u0662", "\u00b2", "\u00b3", "\u0663", "\uff11", "\uff12", "\U0001d7d0", "\u2475",
    -1, -(2**70), 2**70, 1000, 2.0, 2.5, float("nan"), True, False, [2], {"v": 2}, None,
]  # fmt: skip
"""`version` values Cognito could not mean: each is "no version" (0)."""


@pytest.mark.parametrize(
    ("version", "number"), [("1", 1), ("2", 2), ("3", 3), (3, 3), ("0", 0), ("02", 2), (0, 0)]
)
def test_event_version_number(version: object, number: int) -> None:
    assert decode_event({"version": version}).version_number == number


@pytest.mark.parametrize("version", ODD_VERSIONS, ids=repr)
def test_event_odd_version_is_no_version_and_never_raises(version: object) -> None:
    event = decode_event({"version": version, "userName": "u"})
    assert event.version_number == 0


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda e: e.update(userName=5), "$.userName"),
        (lambda e: e["request"].update(scopes="openid"), "$.request.scopes"),
        (lambda e: e["request"]["groupConfiguration"].update(groupsToOverride=[1]), "$.request"),
        (lambda e: e.update(request=[]), "$.request"),
    ],
)
def test_decode_event_wrong_types_raise_with_path(mutate: object, path: str) -> None:
    raw = copy.deepcopy(load_event("v2-authentication.json"))
    mutate(raw)  # type: ignore[operator]  # parametrized lambdas
    with pytest.raises(EventError) as caught:
        decode_event(raw)
    assert path in str(caught.value)


@pytest.mark.parametrize("raw", [None, [], "event", 3])
def test_decode_event_not_an_object(raw: object) -> None:
    with pytest.raises(EventError, match="Expected `object`"):
        decode_event(raw)
