"""Property-based checks over random items and events: whatever the data, the answer is safe."""

from typing import Any

import simplejson
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.claims import DEFAULT_MAPPING, apply_mapping, reserved_reason
from shared.item import decode_item
from shared.models import decode_event
from shared.response import build_response

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
    return value is None or isinstance(value, str | int | float | bool)


@settings(max_examples=300, deadline=None)
@given(raw_item=_items, raw_event=_events, shape=st.sampled_from(["v1", "v2"]))
def test_property_response_is_safe_for_any_item(
    raw_item: dict[str, Any], raw_event: dict[str, Any], shape: Any
) -> None:
    event = decode_event(raw_event)
    item = decode_item(raw_item)
    claims = apply_mapping(DEFAULT_MAPPING.user_rules, item)
    response = build_response(event, claims, shape)
    simplejson.loads(simplejson.dumps(response))
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
    # Groups are kept exactly when the request carried them.
    configuration = event.request.group_configuration if event.request else None
    if configuration is None:
        assert "groupOverrideDetails" not in details
    else:
        assert details["groupOverrideDetails"]["groupsToOverride"] == list(
            configuration.groups_to_override or []
        )
