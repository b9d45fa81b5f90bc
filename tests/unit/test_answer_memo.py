"""`AnswerMemo`: the same sign-in on the same items gets the answer it got, never a stale one.

Property: over any sequence of sign-ins (users, V1 and V2, sign-in and refresh, attribute values
Python finds equal but that are not the same: `True`, `1`, `1.0`, `0.0`, `-0.0`, NaN, None,
tuples, a `str` subclass, integers past 64 bits), items changing in the store and the cache
expiring, with and without token budgets, a container that remembers answers gives, for every
sign-in, exactly what one that never remembers gives: the answer (type for type), the denial,
the log line and its metrics. Then tables: what is and is not recalled, identity of the items,
the bound and the order of forgetting, and the shape of the memo's key.
"""

import copy
import json
import math
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.answer_memo import EVENT_FIELDS, AnswerMemo
from shared.claims import Rules, parse_rules
from shared.event import Event
from shared.lookup import ItemRead, Profile, QueryRead
from shared.values import Item
from tests.conftest import ROOT, FakeClock, load_event, make_settings
from tools.container import Call, Container

_MAPPING: Final = {
    "request": {"user_attributes": ["custom:tier", "custom:contractor", "custom:cost_center"]},
    "user": {
        "claims": [
            {"attribute": "plan", "tokens": ["id", "access"], "priority": -1},
            {"attribute": "bio", "tokens": ["id"]},
            {"attribute": "tenant", "tokens": ["access"], "required": True},
            {
                "source": "event",
                "attribute": "custom:tier",
                "claim": "tier",
                "tokens": ["id", "access"],
                "type": "string",
            },
            {
                "source": "event",
                "attribute": "custom:contractor",
                "claim": "contractor",
                "tokens": ["access"],
                "type": "boolean",
            },
            {
                "source": "event",
                "attribute": "custom:cost_center",
                "claim": "cost_center",
                "tokens": ["access"],
                "type": "number",
            },
            {
                "attribute": "level",
                "tokens": ["access"],
                "when": {"user_attribute_equals": {"custom:tier": "gold"}},
            },
        ],
        "static": {"id": {"app": "portal"}},
        "grants": [
            {"when": {"user_attribute_equals": {"custom:tier": "banned"}}, "deny": True},
            {"when": {"trigger_sources": ["TokenGeneration_RefreshTokens"]}, "scopes_add": ["x/r"]},
        ],
    },
}
_RULES: Final[Rules] = parse_rules(json.dumps(_MAPPING).encode(), source="test", toml=False)


class _Text(str):
    """A `str` that is not one: Cognito never sends it; the pipeline reads it as it is."""


# Values Python finds equal (or JSON writes alike) that are not the same value.
_ODD: Final = st.sampled_from(
    [
        "gold", "banned", "true", "1", "12.5", "", True, 1, 1.0, 0.0, -0.0, 0, False, None,
        math.nan, math.inf, -math.inf, 2**70, ("gold",), ["gold"], _Text("gold"), _Text("true"),
    ]
)  # fmt: skip
_ITEM_VALUES: Final = st.sampled_from(
    ["pro", "free", "x" * 400, 1, True, Decimal("1.50"), 2**64 + 1, ["a", "b"], {"k": "v"}, None]
)


class _Store:
    """A profile source over a dict the test changes; each read is a new object, as a real
    store's answer is."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        key = json.dumps(read.key, default=str)
        item = self.items.get(key)
        return copy.deepcopy(item) if item is not None else None

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        return [await self.get_item(r, consistent=consistent, timeout=timeout) for r in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        return []


_MADE: list[Container] = []


@pytest.fixture(autouse=True)
def _close_containers() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _pair(store: _Store, clock: FakeClock, **env: str) -> tuple[Container, Container]:
    """Two containers on one store and clock: the first remembers answers, the second never."""
    made = []
    for _ in range(2):
        container = Container(
            make_settings(CACHE_TTL_SECONDS="60", **env), source=store, mapping=_RULES, clock=clock
        )
        _MADE.append(container)
        made.append(container)
    remembering, plain = made
    assert remembering.deps.answers is not None
    plain.deps.answers = None
    return remembering, plain


def _exact(value: object) -> object:
    """`value` with every type written out: equal only when type and value both are."""
    if isinstance(value, dict):
        return (type(value).__name__, [(k, _exact(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_exact(v) for v in value])
    return (type(value).__name__, repr(value))


def _settled(
    call: Call, lines: list[dict[str, Any]]
) -> tuple[object, str | None, dict[str, Any], list[dict[str, Any]]]:
    """What one invocation gave, less what differs between any two runs (times)."""
    log = {k: v for k, v in call.log.items() if k not in ("latency_ms", "timestamp", "Latency")}
    log.pop("_aws", None)
    metric_lines = [
        {k: v for k, v in line.items() if k != "_aws"} for line in lines if "message" not in line
    ]
    return (_exact(call.response), call.denied, log, metric_lines)


@st.composite
def _event(draw: st.DrawFn) -> dict[str, Any]:
    event = load_event(draw(st.sampled_from(["v2-authentication.json", "v1-authentication.json"])))
    event["userName"] = draw(st.sampled_from(["jane", "john"]))
    event["triggerSource"] = draw(
        st.sampled_from(["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens"])
    )
    attributes = event["request"]["userAttributes"]
    attributes["sub"] = event["userName"] + "-sub"
    for name in ("custom:tier", "custom:contractor", "custom:cost_center"):
        if draw(st.booleans()):
            attributes[name] = draw(_ODD)
    if "scopes" in event["request"] and draw(st.booleans()):
        event["request"]["scopes"] = draw(
            st.sampled_from([["openid"], ("openid",), [], ["openid", "x/r"]])
        )
    return event


_STEP: Final = st.one_of(
    st.tuples(st.just("sign_in"), st.integers(min_value=0, max_value=3)),
    st.tuples(
        st.just("store"),
        st.sampled_from(["jane", "john"]),
        st.dictionaries(st.sampled_from(["plan", "bio", "tenant", "level"]), _ITEM_VALUES),
    ),
    st.tuples(st.just("tick"), st.sampled_from([1, 61])),
)


def _user_key(name: str) -> str:
    return json.dumps([["id", f"USER#{name}-sub"]])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(_event(), min_size=1, max_size=4),  # signed in again and again
    steps=st.lists(_STEP, min_size=1, max_size=30),
    budgets=st.sampled_from([{}, {"ID_TOKEN_MAX_BYTES": "1400", "ACCESS_TOKEN_MAX_BYTES": "1300"}]),
)
def test_a_remembered_answer_is_always_the_answer_computed_afresh(
    events: list[dict[str, Any]], steps: list[tuple[Any, ...]], budgets: dict[str, str]
) -> None:
    store, clock = _Store(), FakeClock()
    store.items = {_user_key(n): {"id": f"USER#{n}-sub", "tenant": "t1"} for n in ("jane", "john")}
    remembering, plain = _pair(store, clock, USER_KEY="USER#{sub}", **budgets)
    for step in steps:
        if step[0] == "store":
            _, name, values = step
            store.items[_user_key(name)] = {"id": f"USER#{name}-sub", **values}
        elif step[0] == "tick":
            clock.advance(step[1])
        else:
            event = events[step[1] % len(events)]
            results = []
            for container in (remembering, plain):
                before = len(container.lines)
                call = container.call(copy.deepcopy(event))
                results.append(_settled(call, container.lines[before:]))
            assert results[0] == results[1], event


# --- tables ---------------------------------------------------------------------------------


def _signed_in(container: Container, event: dict[str, Any]) -> Call:
    return container.call(copy.deepcopy(event))


def _jane(**attributes: object) -> dict[str, Any]:
    event = load_event("v2-authentication.json")
    event["userName"] = "jane"
    event["request"]["userAttributes"].update({"sub": "jane-sub", **attributes})
    return event


def _fresh_pair(**env: str) -> tuple[Container, Container, _Store, FakeClock]:
    store, clock = _Store(), FakeClock()
    store.items = {_user_key("jane"): {"id": "USER#jane-sub", "tenant": "t1", "plan": "pro"}}
    remembering, plain = _pair(store, clock, USER_KEY="USER#{sub}", **env)
    return remembering, plain, store, clock


def _memo(container: Container) -> AnswerMemo:
    memo = container.deps.answers
    assert memo is not None
    return memo


def _recalled(container: Container) -> int:
    return _memo(container).recalled


def _details(call: Call) -> dict[str, Any]:
    assert call.response is not None
    details = call.response["response"]["claimsAndScopeOverrideDetails"]
    assert isinstance(details, dict)
    return details


def test_the_same_sign_in_on_the_same_cached_item_is_recalled() -> None:
    remembering, plain, _, _ = _fresh_pair()
    event = _jane(**{"custom:tier": "gold"})
    first = _signed_in(remembering, event)
    assert _recalled(remembering) == 0
    again = _signed_in(remembering, event)
    assert _recalled(remembering) == 1
    assert (
        _exact(again.response)
        == _exact(first.response)
        == _exact(_signed_in(plain, event).response)
    )
    assert again.log["cache"] == "hit"


@pytest.mark.parametrize(
    ("first", "then", "same"),
    [
        ("gold", "gold", True),
        ("gold", True, False),
        (True, 1, False),
        (1, 1.0, False),
        (0.0, -0.0, False),
        (None, math.nan, False),
        (math.nan, math.nan, True),  # the same bits: the same value, whatever `==` says
        (math.inf, None, False),
        (["gold"], ("gold",), False),
        ("gold", _Text("gold"), False),  # a subclass: never remembered
        (_Text("gold"), _Text("gold"), False),
        (2**70, 2**70, False),  # past 64 bits: not plain JSON to orjson, never remembered
        (b"gold", b"gold", False),  # bytes-like: `marshal` writes every such type alike
        (bytearray(b"gold"), b"gold", False),
        ("gold", "silver", False),
    ],
    ids=repr,
)
def test_values_python_finds_equal_are_not_the_same_sign_in(
    first: object, then: object, same: bool
) -> None:
    remembering, plain, _, _ = _fresh_pair()
    _signed_in(remembering, _jane(**{"custom:tier": first}))
    before = _recalled(remembering)
    event = _jane(**{"custom:tier": then})
    call = _signed_in(remembering, event)
    assert _recalled(remembering) == before + same
    expected = _signed_in(plain, event)
    assert _exact(call.response) == _exact(expected.response)
    assert call.denied == expected.denied


def test_a_refreshed_item_is_a_new_answer_even_when_equal() -> None:
    remembering, _, store, clock = _fresh_pair()
    event = _jane()
    _signed_in(remembering, event)
    _signed_in(remembering, event)
    assert _recalled(remembering) == 1
    clock.advance(61)  # the cache reads the item again: a new object, equal
    _signed_in(remembering, event)
    assert _recalled(remembering) == 1
    store.items[_user_key("jane")]["plan"] = "free"
    clock.advance(61)
    changed = _signed_in(remembering, event)
    assert _recalled(remembering) == 1
    access = _details(changed)["accessTokenGeneration"]
    assert access["claimsToAddOrOverride"]["plan"] == "free"


def test_sign_in_and_refresh_each_keep_their_answer() -> None:
    remembering, _, _, _ = _fresh_pair()
    sign_in = _jane()
    refresh = {**_jane(), "triggerSource": "TokenGeneration_RefreshTokens"}
    for event in (sign_in, refresh, sign_in, refresh):
        _signed_in(remembering, event)
    assert _recalled(remembering) == 2
    scopes = _details(_signed_in(remembering, refresh))["accessTokenGeneration"]["scopesToAdd"]
    assert scopes == ["x/r"]


def test_an_explained_sign_in_is_never_recalled_nor_remembered() -> None:
    remembering, _, _, _ = _fresh_pair()
    event = _jane()
    trace: list[tuple[str, str]] = []
    remembering.call(copy.deepcopy(event), trace=trace)
    remembering.call(copy.deepcopy(event), trace=trace)
    assert trace
    assert _recalled(remembering) == 0
    assert len(_memo(remembering)) == 0


def test_a_denial_and_a_missing_required_claim_are_never_remembered() -> None:
    remembering, _, store, clock = _fresh_pair()
    for _ in range(2):
        assert _signed_in(remembering, _jane(**{"custom:tier": "banned"})).denied is not None
    del store.items[_user_key("jane")]["tenant"]
    clock.advance(61)
    for _ in range(2):
        _signed_in(remembering, _jane())
    assert _recalled(remembering) == 0


def test_with_budgets_a_recalled_answer_sheds_and_counts_as_before() -> None:
    remembering, plain, store, _ = _fresh_pair(ID_TOKEN_MAX_BYTES="1200")
    store.items[_user_key("jane")]["bio"] = "b" * 600
    event = _jane()
    settled = []
    for container in (remembering, plain):
        _signed_in(container, event)
        before = len(container.lines)
        again = _signed_in(container, event)
        assert ["bio", "over_token_budget"] in again.log["dropped_claims"]
        assert again.log["over_budget"] == ["id"]
        settled.append(_settled(again, container.lines[before:]))
    assert _recalled(remembering) == 1
    assert settled[0] == settled[1]
    assert settled[0][3] == [{"Service": "cognito-pretoken", "Token": "id", "TokenBytes": 1441}]


def test_the_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    remembering, _, store, _ = _fresh_pair(CACHE_MAX_ENTRIES="2")
    for name in ("ann", "bob"):
        store.items[_user_key(name)] = {"id": f"USER#{name}-sub", "tenant": "t1"}

    def user(name: str) -> dict[str, Any]:
        event = _jane()
        event["userName"] = name
        event["request"]["userAttributes"]["sub"] = f"{name}-sub"
        return event

    memo = _memo(remembering)
    _signed_in(remembering, user("ann"))
    _signed_in(remembering, user("bob"))
    _signed_in(remembering, user("ann"))  # recalled: ann is now the most recently used
    assert _recalled(remembering) == 1
    assert len(memo) == 2
    _signed_in(remembering, user("jane"))  # forgets bob
    assert len(memo) == 2
    _signed_in(remembering, user("ann"))
    assert _recalled(remembering) == 2


def test_no_cache_no_memo_and_no_capacity_remembers_nothing() -> None:
    container = Container(make_settings(USER_KEY="USER#{sub}"), source=_Store(), mapping=_RULES)
    _MADE.append(container)
    assert container.deps.answers is None  # the cache off (no CACHE_TTL_SECONDS): no memo
    profile = Profile(primary={"id": "x"}, sources={}, cache="hit")
    decoded = msgspec.convert(_jane(), Event)
    assert AnswerMemo(0).recall(_jane(), decoded, _RULES.user, profile) == (None, None)


def test_the_key_holds_every_field_the_event_is_decoded_from() -> None:
    decoded = {field.encode_name for field in msgspec.structs.fields(Event)}
    assert decoded <= set(EVENT_FIELDS)


def test_a_machine_client_asking_again_is_recalled_and_keyed_apart() -> None:
    rules = parse_rules(
        json.dumps({
            "client": {"claims": [{"attribute": "tier", "tokens": ["access"]}]},
        }).encode(),
        source="test",
        toml=False,
    )  # fmt: skip
    store = _Store()
    store.items[json.dumps([["id", "CLIENT#7machine0client0id"]])] = {
        "id": "CLIENT#7machine0client0id",
        "tier": "gold",
    }
    made = []
    for _ in range(2):
        container = Container(
            make_settings(CACHE_TTL_SECONDS="60", ACCESS_TOKEN_MAX_BYTES="4096"),
            source=store,
            mapping=rules,
        )
        _MADE.append(container)
        made.append(container)
    remembering, plain = made
    plain.deps.answers = None
    event = load_event("v3-client-credentials.json")
    settled = []
    for container in (remembering, plain):
        for _ in range(3):
            before = len(container.lines)
            call = _signed_in(container, event)
        settled.append(_settled(call, container.lines[before:]))
    assert _recalled(remembering) == 2
    assert settled[0] == settled[1]
    access = _details(call)["accessTokenGeneration"]["claimsToAddOrOverride"]
    assert access == {"tier": "gold"}
    assert [line["Token"] for line in settled[0][3]] == ["access"]


def test_a_mapping_of_the_event_alone_recalls_a_repeated_sign_in() -> None:
    rules = parse_rules(
        (ROOT / "events" / "federated.toml").read_bytes(), source="federated.toml", toml=True
    )
    made = []
    for _ in range(2):
        container = Container(make_settings(CACHE_TTL_SECONDS="60"), source=_Store(), mapping=rules)
        _MADE.append(container)
        made.append(container)
    remembering, plain = made
    plain.deps.answers = None
    event = load_event("v2-federated.json")
    changed = copy.deepcopy(event)
    changed["request"]["userAttributes"]["custom:department"] = "Legal"
    for sent in (event, event, changed, event, changed):
        ours, theirs = _signed_in(remembering, sent), _signed_in(plain, sent)
        assert _exact(ours.response) == _exact(theirs.response)
        assert ours.log["reason"] == theirs.log["reason"]
    assert _recalled(remembering) == 1


class _Equal(bytes):
    """Bytes that say they equal anything: `marshal` writes them as it writes `bytes`."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = bytes.__hash__


def test_bytes_like_values_are_never_the_same_sign_in() -> None:
    remembering, plain, store, _ = _fresh_pair()
    store.items[_user_key("jane")]["level"] = "admin"
    fooled = _jane(**{"custom:tier": _Equal(b"gold")})  # holds `== "gold"`: gets `level`
    honest = _jane(**{"custom:tier": b"gold"})  # never equals "gold"
    got = []
    for container in (remembering, plain):
        container.call(fooled)
        got.append(_exact(container.call(honest).response))
    assert got[0] == got[1]
    assert _recalled(remembering) == 0


@pytest.mark.parametrize("budgets", [{}, {"ACCESS_TOKEN_MAX_BYTES": "2500"}], ids=["", "budget"])
def test_changing_an_answer_changes_no_later_one(budgets: dict[str, str]) -> None:
    # The claim values an answer holds are its own: not the cached item's (a list from the
    # item), not a remembered answer's (a list parsed from the event), not the mapping's.
    mapping = {
        "request": {"user_attributes": ["custom:teams"]},
        "user": {
            "claims": [
                {"attribute": "roles", "tokens": ["access"], "type": "string_list"},
                {"attribute": "limits", "tokens": ["access"]},
                {
                    "source": "event",
                    "attribute": "custom:teams",
                    "claim": "teams",
                    "tokens": ["access"],
                    "type": "string_list",
                    "parse": "csv",
                },
            ],
            "static": {"access": {"flags": ["a"]}},
        },
    }
    rules = parse_rules(json.dumps(mapping).encode(), source="test", toml=False)
    store = _Store()
    store.items[_user_key("jane")] = {
        "id": "USER#jane-sub",
        "roles": ["viewer"],
        "limits": {"regions": ["eu-west-1"]},
    }
    event = _jane(**{"custom:teams": "a,b"})
    seen = []
    for remembers in (True, False):
        container = Container(
            make_settings(CACHE_TTL_SECONDS="60", USER_KEY="USER#{sub}", **budgets),
            source=store,
            mapping=rules,
        )
        _MADE.append(container)
        if not remembers:
            container.deps.answers = None
        first = container.call(copy.deepcopy(event))
        first_claims = copy.deepcopy(_details(first)["accessTokenGeneration"])
        claims = _details(first)["accessTokenGeneration"]["claimsToAddOrOverride"]
        claims["roles"].append(7)  # not a string: the guard would drop the claim
        claims["limits"]["regions"].append("x" * 2000)  # past the budget
        claims["teams"].append("admin")
        claims["flags"].append("b")
        before = len(container.lines)
        again = container.call(copy.deepcopy(event))
        assert _details(again)["accessTokenGeneration"] == first_claims
        seen.append(_settled(again, container.lines[before:]))
    assert seen[0] == seen[1]


class _Tags(list[str]):
    """A list that is not one: only a Python caller's profile source could hold it."""


@pytest.mark.parametrize(
    ("value", "reach"),
    [
        (_Tags(["viewer"]), lambda v: v),
        (({"regions": ["eu-west-1"]},), lambda v: v[0]["regions"]),  # a list inside a tuple
        ([{"regions": ["eu-west-1"]}], lambda v: v[0]["regions"]),
    ],
    ids=["list-subclass", "tuple-of-dict", "list-of-dict"],
)
def test_any_container_in_an_answer_is_its_own(
    value: object, reach: Callable[[Any], list[object]]
) -> None:
    rules = parse_rules(
        json.dumps({"user": {"claims": [{"attribute": "roles", "tokens": ["access"]}]}}).encode(),
        source="test",
        toml=False,
    )
    store = _Store()
    store.items[_user_key("jane")] = {"id": "USER#jane-sub", "roles": value}
    container = Container(
        make_settings(CACHE_TTL_SECONDS="60", USER_KEY="USER#{sub}"), source=store, mapping=rules
    )
    _MADE.append(container)
    first = container.call(_jane())
    reach(_details(first)["accessTokenGeneration"]["claimsToAddOrOverride"]["roles"]).append(7)
    again = container.call(_jane())
    assert _exact(_details(again)["accessTokenGeneration"]["claimsToAddOrOverride"]["roles"]) == (
        _exact(_copy_plain(value))
    )


def _copy_plain(value: object) -> object:
    """`value` as an answer holds it: plain lists (a tuple is one) and dicts."""
    if isinstance(value, (list, tuple)):
        return [_copy_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _copy_plain(item) for name, item in value.items()}
    return value
