"""Property-based checks over random items and events: whatever the data, the answer is safe."""

from decimal import Decimal
from typing import Any

import simplejson
from awslambdaric.lambda_runtime_marshaller import to_json
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.claims import parse_rules
from shared.claims.guard import (
    NO_OBJECT_ID_CLAIMS,
    Token,
    fits_type,
    reserved_reason,
    scope_reason,
    suppress_reason,
)
from shared.claims.model import DEFAULT_RULES, Rules
from shared.errors import ConfigError
from shared.event import decode_event
from shared.lookup.wire import decode_item
from shared.response import build_response
from tests.unit.claims_helpers import apply_mapping

_names = st.text(min_size=1, max_size=12)
_scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=20)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**20), 10**20)),
    st.builds(lambda f: {"N": repr(f)}, st.floats(allow_nan=False, allow_infinity=False, width=32)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda x: {"SS": x}, st.lists(st.text(max_size=5), max_size=3)),
    st.builds(lambda b: {"B": b}, st.binary(max_size=4)),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.builds(lambda x: {"L": x}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"M": x}, st.dictionaries(_names, inner, max_size=3)),
    ),
    max_leaves=8,
)
_reference = st.sampled_from(["first_name", "last_name", "interesting_value"])
_items = st.dictionaries(st.one_of(_reference, _names, st.just("sub")), _values, max_size=6)
_groups = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "groupsToOverride": st.lists(st.text(max_size=8), max_size=3),
            "iamRolesToOverride": st.lists(st.text(max_size=8), max_size=2),
            "preferredRole": st.one_of(
                st.none(), st.text(max_size=8), st.lists(st.text(), max_size=2)
            ),
        },
    ),
)
_events = st.fixed_dictionaries(
    {"userName": st.text(min_size=1, max_size=10)},
    optional={
        "version": st.sampled_from(["0", "1", "2", "3", 2]),
        "triggerSource": st.sampled_from(
            ["TokenGeneration_Authentication", "TokenGeneration_ClientCredentials"]
        ),
        "request": st.fixed_dictionaries(
            {"groupConfiguration": _groups},
            optional={"scopes": st.lists(st.text(max_size=6), max_size=3)},
        ),
    },
)


def _only_plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain_json(v) for v in value)
    # Decimal: an exact non-integral DynamoDB number, written by the runtime as its text.
    return value is None or isinstance(value, str | int | float | Decimal | bool)


@settings(max_examples=300, deadline=None)
@given(raw_item=_items, raw_event=_events, shape=st.sampled_from(["v1", "v2"]))
def test_property_response_is_safe_for_any_item(
    raw_item: dict[str, Any], raw_event: dict[str, Any], shape: Any
) -> None:
    event = decode_event(raw_event)
    item = decode_item(raw_item)
    claims = apply_mapping(DEFAULT_RULES.user, item)
    response = build_response(event, claims, shape, machine=event.is_machine_client)
    simplejson.loads(to_json(response))
    assert _only_plain_json(response)
    key = "claimsOverrideDetails" if shape == "v1" else "claimsAndScopeOverrideDetails"
    details = response[key]
    # Only the mapped claims, never a reserved one, whatever the item holds.
    emitted: list[tuple[str, Any]] = []
    if shape == "v1":
        emitted = list(details.get("claimsToAddOrOverride", {}).items())
        assert all(isinstance(v, str) for _, v in emitted)
    else:
        for token in ("idTokenGeneration", "accessTokenGeneration"):
            emitted += list(details.get(token, {}).get("claimsToAddOrOverride", {}).items())
    for name, _ in emitted:
        assert reserved_reason(name) is None
        assert name in {"first_name", "last_name", "interesting_value"}
    # Groups are kept exactly when the request carried them (machine clients have none).
    configuration = event.request.group_configuration if event.request else None
    if configuration is None or event.is_machine_client:
        assert "groupOverrideDetails" not in details
    else:
        assert details["groupOverrideDetails"]["groupsToOverride"] == list(
            configuration.groups_to_override or []
        )


# ---- random mappings ------------------------------------------------------------------------

_ATTRS = ["a", "b", "c", "m", "lst"]
_CLAIM_NAMES = ["tier", "plan", "aud", "sub", "cognito:groups", "dev:x", "email_verified", "x y"]
_TYPES = ["string", "number", "integer", "boolean", "string_list", "json", "any"]
_plain = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4),
              st.sampled_from(["sub", "dev:x", "ok", "a b", "aud", "client-1"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_ATTRS), inner, max_size=3)),
    max_leaves=6,
)  # fmt: skip
_rules = st.fixed_dictionaries(
    {
        "attribute": st.sampled_from([*_ATTRS, "m.a", "m.b"]),
        "tokens": st.lists(st.sampled_from(["id", "access"]), min_size=1, max_size=2, unique=True),
        "type": st.sampled_from(_TYPES),
    },
    optional={"claim": st.sampled_from(_CLAIM_NAMES), "required": st.booleans()},
)
_names_lists = st.lists(st.sampled_from(_CLAIM_NAMES), max_size=3)
_documents = st.fixed_dictionaries(
    {
        "user": st.fixed_dictionaries(
            {},
            optional={
                "claims": st.lists(_rules, max_size=5),
                "static": st.fixed_dictionaries(
                    {},
                    optional={"id": st.dictionaries(st.sampled_from(_CLAIM_NAMES), _plain, max_size=2),
                              "access": st.dictionaries(st.sampled_from(_CLAIM_NAMES), _plain, max_size=2)},
                ),
                "suppress": st.fixed_dictionaries(
                    {}, optional={"id": _names_lists, "access": _names_lists,
                                  "id_from": st.sampled_from(_ATTRS), "access_from": st.sampled_from(_ATTRS)},
                ),
                "scopes": st.fixed_dictionaries(
                    {}, optional={"add": st.lists(st.sampled_from(["r", "w", "a b"]), max_size=2),
                                  "add_from": st.sampled_from(_ATTRS),
                                  "suppress_from": st.sampled_from(_ATTRS)},
                ),
                "groups": st.fixed_dictionaries(
                    {}, optional={"groups_from": st.sampled_from(_ATTRS),
                                  "iam_roles_from": st.sampled_from(_ATTRS),
                                  "preferred_role_from": st.sampled_from(_ATTRS)},
                ),
            },
        )
    }
)  # fmt: skip
_plain_items = st.dictionaries(st.sampled_from(_ATTRS), _plain, max_size=5)


def _mapping_or_none(document: dict[str, Any]) -> Rules | None:
    try:
        return parse_rules(simplejson.dumps(document).encode(), source="h.json", toml=False)
    except ConfigError:
        return None


@settings(max_examples=400, deadline=None)
@given(document=_documents, item=_plain_items, event=_events, shape=st.sampled_from(["v1", "v2"]))
def test_property_random_mappings_never_emit_what_cognito_forbids(
    document: dict[str, Any], item: dict[str, Any], event: dict[str, Any], shape: Any
) -> None:
    mapping = _mapping_or_none(document)
    assume(mapping is not None)
    assert mapping is not None
    decoded = decode_event({**event, "callerContext": {"clientId": "client-1"}})
    claims = apply_mapping(mapping.user, item, decoded.client_id)
    response = build_response(decoded, claims, shape, machine=decoded.is_machine_client)
    simplejson.loads(to_json(response))
    assert _only_plain_json(response)
    rule_types = {(t, r.claim): r.type for r in mapping.user.rules for t in r.tokens}
    if shape == "v1":
        details = response["claimsOverrideDetails"]
        assert all(isinstance(v, str) for v in details.get("claimsToAddOrOverride", {}).values())
        generations: list[tuple[Token, dict[str, Any]]] = [("id", details)]
    else:
        details = response["claimsAndScopeOverrideDetails"]
        generations = [
            ("id", details.get("idTokenGeneration", {})),
            ("access", details.get("accessTokenGeneration", {})),
        ]
        for scope in [*details.get("accessTokenGeneration", {}).get("scopesToAdd", []),
                      *details.get("accessTokenGeneration", {}).get("scopesToSuppress", [])]:  # fmt: skip
            assert scope_reason(scope) is None
    for token, generation in generations:
        for name, value in generation.get("claimsToAddOrOverride", {}).items():
            assert reserved_reason(name, token) is None
            if name == "aud":
                assert value == "client-1"
            if token == "id" and name in NO_OBJECT_ID_CLAIMS:
                assert not isinstance(value, dict | list)
            declared = rule_types.get((token, name))
            if shape == "v2" and declared is not None:
                assert fits_type(value, declared)
        for name in generation.get("claimsToSuppress", []):
            assert suppress_reason(name) is None
    configuration = decoded.request.group_configuration if decoded.request else None
    if configuration is None or decoded.is_machine_client:
        assert "groupOverrideDetails" not in details or configuration is not None
    else:
        groups = details["groupOverrideDetails"]["groupsToOverride"]
        if claims.groups is None or claims.groups.groups is None:
            assert groups == list(configuration.groups_to_override or [])
        else:
            assert groups == claims.groups.groups
