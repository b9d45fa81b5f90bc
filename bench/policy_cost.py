"""Cost of conditions and grants per invocation: `build_context` + `apply_grants` with 20 grants.

Run: `.venv/bin/python -m bench.policy_cost`. Prints the best of several `timeit` repeats, in
microseconds per invocation, for a mix of grants of which a few hold (the realistic case), none
hold, and every one holds, beside a floor measured in the same run (twenty calls of a function
that does nothing), so a loaded machine shows as a slower floor. Speed is shown here, never
asserted in tests.
"""

import json
import timeit
from typing import Any

from shared.claims import apply_mapping
from shared.mapping import parse_mapping
from shared.models import decode_event
from shared.policy import apply_grants, build_context

GRANTS = 20
NUMBER = 20_000
REPEAT = 7

_EVENT: dict[str, Any] = {
    "version": "2",
    "triggerSource": "TokenGeneration_HostedAuth",
    "userName": "jane.doe",
    "callerContext": {"clientId": "app-3"},
    "request": {
        "groupConfiguration": {"groupsToOverride": ["readers", "editors", "g7"]},
        "scopes": ["openid", "email", "orders/read"],
        "clientMetadata": {"tenant": "t5", "theme": "dark"},
    },
}
_ITEM: dict[str, Any] = {"status": "active", "profile": {"seats": 25}, "tenants": {"t5": "member"}}


def _grant(i: int) -> dict[str, Any]:
    """Twenty grants cycling through every condition key and action."""
    tenant = f"t{i}"
    shapes: list[dict[str, Any]] = [
        {"when": {"clients": [f"app-{i}", "console"]}, "scopes_add": [f"s{i}/read"]},
        {"when": {"groups_any": [f"g{i}", "admins"]}, "claims": {"access": {f"c{i}": i}}},
        {
            "when": {"groups_none": ["staff"], "scopes_any": ["internal/api"]},
            "scopes_suppress": ["internal/api"],
        },
        {"when": {"attribute_equals": {"status": "suspended"}}, "deny": True},
        {
            "when": {
                "trigger_sources": ["TokenGeneration_HostedAuth"],
                "groups_all": ["readers", f"g{i}"],
            },
            "groups_add": [f"p{i}"],
        },
        {
            "when": {
                "metadata_equals": {"tenant": tenant},
                "attribute_equals": {f"tenants.{tenant}": "member"},
            },
            "claims": {"id": {"tenant": tenant}},
        },
        {
            "when": {"attribute_equals": {"profile.seats": 25}, "scopes_any": ["orders/read"]},
            "groups_remove": [f"x{i}"],
        },
    ]
    return shapes[i % len(shapes)]


def _mapping(grants: list[dict[str, Any]]) -> Any:
    document = {
        "request": {"client_metadata": ["tenant"]},
        "user": {
            "claims": [{"attribute": "status", "tokens": ["id"], "when": {"clients": ["console"]}}],
            "groups": {"groups_from": "groups"},
            "grants": grants,
        },
    }
    return parse_mapping(json.dumps(document).encode(), source="bench", toml=False)


def _measure(label: str, mapping: Any) -> None:
    section = mapping.user
    event = decode_event(_EVENT)
    keys = mapping.client_metadata

    def invocation() -> None:
        context = build_context(event, _ITEM, metadata_keys=keys)
        claims = apply_mapping(section, _ITEM, "app-3", context=context)
        apply_grants(section.grants, claims, context)

    def grants_only() -> None:
        apply_grants(section.grants, base, context)

    context = build_context(event, _ITEM, metadata_keys=keys)
    base = apply_mapping(section, _ITEM, "app-3", context=context)
    held = sum(grant.when.holds(context) for grant in section.grants)
    for name, func in (
        ("context + mapping + grants", invocation),
        ("apply_grants only", grants_only),
    ):
        per_call = min(timeit.repeat(func, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6
        print(f"{label:<34} {held:>2}/{len(section.grants)} hold  {name:<28} {per_call:6.2f} µs")


def _floor() -> None:
    calls = [_nothing] * GRANTS

    def twenty_calls() -> None:
        for call in calls:
            call()

    per_call = min(timeit.repeat(twenty_calls, number=NUMBER, repeat=REPEAT)) / NUMBER * 1e6
    print(f"{'floor: 20 calls of a no-op':<47} {'':<28} {per_call:6.2f} µs")


def _nothing() -> None:
    return None


def main() -> None:
    _floor()
    _measure("20 mixed grants", _mapping([_grant(i) for i in range(GRANTS)]))
    _measure(
        "20 grants, none holds",
        _mapping(
            [{"when": {"clients": [f"other-{i}"]}, "scopes_add": ["s"]} for i in range(GRANTS)]
        ),
    )
    _measure(
        "20 grants, all hold",
        _mapping(
            [
                {
                    "when": {"groups_any": ["readers"], "clients": ["app-3"]},
                    "scopes_add": [f"s{i}"],
                    "claims": {"access": {f"c{i}": i}},
                }
                for i in range(GRANTS)
            ]
        ),
    )
    _measure("no grants (baseline)", _mapping([]))


if __name__ == "__main__":
    main()
