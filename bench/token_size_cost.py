"""Cost of the token size estimate per invocation: the fast way beside the full estimate.

Run: `python -m bench.token_size_cost` (Lambda's Python 3.13 for the figures that count, e.g.
`.venv-bench313/bin/python -m bench.token_size_cost`). Each line is the best of several `timeit`
repeats of CPU time (`time.process_time`: other work on a shared machine counts less), in
microseconds per call, beside references measured in the same run: a call of a function that
does nothing (the floor), orjson encoding the ID token's payload once (what any estimate must at
least spend), and building the `response` (what every answer costs, budgets or not). Speed is
shown here, never asserted in tests; `make bench` measures the whole cache-hit path
(`bench.token_budget`).
"""

import random
import time
import timeit
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.claims import ClaimSet, GroupOverride
from shared.event import decode_event
from shared.response import build_response
from shared.tokens.cognito import access_token_claims, id_token_claims, token_length
from shared.tokens.issued import Issued
from shared.tokens.shed import Candidate, plan_shedding
from shared.tokens.size import estimate_token
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
            seconds = timeit.Timer(cases[label], timer=time.process_time).timeit(NUMBER)
            best[label] = min(best[label], seconds / NUMBER * 1e6)
    return best


def _nothing() -> None:
    return None


def _answer(groups: list[str], added: dict[str, Any]) -> dict[str, Any]:
    """The `response` our trigger would build for `added` in both tokens and these groups."""
    claims = ClaimSet(
        id_claims=added,
        access_claims=added,
        id_suppress=("phone_number",),
        groups=GroupOverride(groups=groups),
    )
    return build_response(decode_event(_EVENT), claims, "v2", machine=False)


def _fast(groups: list[str], added: dict[str, Any], *, floats: bool) -> Callable[[], object]:
    """Both tokens' sizes the invocation's way."""
    event = decode_event(_EVENT)
    response = _answer(groups, added)

    def both() -> tuple[int, int]:
        issued = Issued(_EVENT, event, response, floats=floats)
        return issued.id_bytes(), issued.access_bytes()

    return both


def _full(groups: list[str], added: dict[str, Any]) -> Callable[[], object]:
    """Both tokens' full estimates (every form, each claim sizable): the shedder's way."""
    event = decode_event(_EVENT)
    issued = Issued(_EVENT, event, _answer(groups, added))

    def both() -> tuple[int, int]:
        attributes, ours, suppressed, groups, roles, preferred = issued.id_inputs()
        id_claims = id_token_claims(
            event, attributes, groups=groups, roles=roles, preferred_role=preferred
        )
        access = issued.access_inputs()
        access_claims = access_token_claims(event, scopes=access.scopes, groups=access.groups)
        return (
            estimate_token(id_claims, ours, suppressed).token_bytes,
            estimate_token(access_claims, access.added, access.suppressed).token_bytes,
        )

    return both


def main() -> None:
    event = decode_event(_EVENT)
    groups = _EVENT["request"]["groupConfiguration"]["groupsToOverride"]
    response = _answer(groups, _ADDED)
    issued = Issued(_EVENT, event, response)
    sizes = issued.id_bytes(), issued.access_bytes()
    attributes, ours, suppressed, *_ = issued.id_inputs()
    payload = {**attributes, **ours}
    print(f"ID token {sizes[0]} bytes, access token {sizes[1]} bytes (estimated); best of "
          f"{ROUNDS} interleaved rounds of {NUMBER} calls, CPU time")  # fmt: skip
    id_claims = id_token_claims(event, attributes, groups=groups, roles=None, preferred_role=None)
    estimate = estimate_token(id_claims, ours, suppressed)
    claims = ClaimSet(id_claims=_ADDED, access_claims=_ADDED, groups=GroupOverride(groups=groups))
    ascii_only = {k: v for k, v in _ADDED.items() if k not in ("price", "display_name")}

    def over_budget() -> object:
        candidates = [Candidate(name, estimate.saving(name)) for name in _ADDED]
        return plan_shedding(estimate.payload, estimate.token_bytes - 200, candidates, token_length)

    cases: dict[str, Callable[[], object]] = {
        "floor: a call of a no-op": _nothing,
        "reference: orjson-encode the ID payload once": lambda: encode_json(payload),
        "reference: build the response": lambda: build_response(event, claims, "v2", machine=False),
        "both tokens, 7 claims (floats possible)": _fast(groups, _ADDED, floats=True),
        "both tokens, 7 claims (no float in the mapping)": _fast(groups, _ADDED, floats=False),
        "both tokens, ASCII strings and ints only": _fast(groups, ascii_only, floats=False),
        "both tokens, no claims of ours": _fast(groups, {}, floats=False),
        "both tokens, 60 groups, 50 entitlements, non-ASCII": _fast(
            _LARGE_GROUPS, _LARGE_ADDED, floats=False
        ),
        "full estimates of both tokens (every form), 7 claims": _full(groups, _ADDED),
        "over budget: 7 savings and the shedding plan (ID token)": over_budget,
    }
    best = _measure(cases)
    reference = best["reference: orjson-encode the ID payload once"]
    for label, microseconds in best.items():
        print(f"{label:<58} {microseconds:7.2f} µs {microseconds / reference:6.2f}x orjson")


if __name__ == "__main__":
    main()
