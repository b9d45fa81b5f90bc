"""`Fitter` remembers each user's last fitted answer: never a stale one.

Property: over any sequence of sign-ins through one `Fitter` (the same user again and again,
other users between, attributes, groups, scopes and claims changing, values that Python finds
equal but JSON writes apart: `True` and `1`, `1` and `1.0`, `Decimal("1.0")` and `1`, `0.0` and
`-0.0`), each answer is exactly what `fit_tokens` computes from scratch for that sign-in:
response, claims (shed ones named), token sizes, tokens over budget. Then the memory itself:
the remembered answer is used (no estimate), bounded, and forgotten oldest first.
"""

import copy
import json
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shared.tokens.fit as fit_module
from shared.claims import ClaimSet, GroupOverride, Rules, parse_rules
from shared.event import decode_event
from shared.response import choose_shape
from shared.tokens import Fitter, fit_tokens
from tests.conftest import load_event

_RULES: Final[Rules] = parse_rules(
    json.dumps(
        {
            "user": {
                "claims": [
                    {"attribute": "low", "tokens": ["id", "access"], "priority": -5},
                    {"attribute": "big", "tokens": ["id", "access"]},
                    {"attribute": "flag", "tokens": ["id", "access"]},
                    {"attribute": "needed", "tokens": ["id"], "required": True},
                ],
                "static": {"id": {"app": "portal"}},
                # A rule's claim holding a grant's value counts as the grant's: never shed.
                "grants": [{"when": {"clients": ["nobody"]}, "claims": {"id": {"flag": 1}}}],
            }
        }
    ).encode(),
    source="test",
    toml=False,
)
_SECTION: Final = _RULES.user

# Values that compare equal in Python yet are written apart in JSON (or are the same text).
_CONFUSABLE: Final = st.sampled_from(
    [True, 1, 1.0, Decimal("1"), Decimal("1.0"), "1", "true", 0.0, -0.0, 0, False, None]
)
_VALUES: Final = st.one_of(
    _CONFUSABLE,
    st.text(max_size=300),
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits: no key, fitted anew
    st.lists(_CONFUSABLE, max_size=3),
)


@st.composite
def _sign_in(draw: st.DrawFn) -> tuple[dict[str, Any], ClaimSet]:
    """One sign-in: an event (of a few users, V1 or V2) and the claims the mapping gave."""
    event = load_event(draw(st.sampled_from(["v2-authentication.json", "v1-authentication.json"])))
    event["userName"] = draw(st.sampled_from(["jane", "john", "joan"]))
    attributes = event["request"]["userAttributes"]
    attributes["custom:note"] = draw(st.sampled_from(["", "a", "é", "a/b", "x" * 200]))
    if draw(st.booleans()):
        attributes["custom:odd"] = draw(_CONFUSABLE)  # not a string: Cognito never sends one
    if draw(st.booleans()):
        event["request"]["groupConfiguration"]["groupsToOverride"] = draw(
            st.lists(st.sampled_from(["a", "b", "admins"]), max_size=3)
        )
    if "scopes" in event["request"] and draw(st.booleans()):
        event["request"]["scopes"] = draw(
            st.lists(st.sampled_from(["openid", "email", "x/y"]), max_size=3)
        )
    id_claims: dict[str, Any] = {"app": "portal", "needed": "n"}
    for name in ("low", "big", "flag"):
        if draw(st.booleans()):
            id_claims[name] = draw(_VALUES)
    access_claims = {k: v for k, v in id_claims.items() if k in ("low", "big", "flag")}
    groups = GroupOverride(groups=["g"]) if draw(st.booleans()) else None
    suppress = tuple(draw(st.lists(st.sampled_from(["low", "email", "flag"]), max_size=2)))
    claims = ClaimSet(
        id_claims=id_claims,
        access_claims=access_claims,
        id_suppress=suppress,
        access_suppress=suppress,
        groups=groups,
    )
    return event, claims


def _fit_both(
    fitter: Fitter, event: dict[str, Any], claims: ClaimSet, budgets: tuple[int, int]
) -> None:
    decoded = decode_event(event)
    shape = choose_shape(decoded, "auto")
    kwargs: dict[str, Any] = {"shape": shape, "machine": False}
    remembered = fitter.fit(event, decoded, claims, _SECTION, **kwargs)
    fresh = fit_tokens(event, decoded, claims, _SECTION, budgets=budgets, **kwargs)
    assert remembered.response == fresh.response
    assert json.dumps(remembered.response, default=str) == json.dumps(fresh.response, default=str)
    assert remembered.claims == fresh.claims
    assert dict(remembered.token_bytes) == dict(fresh.token_bytes)
    assert remembered.over_budget == fresh.over_budget


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sign_ins=st.lists(_sign_in(), min_size=1, max_size=12),
    budgets=st.sampled_from([(8192, 8192), (1500, 1400), (1024, 0), (0, 1024), (2000, 2000)]),
)
def test_fitter_answers_as_fit_tokens_would_every_time(
    sign_ins: list[tuple[dict[str, Any], ClaimSet]], budgets: tuple[int, int]
) -> None:
    fitter = Fitter(budgets, capacity=2)  # small: users are forgotten and fitted anew too
    for event, claims in sign_ins:
        _fit_both(fitter, event, claims, budgets)
        _fit_both(fitter, copy.deepcopy(event), claims, budgets)  # the same answer again


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(True, 1, id="true-then-1"),
        pytest.param(1, 1.0, id="1-then-1.0"),
        pytest.param(Decimal("1"), Decimal("1.0"), id="decimal-precision"),
        pytest.param(Decimal("1.5"), 1.5, id="decimal-then-float"),
        pytest.param(0.0, -0.0, id="zero-then-negative-zero"),
        pytest.param("1", 1, id="string-then-number"),
    ],
)
@pytest.mark.parametrize("event_name", ["v2-authentication.json", "v1-authentication.json"])
@pytest.mark.parametrize("budgets", [(8192, 8192), (1024, 1024)])  # fitting; shedding all
def test_fitter_tells_apart_values_python_finds_equal(
    before: Any, after: Any, event_name: str, budgets: tuple[int, int]
) -> None:
    # V1 sends `1` and `"1"` as the same string: only the claim set tells the grant's `1`
    # (never shed) from a rule's `"1"` (shed).
    event = load_event(event_name)
    fitter = Fitter(budgets)
    for value in (before, after, before):
        claims = ClaimSet(
            id_claims={"flag": value, "needed": "n", "big": "b" * 400},
            access_claims={"flag": value},
        )
        _fit_both(fitter, event, claims, budgets)


def test_fitter_reuses_a_remembered_answer_and_forgets_the_oldest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fitted: list[str] = []
    real = fit_module._fit

    def counting(*args: Any, **kwargs: Any) -> Any:
        fitted.append(args[0].decoded.user_name)
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "_fit", counting)
    fitter = Fitter((8192, 8192), capacity=2)
    claims = ClaimSet(id_claims={"needed": "n", "big": "b" * 100}, access_claims={})

    def sign_in(user: str, **attributes: str) -> None:
        event = load_event("v2-authentication.json")
        event["userName"] = user
        event["request"]["userAttributes"].update(attributes)
        decoded = decode_event(event)
        fitter.fit(event, decoded, claims, _SECTION, shape="v2", machine=False)

    sign_in("jane")
    sign_in("jane")
    assert fitted == ["jane"]  # the second sign-in was answered from memory
    sign_in("jane", email="new@example.com")  # a changed attribute is a new answer
    assert fitted == ["jane", "jane"]
    sign_in("john")
    sign_in("joan")  # a third user: the oldest (jane) is forgotten
    assert len(fitter) == 2
    sign_in("john")
    assert fitted == ["jane", "jane", "john", "joan"]
    sign_in("jane", email="new@example.com")
    assert fitted[-1] == "jane"


def test_fitter_of_no_capacity_remembers_nothing() -> None:
    fitter = Fitter((8192, 8192), capacity=0)
    event = load_event("v2-authentication.json")
    claims = ClaimSet(id_claims={"needed": "n"}, access_claims={})
    _fit_both(fitter, event, claims, (8192, 8192))
    assert len(fitter) == 0


class _Text(str):
    """A `str` subclass: orjson would write it as a string, the fit sees another type."""


def _tuple_scopes(event: dict[str, Any]) -> None:
    event["request"]["scopes"] = tuple(event["request"]["scopes"])


def _ordered_attributes(event: dict[str, Any]) -> None:
    event["request"]["userAttributes"] = OrderedDict(event["request"]["userAttributes"])


def _text_attribute(event: dict[str, Any]) -> None:
    event["request"]["userAttributes"]["email"] = _Text("jane@example.com")


@pytest.mark.parametrize("change", [_tuple_scopes, _ordered_attributes, _text_attribute])
def test_fitter_gives_no_memory_to_what_json_writes_alike_but_the_fit_tells_apart(
    change: Callable[[dict[str, Any]], None],
) -> None:
    # Python callers only (an event decoded from JSON holds none of these): each is fitted anew.
    budgets = (8192, 8192)
    fitter = Fitter(budgets)
    claims = ClaimSet(id_claims={"needed": "n"}, access_claims={"big": "b"})
    event = load_event("v2-authentication.json")
    _fit_both(fitter, event, claims, budgets)
    changed = copy.deepcopy(event)
    change(changed)
    _fit_both(fitter, changed, claims, budgets)
    _fit_both(fitter, event, claims, budgets)


def test_fitter_keys_a_machine_client_apart() -> None:
    # The same event and answer for a user and for a machine client: only the ID token differs.
    budgets = (8192, 8192)
    fitter = Fitter(budgets)
    event = load_event("v2-authentication.json")
    del event["request"]["groupConfiguration"]
    claims = ClaimSet(id_claims={}, access_claims={"big": "b"})
    decoded = decode_event(event)
    for machine in (True, False, True):
        remembered = fitter.fit(event, decoded, claims, _SECTION, shape="v2", machine=machine)
        fresh = fit_tokens(
            event, decoded, claims, _SECTION, shape="v2", machine=machine, budgets=budgets
        )
        assert dict(remembered.token_bytes) == dict(fresh.token_bytes)
        assert ("id" in dict(remembered.token_bytes)) is not machine
