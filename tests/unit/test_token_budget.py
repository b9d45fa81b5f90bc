"""Token budgets end to end: `Container.invoke` on V1 and V2 events, shedding read from the answer.

Each case runs one mapping (rules of several priorities and sizes, a `required` rule, static
claims, a grant's claim, a suppressed claim) over one item, with the token's budget set a given
number of bytes under its size without a budget; the expected shedding order is lowest
`priority` first, ties the largest first. The answer, the log line and the metrics lines are
read as a client would: the response's claims, `dropped_claims`, `TokenBytes` per `Token`.
"""

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import pytest

from shared.claims import DEFAULT_RULES, Rules, load_rules, parse_rules
from shared.lookup import ItemRead, QueryRead
from shared.tokens import token_sizes
from shared.values import Item
from tests.conftest import EVENTS, load_event, make_settings
from tools.container import Call, Container
from tools.size import run as size_run

_SHEDDABLE: Final = {"low": 300, "big": 600, "small": 100, "keep": 200}
"""Claims taken from the item, by the length of their values."""
_MAPPING: Final[dict[str, Any]] = {
    "user": {
        "claims": [
            {"attribute": "low", "tokens": ["id", "access"], "priority": -5},
            {"attribute": "big", "tokens": ["id", "access"]},
            {"attribute": "small", "tokens": ["id", "access"], "priority": 0},
            {"attribute": "keep", "tokens": ["id", "access"], "priority": 10},
            {"attribute": "needed", "tokens": ["id", "access"], "required": True, "priority": -9},
            {"attribute": "hidden", "tokens": ["id", "access"], "priority": -9},
        ],
        "static": {"id": {"banner": "s" * 400}, "access": {"banner": "s" * 400}},
        "suppress": {"id": ["hidden"], "access": ["hidden"]},
        "grants": [
            {
                "when": {"clients": ["1example23456789"]},
                "claims": {"id": {"granted": "g" * 300}, "access": {"granted": "g" * 300}},
            }
        ],
    }
}
_ITEM: Final[Item] = {
    "id": "USER#jane.doe",
    **{name: name[0] * size for name, size in _SHEDDABLE.items()},
    "needed": "n" * 400,
    "hidden": "h" * 3000,  # suppressed: it takes no budget, so nothing is shed for it
}
NEVER_SHED: Final = {"needed", "banner", "granted", "hidden"}


class _Source:
    """The one item, for any key."""

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        return dict(_ITEM)

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        return [dict(_ITEM) for _ in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        return []


_RULES: Final[Rules] = parse_rules(json.dumps(_MAPPING).encode(), source="test", toml=False)
_MADE: list[Container] = []


@pytest.fixture(autouse=True)
def _close_containers() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _container(**env: str) -> Container:
    container = Container(make_settings(**env), source=_Source(), mapping=_RULES)
    _MADE.append(container)
    return container


def _unbudgeted(event: dict[str, Any]) -> dict[str, int]:
    """Each token's estimated size with no budget: what the cases' budgets are set under."""
    answer = _container().invoke(event)
    return token_sizes(event, answer["response"])


def _claims(answer: dict[str, Any], token: str) -> dict[str, Any]:
    details = answer["response"].get("claimsAndScopeOverrideDetails")
    if details is None:  # V1: the ID token only
        generation = answer["response"]["claimsOverrideDetails"]
    else:
        generation = details[f"{token}TokenGeneration"]
    claims = generation["claimsToAddOrOverride"]
    assert isinstance(claims, dict)
    return claims


def _shed(call: Call) -> list[str]:
    return [
        name for name, reason in call.log.get("dropped_claims", ()) if reason == "over_token_budget"
    ]


def _metric_lines(container: Container, before: int) -> dict[str, int]:
    """The `TokenBytes` lines one invocation wrote: size by `Token`."""
    sizes = {}
    for line in container.lines[before:]:
        if "TokenBytes" in line:
            (directive,) = line["_aws"]["CloudWatchMetrics"]
            assert directive["Dimensions"] == [["Service", "Token"]]
            assert directive["Metrics"] == [{"Name": "TokenBytes", "Unit": "Bytes"}]
            sizes[line["Token"]] = line["TokenBytes"]
    return sizes


_EVERY_SHEDDABLE: Final = ["low", "big", "small", "keep"]
_CASES: Final = [
    # under the unbudgeted size by: what is shed, in order; whether the token then fits
    pytest.param(0, [], True, id="fits-as-it-is"),
    pytest.param(100, ["low"], True, id="lowest-priority-first"),
    pytest.param(500, ["low", "big"], True, id="then-the-largest-of-a-priority"),
    pytest.param(1300, ["low", "big", "small"], True, id="then-the-smaller"),
    pytest.param(1400, _EVERY_SHEDDABLE, True, id="the-highest-priority-last"),
    # the least budget (1024): every sheddable claim goes, and the token is issued over it
    pytest.param(10**6, _EVERY_SHEDDABLE, False, id="cannot-fit-sheds-all-issued-over"),
]


@pytest.mark.parametrize("event_name", ["v2-authentication.json", "v1-authentication.json"])
@pytest.mark.parametrize(("under", "expected", "fits"), _CASES)
def test_token_budget_sheds_lowest_priority_first_the_largest_first(
    event_name: str, under: int, expected: list[str], fits: bool
) -> None:
    # GIVEN the ID token's budget `under` bytes below its size without one
    event = load_event(event_name)
    budget = max(1024, _unbudgeted(event)["id"] - under)
    container = _container(ID_TOKEN_MAX_BYTES=str(budget))
    before = len(container.lines)
    # WHEN a user signs in
    call = container.call(event)
    assert call.response is not None
    # THEN the claims are shed in order, each named; required, static, grant and suppressed
    # claims never are; the size the metric says is the answer's, within the budget
    claims = _claims(call.response, "id")
    size = token_sizes(event, call.response["response"])["id"]
    assert _metric_lines(container, before) == {"id": size}
    assert _shed(call) == expected
    assert set(claims).isdisjoint(expected)
    if expected:
        assert call.log["Dropped_over_token_budget"] == len(expected)
    if fits:
        assert "over_budget" not in call.log
        assert "TokenOverBudget" not in call.log
        assert size <= budget
    else:
        assert call.log["over_budget"] == ["id"]
        assert call.log["TokenOverBudget"] == 1
        assert size > budget
    assert set(_SHEDDABLE) - set(expected) <= set(claims)
    assert NEVER_SHED - {"hidden"} <= set(claims)
    if event_name.startswith("v1"):
        assert all(isinstance(value, str) for value in claims.values())  # as V1 sends them


@pytest.mark.parametrize(("under", "expected", "fits"), _CASES)
def test_token_budget_of_the_access_token_sheds_its_own_claims(
    under: int, expected: list[str], fits: bool
) -> None:
    event = load_event("v2-authentication.json")
    budget = max(1024, _unbudgeted(event)["access"] - under)
    call = _container(ACCESS_TOKEN_MAX_BYTES=str(budget)).call(event)
    assert call.response is not None
    assert _shed(call) == expected
    assert set(_claims(call.response, "access")).isdisjoint(expected)
    # The ID token has no budget: all of its claims stay.
    assert set(_SHEDDABLE) <= set(_claims(call.response, "id"))
    size = token_sizes(event, call.response["response"])["access"]
    assert (size <= budget) is fits
    assert call.log.get("over_budget", []) == ([] if fits else ["access"])


def test_token_budget_shed_claim_was_needed_to_fit() -> None:
    # The shedder stops at the first claim that makes the token fit: putting it back would not.
    event = load_event("v2-authentication.json")
    budget = _unbudgeted(event)["id"] - 500
    call = _container(ID_TOKEN_MAX_BYTES=str(budget)).call(event)
    assert call.response is not None
    assert _shed(call) == ["low", "big"]
    response = call.response["response"]
    generation = response["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
    generation["claimsToAddOrOverride"]["big"] = _ITEM["big"]
    assert token_sizes(event, response)["id"] > budget


def test_token_budget_suppression_comes_before_shedding() -> None:
    # The suppressed claim (3000 bytes) reaches no token: a budget at the size without it fits
    # with nothing shed, and it is never a candidate.
    event = load_event("v2-authentication.json")
    sizes = _unbudgeted(event)
    call = _container(
        ID_TOKEN_MAX_BYTES=str(sizes["id"]), ACCESS_TOKEN_MAX_BYTES=str(sizes["access"])
    ).call(event)
    assert call.response is not None
    assert _shed(call) == []
    assert "hidden" in _claims(call.response, "id")  # sent, and suppressed by the response
    details = call.response["response"]["claimsAndScopeOverrideDetails"]
    assert "hidden" in details["idTokenGeneration"]["claimsToSuppress"]


def test_token_budget_off_does_no_work() -> None:
    event = load_event("v2-authentication.json")
    container = _container(ID_TOKEN_MAX_BYTES="0", ACCESS_TOKEN_MAX_BYTES="0")
    before = len(container.lines)
    call = container.call(event)
    assert _metric_lines(container, before) == {}
    assert len(container.lines) == before + 1  # the invocation's own line only
    assert call.response == _container().invoke(load_event("v2-authentication.json"))


def test_token_budget_measures_each_budgeted_token_machine_clients_access_only() -> None:
    event = load_event("v3-client-credentials.json")
    container = _container(ID_TOKEN_MAX_BYTES="8192", ACCESS_TOKEN_MAX_BYTES="8192")
    before = len(container.lines)
    call = container.call(event)
    assert call.response is not None
    sizes = _metric_lines(container, before)
    assert set(sizes) == {"access"}
    assert sizes == token_sizes(event, call.response["response"])


def test_token_budget_v1_sizes_the_id_token_only() -> None:
    event = load_event("v1-authentication.json")
    container = _container(ID_TOKEN_MAX_BYTES="8192", ACCESS_TOKEN_MAX_BYTES="8192")
    before = len(container.lines)
    call = container.call(event)
    assert call.response is not None
    assert set(_metric_lines(container, before)) == {"id"}


def test_make_size_reports_each_token_over_the_seeded_profiles() -> None:
    # GIVEN the profiles `make invoke` seeds (5 users and a machine client), the built-in mapping
    lines = size_run(make_settings(), DEFAULT_RULES, EVENTS / "profiles.json")
    assert lines[0] == "6 principals signed in, 0 denied"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["id"][1:2] == ["5"]
    assert rows["access"][1:2] == ["6"]
    p50, p99, largest = map(int, rows["id"][2:5])
    assert 1024 < p50 <= p99 <= largest
    # WHEN the ID token's budget is under every one of them THEN each was over, shed all it
    # could (the reference mapping's two names are not enough) and is still over
    lines = size_run(
        make_settings(ID_TOKEN_MAX_BYTES="1024"), DEFAULT_RULES, EVENTS / "profiles.json"
    )
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["id"][5:] == ["1024", "5", "5", "5"]
    assert rows["access"][5] == "off"


def test_make_size_reads_a_single_table_seed() -> None:
    seed = EVENTS / "single-table.seed.json"
    rules = load_rules(str(EVENTS / "single-table.toml"))
    lines = size_run(make_settings(), rules, seed)
    assert lines[0] == "1 principals signed in, 0 denied"
    # The tenant's plan (a related item) and the memberships and API keys (queries) reached
    # the access token: it is larger than the same user's with no claim of ours.
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    event = load_event("v2-authentication.json")  # the seed's user: the same `sub`
    bare = token_sizes(event, {"claimsAndScopeOverrideDetails": {}})
    assert int(rows["access"][2]) > bare["access"]


def test_token_budget_sheds_claims_from_the_event_by_priority_too() -> None:
    # GIVEN a mapping reading the event alone (no item): a large attribute of low priority
    document = {
        "request": {"user_attributes": ["custom:bio", "custom:team"]},
        "user": {
            "claims": [
                {"source": "event", "attribute": "custom:bio", "claim": "bio",
                 "tokens": ["id"], "priority": -1},
                {"source": "event", "attribute": "custom:team", "claim": "team", "tokens": ["id"]},
            ]
        },
    }  # fmt: skip
    rules = parse_rules(json.dumps(document).encode(), source="test", toml=False)
    event = load_event("v2-authentication.json")
    event["request"]["userAttributes"] |= {"custom:bio": "b" * 800, "custom:team": "t" * 900}
    unbudgeted = Container(make_settings(), source=_Source(), mapping=rules)
    _MADE.append(unbudgeted)
    size = token_sizes(event, unbudgeted.invoke(event)["response"])["id"]
    # WHEN the ID token's budget is a little under its size
    container = Container(
        make_settings(ID_TOKEN_MAX_BYTES=str(size - 50)), source=_Source(), mapping=rules
    )
    _MADE.append(container)
    call = container.call(event)
    # THEN the lower priority goes, though it is the smaller
    assert call.response is not None
    assert _shed(call) == ["bio"]
    assert "team" in _claims(call.response, "id")


def test_token_budget_repeated_sign_ins_are_fitted_alike_and_a_change_is_seen() -> None:
    # GIVEN a container with a budget that sheds, and a user signing in again and again
    event = load_event("v2-authentication.json")
    budget = _unbudgeted(event)["id"] - 500
    container = _container(ID_TOKEN_MAX_BYTES=str(budget))
    answers, metrics = [], []
    for _ in range(3):
        before = len(container.lines)
        call = container.call(load_event("v2-authentication.json"))
        answers.append((call.response, _shed(call)))
        metrics.append(_metric_lines(container, before))
    # THEN each answer (remembered after the first) is the first's, metric line included
    assert answers[1:] == answers[:1] * 2
    assert metrics[1:] == metrics[:1] * 2
    assert answers[0][1] == ["low", "big"]
    # WHEN an attribute grows THEN the next answer is sized anew: a larger token, more shed
    grown = load_event("v2-authentication.json")
    grown["request"]["userAttributes"]["custom:bio"] = "x" * 600
    before = len(container.lines)
    call = container.call(grown)
    assert call.response is not None
    size = token_sizes(grown, call.response["response"])["id"]
    assert _metric_lines(container, before) == {"id": size}
    assert metrics[0]["id"] < size <= budget
    assert _shed(call)[:2] == ["low", "big"]
    assert len(_shed(call)) > 2
