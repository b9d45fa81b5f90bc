"""Properties of claims from the event, over random mappings, attributes and hostile text.

- The parsers and the identity never raise, whatever the text.
- Groups from an attribute are only ever the request's (in `add` mode) or names `allow` /
  `allow_prefix` admit, renamed.
- Trust: a mapping reading a user attribute it does not list in `[request] user_attributes` is
  refused; one the loader accepts answers exactly the same whatever the attributes it does not
  list hold, so no such attribute ever reaches a token (claims, scopes, groups, or a decision).
"""

import copy
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.claims import Rules, parse_rules
from shared.claims.from_event import (
    AttributeGroups,
    UserFacts,
    parse_boolean,
    parse_identity,
    parse_list,
    parse_number,
)
from shared.errors import ConfigError
from tests.conftest import load_event, make_settings
from tools.container import Container

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FEDERATED = load_event("v2-federated.json")

_hostile = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="[]{},\" :\\0123456789.-eEtrufalsn", max_size=60),
    st.builds(lambda n: "[" * n, st.integers(1, 50_000)),
    st.builds(lambda n: "9" * n, st.integers(1, 10_000)),
    st.builds(json.dumps, st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=6)
        ),
        max_leaves=12,
    )),
)  # fmt: skip
_identity_entries = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "providerName": st.one_of(st.text(max_size=8), st.integers(), st.none()),
            "providerType": st.one_of(st.sampled_from(["SAML", "OIDC", "Google"]), st.none()),
            "userId": st.one_of(st.text(max_size=8), st.none(), st.integers()),
            "issuer": st.one_of(st.text(max_size=8), st.none()),
            "primary": st.one_of(st.booleans(), st.sampled_from(["true", "false", "yes", ""])),
            "dateCreated": st.one_of(st.integers(), st.text(max_size=14), st.floats()),
        },
    ),
    max_size=3,
).map(json.dumps)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(text=_hostile)
def test_parsers_never_raise(text: str) -> None:
    for how in ("json_list", "csv", "bracket_list"):
        parsed = parse_list(text, how)
        assert parsed is None or all(type(item) is str for item in parsed)
    number = parse_number(text)
    assert number is None or type(number).__name__ in ("int", "Decimal")
    assert parse_boolean(text) in (None, True, False)
    parse_identity(text)


@settings(max_examples=EXAMPLES)
@given(value=st.one_of(_identity_entries, _hostile))
def test_identity_is_an_identity_or_none(value: str) -> None:
    identity = parse_identity(value)
    if identity is not None:
        assert type(identity.provider_name) is str
        assert identity.primary in (True, False)


_group_names = st.sampled_from(["Domain Admins", "Developers", "Everyone", "app-x", "app-", "ap"])


@settings(max_examples=EXAMPLES)
@given(
    text=st.one_of(
        _hostile,
        st.lists(_group_names, max_size=5).map(lambda names: "[" + ", ".join(names) + "]"),
        st.lists(_group_names, max_size=5).map(json.dumps),
    ),
    how=st.sampled_from(["json_list", "csv", "bracket_list"]),
    allow=st.frozensets(_group_names, max_size=3),
    prefix=st.one_of(st.none(), st.sampled_from(["app-", "Dev", "x"])),
    mode=st.sampled_from(["add", "replace"]),
    request=st.lists(st.sampled_from(["p_Okta", "readers", "admins"]), max_size=3, unique=True),
)
def test_groups_never_outside_allow(
    text: str, how: Any, allow: frozenset[str], prefix: str | None, mode: Any, request: list[str]
) -> None:
    rename = {name: name.lower().replace(" ", "-") for name in allow}
    rule = AttributeGroups(
        attribute="g", parse=how, allow=allow, allow_prefix=prefix, rename=rename, mode=mode
    )
    dropped: list[tuple[str, str]] = []
    groups = rule.groups(UserFacts({"g": text}), list(request), dropped)
    if groups is None:
        assert parse_list(text, how) is None
        assert dropped == [("g", "not_a_list")]
        return
    admitted = {rename.get(name, name) for name in allow}
    for group in groups:
        from_request = mode == "add" and group in request
        by_prefix = prefix is not None and group.startswith(prefix)
        assert from_request or group in admitted or by_prefix, group
    if mode == "add":
        assert groups[: len(request)] == request  # the request's groups, the provider's kept


# --- trust --------------------------------------------------------------------------------------

POOL = ("email", "custom:a", "custom:b", "custom:tier", "custom:groups", "identities")
MARK = "UNTRUSTED"
_types = st.sampled_from(
    [("string", None), ("number", None), ("boolean", None), ("string_list", "csv"),
     ("string_list", "json_list"), ("string_list", "bracket_list")]
)  # fmt: skip


@st.composite
def _when(draw: st.DrawFn) -> dict[str, Any]:
    when: dict[str, Any] = {}
    if draw(st.booleans()):
        name = draw(st.sampled_from(POOL))
        when["user_attribute_equals"] = {name: draw(st.sampled_from(["gold", "1", "true"]))}
    if draw(st.booleans()):
        when["federated"] = draw(st.booleans())
    if draw(st.booleans()) or not when:
        when["providers_any"] = draw(st.lists(st.sampled_from(["Okta", "Google"]), min_size=1))
    return when


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    claims = []
    for i in range(draw(st.integers(0, 4))):
        kind, parse = draw(_types)
        rule: dict[str, Any] = {"claim": f"c{i}"}
        if draw(st.integers(0, 4)) == 0:
            rule["source"], rule["tokens"] = "identity", ["access"]
            rule["attribute"] = draw(st.sampled_from(["provider_name", "user_id"]))
        else:
            rule["source"], rule["type"] = "event", kind
            rule["attribute"] = draw(st.sampled_from(POOL))
            rule["tokens"] = draw(st.sampled_from([["id"], ["access"], ["id", "access"]]))
            if parse:
                rule["parse"] = parse
        if draw(st.booleans()):
            rule["when"] = draw(_when())
        claims.append(rule)
    user: dict[str, Any] = {"claims": claims}
    if draw(st.booleans()):
        user["groups"] = {
            "from_attribute": draw(st.sampled_from(POOL)),
            "parse": draw(st.sampled_from(["csv", "json_list", "bracket_list"])),
            "allow": ["admins", "ops", MARK],
            "allow_prefix": "app-",
            "mode": draw(st.sampled_from(["add", "replace"])),
        }
    user["grants"] = [
        {"when": draw(_when()), "scopes_add": [f"s{i}"], "claims": {"access": {f"g{i}": i}}}
        for i in range(draw(st.integers(0, 3)))
    ]
    trust = draw(st.lists(st.sampled_from(POOL), unique=True))
    return {"request": {"user_attributes": trust}, "user": user}


def _reads(document: dict[str, Any]) -> set[str]:
    """Every user attribute the document reads (independently of the loader)."""
    user = document["user"]
    conditions = [r["when"] for r in user["claims"] if "when" in r]
    conditions += [grant["when"] for grant in user["grants"]]
    reads = {r["attribute"] for r in user["claims"] if r["source"] == "event"}
    if any(r["source"] == "identity" for r in user["claims"]):
        reads.add("identities")
    for when in conditions:
        reads.update(when.get("user_attribute_equals", {}))
        if "federated" in when or "providers_any" in when:
            reads.add("identities")
    if "groups" in user:
        reads.add(user["groups"]["from_attribute"])
    return reads


_trusted_values = st.one_of(
    st.sampled_from(["gold", "1", "42", "true", "false", "admins, ops", "[admins, app-x]",
                     '["ops"]', FEDERATED["request"]["userAttributes"]["identities"]]),
    st.text(alphabet="abc ,[]", max_size=8),
)  # fmt: skip
_untrusted_values = st.one_of(
    st.sampled_from([
        f"{MARK}", f"[{MARK}, admins]", f'["{MARK}"]', f"app-{MARK}", "true", "7", "gold",
        json.dumps([{"providerName": MARK, "userId": MARK, "primary": True}]),
    ]),
    st.builds(lambda n: n, st.integers()),
    st.none(),
)  # fmt: skip


def _answer(rules: Rules, attributes: dict[str, Any]) -> Any:
    event = copy.deepcopy(FEDERATED)
    event["request"]["userAttributes"] = attributes
    with Container(make_settings(METRICS="false"), mapping=rules, logs="discard") as container:
        assert not container.deps.connected  # the mapping reads the event alone
        try:
            return container.invoke(event)["response"]
        except Exception as exc:  # a denial is an answer too
            return repr(exc)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    document=_documents(),
    trusted=st.dictionaries(st.sampled_from(POOL), _trusted_values),
    first=st.dictionaries(st.sampled_from(POOL), _untrusted_values),
    second=st.dictionaries(st.sampled_from(POOL), _untrusted_values),
)
def test_no_untrusted_attribute_reaches_a_token(
    document: dict[str, Any],
    trusted: dict[str, Any],
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    trust = set(document["request"]["user_attributes"])
    untrusted = _reads(document) - trust
    if untrusted:
        # Refused for reading what it does not trust, and the message names what.
        with pytest.raises(ConfigError) as refused:
            parse_rules(json.dumps(document).encode(), source="t.json", toml=False)
        assert any(f"reads `{name}`" in str(refused.value) for name in untrusted)
        return
    rules = parse_rules(json.dumps(document).encode(), source="t.json", toml=False)
    assert _reads(document) <= trust
    assert set(rules.user_attributes) == trust
    if not _reads(document):
        assert rules.reads_items  # nothing from the event: the items are read, as before
        return
    # The trusted attributes hold the same values; the others differ between the two events.
    base = {"sub": "s", **{k: v for k, v in trusted.items() if k in trust}}
    one = {**base, **{k: v for k, v in first.items() if k not in trust}, "custom:zz": MARK}
    two = {**base, **{k: v for k, v in second.items() if k not in trust}}
    answer = _answer(rules, one)
    assert answer == _answer(rules, two)
    assert MARK not in json.dumps(answer)
