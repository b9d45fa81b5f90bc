"""The shedding order, table-driven, then through the size estimate on V1 and V2 events."""

from decimal import Decimal
from typing import Any

import pytest

from shared.event import decode_event
from shared.tokens.cognito import access_token_claims, id_token_claims, token_length
from shared.tokens.shed import Candidate, Shedding, plan_shedding
from shared.tokens.size import TokenEstimate, estimate_token
from shared.values import encode_json
from tests.conftest import load_event


def C(name: str, saving: int, priority: int = 0, *, sheddable: bool = True) -> Candidate:
    """A candidate with one form, sized in plain units (the table below)."""
    return Candidate(name, (saving,), priority, sheddable)


@pytest.mark.parametrize(
    ("size", "budget", "candidates", "expected"),
    [
        pytest.param(100, 100, [C("a", 50)], Shedding((), 100, True), id="fits-as-it-is"),
        pytest.param(
            100, 60, [C("high", 50, priority=5), C("low", 10, priority=-1), C("mid", 40)],
            Shedding(("low", "mid"), 50, True), id="lowest-priority-first",
        ),
        pytest.param(
            100, 70, [C("small", 10), C("large", 40), C("medium", 20)],
            Shedding(("large",), 60, True), id="ties-the-largest-first",
        ),
        pytest.param(
            100, 70, [C("b", 30), C("a", 30), C("c", 30)],
            Shedding(("a",), 70, True),
            id="equal-ties-by-name",
        ),
        pytest.param(
            100, 50, [C("b", 20), C("a", 20), C("c", 20)],
            Shedding(("a", "b", "c"), 40, True), id="equal-ties-by-name-in-order",
        ),
        pytest.param(
            100, 60, [C("req", 90, priority=-9, sheddable=False), C("x", 45)],
            Shedding(("x",), 55, True), id="required-never-shed",
        ),
        pytest.param(
            100, 60, [C("static", 90, sheddable=False), C("x", 10)],
            Shedding(("x",), 90, False), id="static-never-shed-over-budget",
        ),
        pytest.param(
            100, 60, [C("override", -5, priority=-9), C("zero", 0, priority=-9), C("x", 40)],
            Shedding(("x",), 60, True), id="no-saving-never-shed",
        ),
        pytest.param(
            100, 10, [C("a", 30), C("b", 30)], Shedding(("a", "b"), 40, False),
            id="cannot-fit-every-candidate-shed",
        ),
        pytest.param(100, 99, [], Shedding((), 100, False), id="no-candidates"),
        pytest.param(
            100, 80, [C("p1-big", 90, priority=1), C("p0-small", 25)],
            Shedding(("p0-small",), 75, True), id="priority-beats-size",
        ),
    ],
)  # fmt: skip
def test_shedding_order(
    size: int, budget: int, candidates: list[Candidate], expected: Shedding
) -> None:
    assert plan_shedding((size,), budget, candidates, max) == expected
    # The order they are given in is moot.
    assert plan_shedding((size,), budget, reversed(candidates), max) == expected


def test_shedding_refuses_a_claim_named_twice() -> None:
    with pytest.raises(ValueError, match=r"\['a'\]"):
        plan_shedding((10,), 5, [C("a", 1), C("b", 1), C("a", 2)], max)


def test_shedding_refuses_savings_of_another_shape() -> None:
    with pytest.raises(ValueError, match="2 forms"):
        plan_shedding((10, 10), 5, [C("a", 1)], max)


def test_shedding_needs_a_saving_in_every_form() -> None:
    mixed = Candidate("override", (50, -1))
    plan = plan_shedding((100, 100), 80, [mixed, Candidate("x", (30, 30))], max)
    assert plan == Shedding(("x",), 70, True)


# --- through the estimate ------------------------------------------------------------------------

_RULES: dict[str, tuple[int, bool]] = {
    # name: (priority, sheddable)
    "entitlements": (0, True),
    "avatar": (-1, True),
    "tenant": (0, False),  # a `required` rule
    "plan": (0, True),
    "app": (0, False),  # static
    "bio": (0, True),
}


def _added(v1: bool) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "entitlements": [f"orders/{i:04d}" for i in range(120)],
        "avatar": "https://cdn.example.com/" + "a" * 600,
        "tenant": "acme",
        "plan": {"name": "pro", "seats": 25, "price": Decimal("9.99")},
        "app": "portal",
        "bio": "🙂" * 100,
    }
    if v1:  # V1 sends strings only, compact JSON for the rest (shared.response)
        return {k: v if isinstance(v, str) else encode_json(v).decode() for k, v in claims.items()}
    return claims


def _candidates(estimate: TokenEstimate) -> list[Candidate]:
    return [
        Candidate(name, estimate.saving(name), *_RULES[name])
        for name in estimate.added
        if name not in estimate.suppressed
    ]


@pytest.mark.parametrize("event_name", ["v1-authentication.json", "v2-authentication.json"])
@pytest.mark.parametrize("budget", [1000, 1400, 1500, 2000, 3000, 4096, 8192])
def test_shedding_makes_the_id_token_fit(event_name: str, budget: int) -> None:
    raw = load_event(event_name)
    event = decode_event(raw)
    v1 = event_name.startswith("v1")
    configuration = raw["request"]["groupConfiguration"]
    cognito = id_token_claims(
        event,
        raw["request"]["userAttributes"],
        groups=configuration["groupsToOverride"],
        roles=configuration["iamRolesToOverride"],
        preferred_role=configuration["preferredRole"],
    )
    added = _added(v1)
    estimate = estimate_token(cognito, added, ["email"])
    plan = plan_shedding(estimate.payload, budget, _candidates(estimate), token_length)
    kept = {name: value for name, value in added.items() if name not in plan.shed}
    after = estimate_token(cognito, kept, ["email"])
    if estimate.token_bytes <= budget:
        assert plan == Shedding((), estimate.token_bytes, True)
    elif plan.fits:
        assert after.token_bytes == plan.size <= budget
        # avatar (priority -1) first, then priority 0 by size; tenant and app never
        assert plan.shed == ("avatar", "entitlements", "bio", "plan")[: len(plan.shed)]
    else:  # every sheddable claim is shed, and the token is still over its budget
        assert plan.shed == ("avatar", "entitlements", "bio", "plan")
        assert after.token_bytes == plan.size > budget


def test_suppression_comes_before_shedding() -> None:
    raw = load_event("v2-authentication.json")
    event = decode_event(raw)
    cognito = access_token_claims(event, scopes=raw["request"]["scopes"], groups=["g"])
    added = _added(v1=False)
    open_ = estimate_token(cognito, added)
    budget = open_.token_bytes - 100
    shed_open = plan_shedding(open_.payload, budget, _candidates(open_), token_length)
    assert shed_open.fits
    assert shed_open.shed
    # Suppressing the avatar frees its bytes before any shedding, and it is no candidate.
    closed = estimate_token(cognito, added, ["avatar"])
    names = [c.name for c in _candidates(closed)]
    assert "avatar" not in names
    assert not any(closed.saving("avatar"))
    shed_closed = plan_shedding(closed.payload, budget, _candidates(closed), token_length)
    assert shed_closed == Shedding((), closed.token_bytes, True)
