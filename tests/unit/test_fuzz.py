"""Fuzzing the whole trigger: random, mutated and hostile events and items, every policy.

Events start from every sample (ours and the published ones) and are mutated: fields replaced by
values of any JSON type, deleted or nulled, huge strings, unicode. Items are random AttributeValue
maps, some malformed. Whatever comes in, the trigger either answers with a response of the
event's shape that the Lambda runtime can marshal (`awslambdaric`'s own marshaller), or raises
`SignInDenied` with one of the fixed messages; it never emits a reserved claim and never loses
the user's groups unless the mapping overrides them (the event-only mapping adds only the groups
its allowlist admits, and its grant removes only `admins`).

`make test` runs FUZZ_EXAMPLES (default 300) per test; `make fuzz` runs 10,000.
"""

import asyncio
import copy
import os
from collections.abc import Sequence
from typing import Any

import pytest
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.claims import load_rules
from shared.claims.guard import reserved_reason, scope_reason, suppress_reason
from shared.errors import DENIED_NO_PROFILE, DENIED_UNAVAILABLE
from shared.event import decode_event
from shared.lookup.sources import ItemRead, QueryRead
from shared.lookup.wire import decode_item
from shared.response import choose_shape
from shared.values import Item
from tests.conftest import EVENTS, PUBLISHED, load_event, make_settings
from tools.container import Container

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SAMPLES = [
    load_event(p.name)
    for p in [*sorted(EVENTS.glob("*.json")), *sorted(PUBLISHED.glob("*.json"))]
    if p.name != "profiles.json" and not p.name.endswith(("-response.json", "-syntax.json"))
]
MAPPINGS = [
    None,
    load_rules(str(EVENTS / "claims.example.toml")),
    load_rules(str(EVENTS / "federated.toml")),  # the event alone: attributes, identities
]
FEDERATED_MAPPING = 2
FEDERATED_GROUPS = {"admins", "developers"}  # what its group rule admits (renamed)
MARSHALLER = LambdaMarshaller()

_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), max_size=10),
    st.builds(lambda n: "x" * n, st.integers(1000, 70_000)),
    st.sampled_from(["", " ", "sub", "cognito:groups", "ClientCredentials", "a b", "\u0000"]),
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_attribute_value = st.recursive(
    st.one_of(
        st.builds(lambda s: {"S": s}, _text),
        st.builds(lambda n: {"N": str(n)}, st.one_of(st.integers(), st.floats(allow_nan=False))),
        st.builds(lambda b: {"BOOL": b}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(lambda x: {"SS": x}, st.lists(_text, max_size=3)),
        st.builds(lambda b: {"B": b}, st.binary(max_size=4)),
        st.just({}),  # malformed: no type
        st.builds(lambda v: {"S": v}, st.integers()),  # malformed: wrong wire type
    ),
    lambda inner: st.one_of(
        st.builds(lambda x: {"L": x}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"M": x}, st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    ),
    max_leaves=8,
)
_item_names = st.sampled_from(
    ["first_name", "last_name", "interesting_value", "profile", "tenant_id", "roles", "groups",
     "iam_roles", "preferred_role", "hide_from_id", "hide_from_access", "extra_scopes",
     "revoked_scopes", "limits", "beta", "sub", "aud"]
)  # fmt: skip
_raw_items = st.one_of(st.none(), st.dictionaries(_item_names, _attribute_value, max_size=8))


@st.composite
def _events(draw: st.DrawFn) -> Any:
    event: Any = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        if not isinstance(event, dict):
            break
        # Walk down to a random object inside the event, then change one of its fields.
        target: Any = event
        while True:
            children = [k for k, v in target.items() if isinstance(v, dict)]
            if not children or draw(st.booleans()):
                break
            target = target[draw(st.sampled_from(sorted(children)))]
        keys = sorted(target) or ["userName"]
        key = draw(st.one_of(st.sampled_from(keys), st.text(max_size=6)))
        action = draw(st.sampled_from(["replace", "delete", "null"]))
        if action == "delete":
            target.pop(key, None)
        else:
            target[key] = None if action == "null" else draw(_json)
    if draw(st.integers(0, 20)) == 0:
        event = draw(_json)  # not even an object
    return event


class _Source:
    def __init__(self, raw: dict[str, Any] | None) -> None:
        self.raw = raw

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        await asyncio.sleep(0)
        return None if self.raw is None else decode_item(self.raw)

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        return [await self.get_item(read, consistent=consistent, timeout=timeout) for read in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        await asyncio.sleep(0)
        return [] if self.raw is None else [decode_item(self.raw)]


def _check_generation(generation: Any, token: Any) -> None:
    for name, value in (generation.get("claimsToAddOrOverride") or {}).items():
        assert reserved_reason(name, token) is None, name
        assert value is not None
    for name in generation.get("claimsToSuppress") or []:
        assert suppress_reason(name) is None, name
    for scope in [
        *(generation.get("scopesToAdd") or []),
        *(generation.get("scopesToSuppress") or []),
    ]:
        assert scope_reason(scope) is None, scope


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    event=_events(),
    raw=_raw_items,
    mapping_index=st.integers(0, len(MAPPINGS) - 1),
    on_error=st.sampled_from(["allow", "deny"]),
    on_missing=st.sampled_from(["allow", "deny"]),
    response_format=st.sampled_from(["auto", "v1", "v2"]),
)
def test_fuzz_trigger_answers_safely_whatever_comes_in(
    event: Any, raw: Any, mapping_index: int, on_error: str, on_missing: str, response_format: str
) -> None:
    settings_ = make_settings(
        ON_ERROR=on_error, ON_MISSING=on_missing, RESPONSE_FORMAT=response_format
    )
    original = copy.deepcopy(event)
    with Container(
        settings_, source=_Source(raw), mapping=MAPPINGS[mapping_index], logs="discard"
    ) as container:
        call = container.call(event)
    if call.response is None:
        assert call.denied in (DENIED_UNAVAILABLE, DENIED_NO_PROFILE)
        return
    result = call.response
    assert event == original  # the input is never mutated
    MARSHALLER.marshal_response(result)  # as awslambdaric encodes it, or it raises
    assert isinstance(result, dict)
    try:
        decoded = decode_event(original)
    except Exception:
        # An unusable event under ON_ERROR=allow: a blank answer of its shape, nothing else.
        assert {k: v for k, v in result.items() if k != "response"} == {
            k: v for k, v in original.items() if k != "response"
        }
        assert result["response"] in (
            {"claimsOverrideDetails": None},
            {"claimsAndScopeOverrideDetails": None},
        )
        return
    response = result["response"]
    shape = choose_shape(decoded, settings_.response_format)
    if shape == "v1":
        (key,) = response
        assert key == "claimsOverrideDetails"
        details = response[key]
        assert all(
            isinstance(v, str) for v in (details.get("claimsToAddOrOverride") or {}).values()
        )
        _check_generation(details, "id")
    else:
        (key,) = response
        assert key == "claimsAndScopeOverrideDetails"
        details = response[key]
        _check_generation(details.get("idTokenGeneration") or {}, "id")
        _check_generation(details.get("accessTokenGeneration") or {}, "access")
    configuration = decoded.request.group_configuration if decoded.request else None
    if configuration is None or decoded.is_machine_client:
        assert "groupOverrideDetails" not in details
        return
    if mapping_index == FEDERATED_MAPPING:
        request = list(configuration.groups_to_override or [])
        groups = details["groupOverrideDetails"]["groupsToOverride"]
        assert set(request) - {"admins"} <= set(groups)
        assert set(groups) <= set(request) | FEDERATED_GROUPS
        return
    overridden = (
        MAPPINGS[mapping_index] is not None
        and raw is not None
        and any(name in raw for name in ("groups", "iam_roles", "preferred_role"))
    )
    if not overridden:
        groups = details["groupOverrideDetails"]
        assert groups["groupsToOverride"] == list(configuration.groups_to_override or [])
        assert groups["iamRolesToOverride"] == list(configuration.iam_roles_to_override or [])


def test_fuzz_samples_cover_every_event_version() -> None:
    versions = {str(sample.get("version")) for sample in SAMPLES}
    assert {"1", "2", "3"} <= versions
    assert any(s.get("triggerSource") == "TokenGeneration_ClientCredentials" for s in SAMPLES)


@pytest.mark.parametrize("huge", [70_000, 400_000])
def test_fuzz_huge_user_name_is_answered(huge: int) -> None:
    event = load_event("v2-authentication.json") | {"userName": "u" * huge}
    with Container(make_settings(), source=_Source(None), logs="discard") as container:
        result = container.invoke(event)
    # Longer than DynamoDB's 2048-byte key limit: no lookup, no store claims, groups kept.
    details = result["response"]["claimsAndScopeOverrideDetails"]
    assert set(details) == {"groupOverrideDetails"}
