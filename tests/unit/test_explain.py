"""The mapping's trace (`shared.claims.explain`): every code, by position, never a value.

The trace observes what `apply` and `denial` decided; these tests hold each code to the claim
set it describes, `first_failing` to `holds`, the production opt-in (`EXPLAIN_CLIENTS`,
`EXPLAIN_SAMPLE`) to its log line and its bounds, and, with random secrets in items, events and
`clientMetadata`, no trace to ever hold one of them.
"""

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.claims import (
    ClaimSet,
    Denial,
    Rules,
    Trace,
    apply,
    denial,
    explain_apply,
    explain_denial,
    parse_rules,
)
from shared.claims.conditions import Context, compile_condition
from shared.claims.explain import first_failing
from shared.claims.from_event import UserCondition, UserFacts
from shared.errors import ConfigError
from shared.event import decode_event
from shared.invocation import MAX_EXPLAIN_CHARS, MAX_EXPLAIN_ENTRIES
from shared.lookup import decode_item, read_metadata
from tests.conftest import EVENTS, load_event, make_settings
from tools.container import Container
from tools.memory_store import MemoryStore, Table


def _rules(document: dict[str, Any]) -> Rules:
    return parse_rules(json.dumps(document).encode(), source="t.json", toml=False)


def _event(**request: Any) -> dict[str, Any]:
    event = load_event("v2-authentication.json")
    event["request"].update(request)
    return event


def _trace(
    rules: Rules, item: dict[str, Any], event: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[ClaimSet | Denial, dict[str, str]]:
    decoded = decode_event(event or _event())
    trace: Trace = []
    metadata = read_metadata(decoded, rules.client_metadata)
    result = apply(rules.user, decoded, item, metadata=metadata, **kwargs)
    budget = kwargs.get("budget", 65536)
    explain_apply(
        trace, rules.user, decoded, item, sources=None, metadata=metadata, budget=budget,
        result=result,
    )  # fmt: skip
    return result, dict(trace)


# ---- first_failing: the key that fails, in `holds`' order, None exactly when it holds ----------

_WHEN: dict[str, Any] = {
    "clients": ["c1"],
    "trigger_sources": ["TokenGeneration_HostedAuth"],
    "scopes_any": ["s1"],
    "groups_any": ["g1", "g2"],
    "groups_all": ["g1", "g2"],
    "groups_none": ["g3"],
    "metadata_equals": {"tenant": "t1"},
    "attribute_equals": {"status": "on", "profile.seats": 25},
}

_CONTEXTS = st.builds(
    lambda client, source, scopes, groups, tenant, status, seats: Context(
        client_id=client,
        trigger_source=source,
        scopes=frozenset(scopes),
        groups=frozenset(groups),
        group_list=tuple(groups),
        metadata={"tenant": tenant} if tenant else {},
        item={"status": status, "profile": {"seats": seats}},
    ),
    st.sampled_from(["c1", "c2", None]),
    st.sampled_from(["TokenGeneration_HostedAuth", "TokenGeneration_RefreshTokens"]),
    st.lists(st.sampled_from(["s1", "s2"]), unique=True),
    st.lists(st.sampled_from(["g1", "g2", "g3"]), unique=True),
    st.sampled_from(["t1", "t2", None]),
    st.sampled_from(["on", "off"]),
    st.sampled_from([25, Decimal("25.0"), "25", True]),
)


@given(
    context=_CONTEXTS,
    keys=st.lists(st.sampled_from(sorted(_WHEN)), min_size=1, unique=True),
)
def test_first_failing_agrees_with_holds(context: Context, keys: list[str]) -> None:
    condition = compile_condition(**{key: _WHEN[key] for key in keys})
    failing = first_failing(condition, context)
    assert (failing is None) == condition.holds(context)
    if failing is not None:
        assert failing.partition(".")[0] in keys


_OKTA = '[{"userId":"u","providerName":"Okta","providerType":"SAML","primary":"true"}]'


@pytest.mark.parametrize(
    ("user", "attributes", "expected"),
    [
        (UserCondition(attributes=(("tier", "gold"), ("dept", "x"))), {"tier": "gold"},
         "user_attribute_equals.dept"),
        (UserCondition(federated=True, providers=frozenset({"Okta"})), {}, "federated"),
        (UserCondition(federated=True, providers=frozenset({"Azure"})), {"identities": _OKTA},
         "providers_any"),
        (UserCondition(federated=False), {"identities": _OKTA}, "federated"),
        (UserCondition(providers=frozenset({"Okta"})), {"identities": _OKTA}, None),
    ],
)  # fmt: skip
def test_first_failing_names_the_event_key(
    user: UserCondition, attributes: dict[str, str], expected: str | None
) -> None:
    condition = compile_condition(clients=["c"], user=user)
    context = Context(client_id="c", user=UserFacts(attributes))
    assert first_failing(condition, context) == expected
    assert (expected is None) == condition.holds(context)


@pytest.mark.parametrize(
    ("when", "context", "expected"),
    [
        ({"clients": ["a"], "groups_any": ["g"]}, Context(client_id="b"), "clients"),
        ({"clients": ["a"], "groups_any": ["g"]}, Context(client_id="a"), "groups_any"),
        ({"metadata_equals": {"x": "1", "y": "2"}}, Context(metadata={"x": "1"}),
         "metadata_equals.y"),
        ({"attribute_equals": {"a.b": 1}}, Context(item={"a": {"b": 2}}), "attribute_equals.a.b"),
        ({"attribute_equals": {"a": 1}}, Context(), "attribute_equals.a"),
        ({"groups_none": ["g"]}, Context(groups=frozenset({"g"})), "groups_none"),
    ],
)  # fmt: skip
def test_first_failing_names_the_key(when: dict[str, Any], context: Context, expected: str) -> None:
    assert first_failing(compile_condition(**when), context) == expected


# ---- rule codes --------------------------------------------------------------------------------


def test_trace_names_each_rule_by_what_became_of_it() -> None:
    rules = _rules(
        {
            "user": {
                "claims": [
                    {"attribute": "name", "tokens": ["id"], "type": "string"},
                    {"attribute": "plan", "tokens": ["id"], "default": "free"},
                    {"attribute": "gone", "tokens": ["id"]},
                    {"attribute": "nothing", "tokens": ["id"]},
                    {"attribute": "seats", "tokens": ["access"], "type": "integer"},
                    {"attribute": "pin", "tokens": ["id"], "when": {"clients": ["console"]}},
                    {"attribute": "aud", "tokens": ["access"]},
                    {"attribute": "email_verified", "tokens": ["id"]},
                    {"attribute": "hidden", "tokens": ["id"]},
                    {"attribute": "role", "tokens": ["access"]},
                ],
                "suppress": {"id_from": "hide"},
                "grants": [
                    {"when": {"groups_any": ["readers"]}, "claims": {"access": {"role": "g"}}}
                ],
            }
        }
    )  # fmt: skip
    item = {
        "name": "N", "nothing": None, "seats": "25", "pin": "1", "aud": "forged",
        "email_verified": {"x": 1}, "hidden": "h", "hide": ["hidden"], "role": "r",
    }  # fmt: skip
    result, codes = _trace(rules, item)
    assert isinstance(result, ClaimSet)
    assert codes == {
        "user.claims[0]": "emitted",
        "user.claims[1]": "default",
        "user.claims[2]": "absent",
        "user.claims[3]": "dropped:null",
        "user.claims[4]": "dropped:wrong_type",
        "user.claims[5]": "not_held:clients",
        "user.claims[6]": "dropped:reserved",
        "user.claims[7]": "dropped:object_not_allowed",
        "user.claims[8]": "dropped:suppressed",
        "user.claims[9]": "dropped:overridden_by:user.grants[0]",
        "user.grants[0]": "held",
    }


def test_trace_names_a_missing_required_rule_and_claims_over_budget() -> None:
    rules = _rules(
        {"user": {"claims": [
            {"attribute": "big", "tokens": ["id"]},
            {"attribute": "small", "tokens": ["id"]},
            {"attribute": "must", "tokens": ["id"], "required": True},
        ]}}
    )  # fmt: skip
    result, codes = _trace(rules, {"big": "x" * 2000, "small": "y"}, budget=1024)
    assert isinstance(result, ClaimSet)
    assert result.missing_required == "must"
    assert codes == {
        "user.claims[0]": "dropped:over_budget",
        "user.claims[1]": "emitted",
        "user.claims[2]": "missing_required",
    }


def test_trace_emitted_exactly_when_the_claim_is_in_the_claim_set() -> None:
    rules = _rules(
        {"user": {"claims": [
            {"attribute": f"a{i}", "tokens": ["id", "access"][: 1 + i % 2],
             "type": ["string", "integer", "any"][i % 3]}
            for i in range(9)
        ], "suppress": {"access_from": "hide"}}}
    )  # fmt: skip
    values = st.one_of(st.none(), st.text(max_size=3), st.integers(), st.booleans())

    @given(st.dictionaries(st.sampled_from([f"a{i}" for i in range(9)]), values),
           st.lists(st.sampled_from([f"a{i}" for i in range(9)])))  # fmt: skip
    def check(item: dict[str, Any], hide: list[str]) -> None:
        result, codes = _trace(rules, {**item, "hide": hide})
        assert isinstance(result, ClaimSet)
        for rule in rules.user.rules:
            placed = {"id": result.id_claims, "access": result.access_claims}
            hidden = {"id": result.id_suppress, "access": result.access_suppress}
            emitted = all(
                rule.claim in placed[token] and rule.claim not in hidden[token]
                for token in rule.tokens
            )
            assert (codes[rule.where] in ("emitted", "default")) == emitted, codes

    check()


# ---- grants, effects and denials ---------------------------------------------------------------


def test_trace_names_each_grant_and_what_it_cancelled() -> None:
    rules = _rules(
        {"user": {
            "scopes": {"add": ["base"]},
            "grants": [
                {"when": {"groups_any": ["readers"]}, "scopes_add": ["w"], "groups_add": ["pub"]},
                {"when": {"clients": ["nobody"]}, "scopes_add": ["x"]},
                {"when": {"groups_any": ["editors"]}, "scopes_suppress": ["w", "base", "openid"],
                 "groups_remove": ["pub", "readers"]},
            ],
        }}
    )  # fmt: skip
    result, codes = _trace(rules, {}, _event(scopes=["openid"]))
    assert isinstance(result, ClaimSet)
    assert "w" not in result.scopes_add
    assert codes == {
        "user.grants[0]": "held",
        "user.grants[0].scopes_add[0]": "suppressed_by:user.grants[2]",
        "user.grants[0].groups_add[0]": "removed_by:user.grants[2]",
        "user.grants[1]": "not_held:clients",
        "user.grants[2]": "held",
        "user.grants[2].scopes_suppress[0]": "suppressed",
        "user.grants[2].scopes_suppress[1]": "suppressed",
        "user.grants[2].scopes_suppress[2]": "suppressed",
        "user.grants[2].groups_remove[0]": "removed",
        "user.grants[2].groups_remove[1]": "removed",
        "user.scopes.add[0]": "suppressed_by:user.grants[2]",
    }


def test_trace_names_the_denying_grant() -> None:
    rules = _rules(
        {"user": {"grants": [
            {"when": {"groups_any": ["readers"]}, "scopes_add": ["w"]},
            {"when": {"attribute_equals": {"status": "off"}}, "deny": True},
            {"when": {"groups_any": ["editors"]}, "deny": True},
        ]}}
    )  # fmt: skip
    result, codes = _trace(rules, {"status": "off"})
    assert result == Denial("user.grants[1]")
    assert codes == {
        "user.grants[0]": "held",
        "user.grants[1]": "denied",
        "user.grants[2]": "held",
    }


def test_denial_trace_evaluates_deny_grants_only_and_replaces_earlier_words() -> None:
    rules = _rules(
        {"user": {"grants": [
            {"when": {"groups_any": ["readers"]}, "scopes_add": ["w"]},
            {"when": {"clients": ["1example23456789"]}, "deny": True},
        ]}}
    )  # fmt: skip
    trace: Trace = [("user.claims[0]", "missing_required"), ("user.grants[0]", "held"),
                    ("user.grants[0].scopes_add[0]", "suppressed_by:user.grants[9]")]  # fmt: skip
    event = decode_event(_event())
    found = denial(rules.user, event)
    explain_denial(trace, rules.user, event, None, metadata=({}, 0), found=found)
    assert found == Denial("user.grants[1]")
    assert trace == [
        ("user.claims[0]", "missing_required"),
        ("user.grants[0]", "not_applied"),
        ("user.grants[1]", "denied"),
    ]


# ---- production opt-in: EXPLAIN_CLIENTS, EXPLAIN_SAMPLE ---------------------------------------


@pytest.mark.parametrize(
    ("env", "problem"),
    [({"EXPLAIN_SAMPLE": "1.5"}, "EXPLAIN_SAMPLE"), ({"EXPLAIN_SAMPLE": "-0.1"}, "EXPLAIN_SAMPLE"),
     ({"EXPLAIN_SAMPLE": "nan"}, "EXPLAIN_SAMPLE"), ({"EXPLAIN_SAMPLE": "often"}, "in 0..1")],
)  # fmt: skip
def test_settings_refuse_a_sample_rate_outside_zero_to_one(
    env: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        make_settings(**env)


def test_settings_read_explain_clients_as_a_list() -> None:
    settings = make_settings(EXPLAIN_CLIENTS=" a , b,,", EXPLAIN_SAMPLE="0.25")
    assert settings.explain_clients == frozenset({"a", "b"})
    assert settings.explain_sample == 0.25
    assert make_settings().explain_clients == frozenset()


def _policy_container(**env: str) -> Container:
    items = json.loads((EVENTS / "profiles.json").read_text())
    store = MemoryStore(
        {"profiles": [decode_item(i) for i in items]}, {"profiles": Table(key="id")}
    )
    settings = make_settings(CLAIMS_CONFIG=str(EVENTS / "policy.example.toml"), **env)
    return Container(settings, source=store)


def test_explain_clients_put_the_trace_in_the_log_line_of_those_clients_only() -> None:
    with _policy_container(EXPLAIN_CLIENTS="1example23456789") as container:
        explained = container.call(load_event("policy-admin.json")).log
        other = container.call(load_event("policy-support-console.json")).log
    assert "user.grants[1]=held" in explained["explain"]
    assert "user.grants[0]=not_held:attribute_equals.status" in explained["explain"]
    assert "explain" not in other


def test_explain_sample_draws_from_the_injected_random_source() -> None:
    with _policy_container(EXPLAIN_SAMPLE="0.5") as container:
        container.deps.explain_random = iter([0.7, 0.2, 0.5, 0.49]).__next__
        logs = [container.call(load_event("policy-admin.json")).log for _ in range(4)]
    assert ["explain" in log for log in logs] == [False, True, False, True]


def test_explain_is_off_by_default_and_draws_nothing() -> None:
    with _policy_container() as container:
        container.deps.explain_random = lambda: pytest.fail("drew a number while off")
        log = container.call(load_event("policy-admin.json")).log
    assert "explain" not in log


def test_explain_in_the_log_line_is_bounded() -> None:
    rules = {"user": {"claims": [
        {"attribute": "a", "claim": f"c{i}", "tokens": ["id"],
         "when": {"attribute_equals": {"x" * 300: 1}}}
        for i in range(MAX_EXPLAIN_ENTRIES + 10)
    ]}}  # fmt: skip
    with Container(
        make_settings(EXPLAIN_SAMPLE="1"),
        source=MemoryStore({"profiles": [{"id": "USER#jane.doe"}]}, {"profiles": Table(key="id")}),
        mapping=_rules(rules),
    ) as container:
        log = container.call(load_event("v2-authentication.json")).log
    assert len(log["explain"]) == MAX_EXPLAIN_ENTRIES
    assert all(len(entry) <= MAX_EXPLAIN_CHARS for entry in log["explain"])
    assert log["explain_total"] == MAX_EXPLAIN_ENTRIES + 10


def test_a_tool_given_trace_gets_all_of_it_whatever_the_settings() -> None:
    trace: Trace = []
    with _policy_container() as container:
        call = container.call(load_event("policy-suspended.json"), trace=trace)
    assert call.log["explain"][3] == "user.grants[0]=denied"
    assert ("user.grants[0]", "denied") in trace


# ---- never a value ----------------------------------------------------------------------------

_SECRET = st.text(alphabet="QZXJKVW0123456789", min_size=6, max_size=12).map(lambda s: "S3CR3T" + s)
_POLICY = EVENTS / "policy.example.toml"


@given(
    secrets=st.lists(_SECRET, min_size=8, max_size=8, unique=True),
    machine=st.booleans(),
    seats=st.one_of(st.integers(), st.sampled_from([25]), _SECRET),
    groups=st.lists(st.one_of(_SECRET, st.sampled_from(["admins", "staff"])), max_size=4),
)  # fmt: skip
def test_no_trace_ever_holds_a_value_from_the_item_the_event_or_metadata(
    secrets: list[str], machine: bool, seats: Any, groups: list[str]
) -> None:
    name, pin, status, tenant, theme, scope, attribute, other = secrets
    event = load_event("policy-client-credentials.json" if machine else "policy-admin.json")
    event["userName"] = name
    event["request"]["clientMetadata"] = {"tenant": tenant, "theme": theme}
    event["request"]["scopes"] = [scope, "internal/api", "orders/read"]
    event["request"]["userAttributes"]["sub"] = other
    if not machine:
        event["request"]["groupConfiguration"]["groupsToOverride"] = groups
    key = f"CLIENT#{event['callerContext']['clientId']}" if machine else f"USER#{name}"
    item = {
        "id": key, "first_name": name, "last_name": other, "support_pin": pin,
        "status": status, "groups": [*groups, tenant], "profile": {"seats": seats},
        "tenants": {tenant: "member", "globex": status}, attribute: other, "beta": True,
        "interesting_value": {"tenant": tenant}, "retired": status,
    }  # fmt: skip
    store = MemoryStore({"profiles": [item]}, {"profiles": Table(key="id")})
    trace: Trace = []
    settings = make_settings(CLAIMS_CONFIG=str(_POLICY), EXPLAIN_SAMPLE="1")
    with Container(settings, source=store) as container:
        call = container.call(event, trace=trace)
    written = json.dumps([trace, call.log.get("explain")])
    assert trace
    for secret in secrets:
        assert secret not in written
