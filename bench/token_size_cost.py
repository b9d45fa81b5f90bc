"""Cost of the token size estimate per invocation: on the cache-hit path when a budget is set.

Run: `python -m bench.token_size_cost` (Lambda's Python 3.13 for the figures that count, e.g.
`.venv-bench313/bin/python -m bench.token_size_cost`). Each line is the best of several `timeit`
repeats, in microseconds per call, beside two references measured in the same run: a call of a
function that does nothing (the floor: a loaded machine shows as a slower floor) and orjson
encoding the same ID-token payload once (what any size estimate must at least spend). Speed is
shown here, never asserted in tests.
"""

import random
import timeit
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.event import decode_event
from shared.tokens.cognito import access_token_claims, id_token_claims, token_length
from shared.tokens.shed import Candidate, plan_shedding
from shared.tokens.size import access_token_bytes, estimate_token, id_token_bytes
from shared.values import encode_json

NUMBER = 2_000
ROUNDS = 60

_EVENT: dict[str, Any] = {
    "version": "2",
    "triggerSource": "TokenGeneration_HostedAuth",
    "region": "eu-west-1",
    "userPoolId": "eu-west-1_AbCdEfGhI",
    "userName": "jane.doe",
    "callerContext": {"clientId": "5imbbd1ji2boe14epj2rf1afs2"},
    "request": {
        "userAttributes": {
            "sub": "1c5f6f9f-93a1-45ec-9a0c-ed64c9fb120c",
            "cognito:user_status": "CONFIRMED",
            "email_verified": "true",
            "email": "jane.doe@example.com",
            "given_name": "Jane",
            "family_name": "Doe",
            "custom:tenant": "acme",
        },
        "groupConfiguration": {
            "groupsToOverride": ["readers", "editors", "billing"],
            "iamRolesToOverride": ["arn:aws:iam::123456789012:role/readers"],
            "preferredRole": "arn:aws:iam::123456789012:role/readers",
        },
        "scopes": ["openid", "email", "orders/read", "aws.cognito.signin.user.admin"],
    },
}
# A typical profile's claims: strings, a number, a decimal, a list and an object.
_ADDED: dict[str, Any] = {
    "tenant": "acme",
    "plan": "pro",
    "seats": 25,
    "price": Decimal("9.99"),
    "display_name": "Zoë Doe",
    "entitlements": [f"orders/{verb}" for verb in ("read", "write", "refund", "export")],
    "features": {"beta": True, "theme": "dark"},
}
_LARGE_GROUPS = [f"team-{i:03d}-engineering" for i in range(60)]
_LARGE_ADDED: dict[str, Any] = {
    **_ADDED,
    "entitlements": [f"service-{i:03d}/read" for i in range(50)],
    "display_name": "山田 太郎 🙂",
}


def _measure(cases: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best µs per call of each case, the cases interleaved in a fresh order every round.

    A machine shared with other work slows whatever runs while it is busy; interleaving lets
    every case meet the same quiet moments, so the ratios between lines hold.
    """
    best = dict.fromkeys(cases, float("inf"))
    order = list(cases)
    shuffle = random.Random(20).shuffle
    for _ in range(ROUNDS):
        shuffle(order)
        for label in order:
            seconds = timeit.timeit(cases[label], number=NUMBER)
            best[label] = min(best[label], seconds / NUMBER * 1e6)
    return best


def _nothing() -> None:
    return None


def _both(groups: list[str], added: dict[str, Any]) -> Callable[[], object]:
    """Both tokens' estimates, as the invocation would ask for them."""
    event = decode_event(_EVENT)
    attributes = _EVENT["request"]["userAttributes"]
    configuration = _EVENT["request"]["groupConfiguration"]
    roles = configuration["iamRolesToOverride"]
    preferred = configuration["preferredRole"]
    scopes = _EVENT["request"]["scopes"]
    suppressed = ("phone_number",)

    def both() -> tuple[int, int]:
        return (
            id_token_bytes(
                event, attributes, added=added, suppressed=suppressed,
                groups=groups, roles=roles, preferred_role=preferred,
            ),
            access_token_bytes(event, added=added, suppressed=(), scopes=scopes, groups=groups),
        )  # fmt: skip

    return both


def main() -> None:
    event = decode_event(_EVENT)
    attributes = _EVENT["request"]["userAttributes"]
    configuration = _EVENT["request"]["groupConfiguration"]
    groups = configuration["groupsToOverride"]
    roles = configuration["iamRolesToOverride"]
    preferred = configuration["preferredRole"]
    scopes = _EVENT["request"]["scopes"]
    id_claims = id_token_claims(
        event, attributes, groups=groups, roles=roles, preferred_role=preferred
    )
    payload = {**id_claims, **_ADDED}
    estimate = estimate_token(id_claims, _ADDED, ())
    access = estimate_token(access_token_claims(event, scopes=scopes, groups=groups), _ADDED)
    print(f"ID token {estimate.token_bytes} bytes, access token {access.token_bytes} bytes "
          f"(estimated); best of {ROUNDS} interleaved rounds of {NUMBER} calls")  # fmt: skip
    ascii_only = {k: v for k, v in _ADDED.items() if k not in ("price", "display_name")}

    def over_budget() -> object:
        candidates = [Candidate(name, estimate.saving(name)) for name in _ADDED]
        return plan_shedding(estimate.payload, estimate.token_bytes - 200, candidates, token_length)

    cases: dict[str, Callable[[], object]] = {
        "floor: a call of a no-op": _nothing,
        "reference: orjson-encode the whole ID payload once": lambda: encode_json(payload),
        "generic: estimate_token(id_token_claims(...)), 7 claims": lambda: estimate_token(
            id_token_claims(
                event, attributes, groups=groups, roles=roles, preferred_role=preferred
            ),
            _ADDED,
        ),
        "id_token_bytes, 7 claims": lambda: id_token_bytes(
            event, attributes, added=_ADDED, groups=groups, roles=roles, preferred_role=preferred
        ),
        "access_token_bytes, 7 claims": lambda: access_token_bytes(
            event, added=_ADDED, scopes=scopes, groups=groups
        ),
        "both tokens (per invocation)": _both(groups, _ADDED),
        "both tokens, ASCII strings and ints only": _both(groups, ascii_only),
        "both tokens, no claims of ours": _both(groups, {}),
        "both tokens, 60 groups, 50 entitlements, non-ASCII name": _both(
            _LARGE_GROUPS, _LARGE_ADDED
        ),
        "over budget: 7 savings and the shedding plan (ID token)": over_budget,
    }
    best = _measure(cases)
    reference = best["reference: orjson-encode the whole ID payload once"]
    for label, microseconds in best.items():
        print(f"{label:<58} {microseconds:7.2f} µs {microseconds / reference:6.2f}x orjson")


if __name__ == "__main__":
    main()
