"""Claims from the event itself: the strict parsers, the identity, the loader's trust checks, and
what `claims.apply` makes of user attributes, the federated identity and groups from an attribute.

The parsers are table-driven: every row is an input and what it must read as; a malformed input
reads as None (never an exception), and a group outside `allow` / `allow_prefix` never appears.
"""

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from shared.claims import ClaimSet, Rules, apply, denial, load_rules, parse_rules
from shared.claims import from_event as from_event_module
from shared.claims.from_event import (
    AttributeGroups,
    Identity,
    UserFacts,
    parse_boolean,
    parse_identity,
    parse_list,
    parse_number,
)
from shared.claims.guard import ListParse
from shared.errors import ConfigError, EventError
from shared.event import Event, decode_event
from shared.response import build_response
from tests.conftest import EVENTS, load_event

FEDERATED = load_event("v2-federated.json")
TRUST = ["email", "custom:department", "custom:tier", "custom:idp_groups", "identities"]


def _rules(document: dict[str, Any], *, trust: list[str] | None = None) -> Rules:
    document = {"request": {"user_attributes": TRUST if trust is None else trust}, **document}
    return parse_rules(json.dumps(document).encode(), source="test.json", toml=False)


def _refused(document: dict[str, Any], *, trust: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _rules(document, trust=trust)
    return str(caught.value)


def _event(attributes: dict[str, Any] | None = None, groups: list[str] | None = None) -> Event:
    raw = json.loads(json.dumps(FEDERATED))
    if attributes is not None:
        raw["request"]["userAttributes"] = attributes
    if groups is not None:
        raw["request"]["groupConfiguration"]["groupsToOverride"] = groups
    return decode_event(raw)


def _claims(rules: Rules, event: Event | None = None, **kwargs: Any) -> ClaimSet:
    result = apply(rules.user, event or _event(), {}, **kwargs)
    assert isinstance(result, ClaimSet)
    return result


# --- the parsers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("-0", 0),
        ("007", 7),
        ("4.5", Decimal("4.5")),
        ("-0.25", Decimal("-0.25")),
        ("4.0", 4),
        ("4.50", Decimal("4.50")),
        ("9" * 38, int("9" * 38)),
        ("0." + "1" * 37, Decimal("0." + "1" * 37)),
        ("9" * 39, None),  # more digits than DynamoDB holds
        ("1" * 5000, None),  # past Python's int() digit limit: refused, never raised
        ("", None),
        (" 42", None),
        ("42 ", None),
        ("+42", None),
        ("4.", None),
        (".5", None),
        ("1e3", None),
        ("1E3", None),
        ("NaN", None),
        ("Infinity", None),
        ("-", None),
        ("--1", None),
        ("1_000", None),
        ("١٢", None),  # Arabic-Indic digits: Python's int() reads them, Cognito never sends them
        ("4,5", None),
        ("0x10", None),
        ("true", None),
    ],
)
def test_parse_number_reads_decimal_text_only(text: str, expected: object) -> None:
    parsed = parse_number(text)
    assert parsed == expected
    assert type(parsed) is type(expected)  # never a float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("false", False),
        ("True", None),
        ("FALSE", None),
        ("1", None),
        ("0", None),
        ("yes", None),
        (" true", None),
        ("", None),
    ],
)
def test_parse_boolean_reads_true_and_false_only(text: str, expected: bool | None) -> None:
    assert parse_boolean(text) is expected


@pytest.mark.parametrize(
    ("text", "how", "expected"),
    [
        ('["Developers","Everyone"]', "json_list", ["Developers", "Everyone"]),
        ("[]", "json_list", []),
        (' [ "a" ] ', "json_list", ["a"]),
        ('["a", 1]', "json_list", None),
        ('["a", null]', "json_list", None),
        ('{"a": 1}', "json_list", None),
        ('"a"', "json_list", None),
        ("[a, b]", "json_list", None),
        ("", "json_list", None),
        ('["a"', "json_list", None),
        ("[" * 100_000, "json_list", None),
        ('[["a"]]', "json_list", None),
        ("\x00", "json_list", None),
        ("Developers, Everyone", "csv", ["Developers", "Everyone"]),
        ("a,,b, ,c", "csv", ["a", "b", "c"]),
        ("  a  ", "csv", ["a"]),
        ("", "csv", []),
        (",", "csv", []),
        ('"a, b"', "csv", ['"a', 'b"']),  # no quoting: an item cannot hold a comma
        ("[a, b]", "csv", ["[a", "b]"]),
        (
            "[Domain Admins, Developers, Everyone]",
            "bracket_list",
            ["Domain Admins", "Developers", "Everyone"],
        ),
        ("[]", "bracket_list", []),
        ("[ ]", "bracket_list", []),
        ("[a]", "bracket_list", ["a"]),
        ("[a,,b]", "bracket_list", ["a", "b"]),
        ("[[a]]", "bracket_list", ["[a]"]),
        ("a, b", "bracket_list", None),  # no brackets
        ("[a, b", "bracket_list", None),
        ("a, b]", "bracket_list", None),
        (" [a]", "bracket_list", None),  # text outside the brackets
        ("[a] x", "bracket_list", None),
        ("[", "bracket_list", None),
        ("]", "bracket_list", None),
        ("", "bracket_list", None),
    ],
)
def test_parse_list_table(text: str, how: ListParse, expected: list[str] | None) -> None:
    assert parse_list(text, how) == expected


# --- the identity -------------------------------------------------------------------------------

_OKTA = {
    "userId": "abc123",
    "providerName": "Okta",
    "providerType": "SAML",
    "issuer": "http://www.okta.com/exk4f2a9bEXAMPLE",
}


def _identities(*entries: dict[str, Any]) -> str:
    return json.dumps(list(entries))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 2020-2022 captures: a boolean `primary`, a numeric `dateCreated`.
        (
            _identities({**_OKTA, "primary": True, "dateCreated": 1642699117273}),
            Identity(
                provider_name="Okta",
                provider_type="SAML",
                user_id="abc123",
                primary=True,
                issuer="http://www.okta.com/exk4f2a9bEXAMPLE",
            ),
        ),
        # 2024-2025 captures: both as strings.
        (
            _identities({**_OKTA, "primary": "true", "dateCreated": "1767225600000"}),
            Identity(
                provider_name="Okta",
                provider_type="SAML",
                user_id="abc123",
                primary=True,
                issuer="http://www.okta.com/exk4f2a9bEXAMPLE",
            ),
        ),
        # No primary: the first; a later primary one wins over the first.
        (
            _identities(
                {"providerName": "Google", "primary": "false", "userId": "g1", "issuer": None},
                {"providerName": "Okta", "userId": "o1"},
            ),
            Identity(provider_name="Google", user_id="g1", primary=False),
        ),
        (
            _identities(
                {"providerName": "Google", "primary": False, "userId": "g1"},
                {"providerName": "Okta", "primary": True, "userId": "o1"},
            ),
            Identity(provider_name="Okta", user_id="o1", primary=True),
        ),
        # A huge or odd `dateCreated`, unknown fields: not read, so never a problem.
        (
            _identities({**_OKTA, "dateCreated": 10**40, "extra": {"x": [1, 2]}}),
            Identity(
                provider_name="Okta",
                provider_type="SAML",
                user_id="abc123",
                issuer="http://www.okta.com/exk4f2a9bEXAMPLE",
            ),
        ),
        # Malformed: no identity, never an error.
        (None, None),
        ("", None),
        ("[]", None),
        ("not json", None),
        ('{"providerName": "Okta"}', None),
        (_identities({"userId": "x"}), None),  # no providerName
        (_identities({"providerName": 7}), None),
        (_identities({"providerName": "Okta", "primary": 1.5}), None),
        (_identities({"providerName": "Okta"}, "x"), None),  # type: ignore[arg-type]
        ('[{"providerName": "Okta", "x": ' + "[" * 5000 + "]" * 5000 + "}]", None),
        ("[" * 100_000, None),
        (42, None),
        (["not", "a string"], None),
    ],
)
def test_parse_identity_table(value: object, expected: Identity | None) -> None:
    assert parse_identity(value) == expected


def test_user_facts_parse_the_identity_once_and_only_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    real = from_event_module.parse_identity

    def counting(value: object) -> Identity | None:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(from_event_module, "parse_identity", counting)
    rules = _rules(
        {
            "user": {
                "claims": [
                    {"source": "identity", "attribute": "provider_name", "claim": "idp",
                     "tokens": ["id"], "when": {"federated": True}},
                    {"source": "identity", "attribute": "user_id", "claim": "idp_user",
                     "tokens": ["id"], "when": {"providers_any": ["Okta"]}},
                    {"source": "event", "attribute": "email", "claim": "mail", "tokens": ["id"]},
                ],
                "grants": [{"when": {"providers_any": ["Okta"]}, "scopes_add": ["okta/read"]}],
            }
        }
    )  # fmt: skip
    claims = _claims(rules)
    assert claims.id_claims == {"idp": "Okta", "idp_user": "abc123", "mail": "jane.doe@example.com"}
    assert claims.scopes_add == ("okta/read",)
    assert len(calls) == 1  # two rules, two conditions, one grant: one parse
    calls.clear()
    no_identity = _rules(
        {"user": {"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}]}}
    )
    assert _claims(no_identity).id_claims == {"email": "jane.doe@example.com"}
    assert calls == []  # nothing reads `identities`: it is never parsed
    facts = UserFacts({"identities": _identities({"providerName": "Okta"})})
    assert facts.identity is facts.identity
    assert len(calls) == 1


# --- the loader ---------------------------------------------------------------------------------


def test_federated_example_loads_and_reads_no_item() -> None:
    rules = load_rules(str(EVENTS / "federated.toml"))
    assert rules.user_attributes == (
        "email",
        "custom:department",
        "custom:cost_center",
        "custom:contractor",
        "custom:idp_groups",
        "custom:tier",
        "identities",
    )
    assert rules.reads_items is False
    assert rules.user.reads_items is False
    assert rules.client.reads_items is False  # the mapping reads no item anywhere
    assert rules.user.event_groups == AttributeGroups(
        attribute="custom:idp_groups",
        parse="bracket_list",
        allow=frozenset({"Domain Admins", "Developers"}),
        allow_prefix="app-",
        rename={"Domain Admins": "admins", "Developers": "developers"},
        mode="add",
    )


_CLAIM = {"source": "event", "attribute": "custom:tier", "claim": "tier", "tokens": ["id"]}


@pytest.mark.parametrize(
    ("document", "trust", "expected"),
    [
        # Trust: every attribute read is listed, the rule named.
        ({"user": {"claims": [_CLAIM]}}, ["email"],
         "user.claims[0] (`custom:tier`): reads `custom:tier`, which is not listed in "
         "`[request] user_attributes`"),
        ({"user": {"claims": [{"source": "identity", "attribute": "provider_name",
                               "tokens": ["id"], "claim": "idp"}]}}, ["email"],
         "user.claims[0] (`provider_name`): reads `identities`, which is not listed"),
        ({"user": {"claims": [{"attribute": "plan", "tokens": ["id"],
                               "when": {"user_attribute_equals": {"custom:tier": "gold"}}}]}},
         ["email"],
         "user.claims[0].when.user_attribute_equals: reads `custom:tier`, which is not listed"),
        ({"user": {"grants": [{"when": {"providers_any": ["Okta"]}, "scopes_add": ["a"]}]}},
         ["email"], "user.grants[0].when.providers_any: reads `identities`, which is not listed"),
        ({"user": {"grants": [{"when": {"federated": False}, "deny": True}]}}, ["email"],
         "user.grants[0].when.federated: reads `identities`, which is not listed"),
        ({"user": {"groups": {"from_attribute": "custom:groups", "parse": "csv",
                              "allow": ["a"]}}}, ["email"],
         "user.groups.from_attribute: reads `custom:groups`, which is not listed"),
        # The group rule.
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv",
                              "allow": ["a"], "groups_from": "groups"}}}, None,
         "`groups_from` (an item attribute) and `from_attribute` (a user attribute) both "
         "override the groups"),
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv"}}}, None,
         "`from_attribute` needs `allow`, `allow_prefix` or both"),
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "allow": ["a"]}}}, None,
         "`from_attribute` needs `parse`"),
        ({"user": {"groups": {"allow": ["a"], "mode": "replace"}}}, None,
         "user.groups: `allow`, `mode` need `from_attribute`"),
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv",
                              "allow": ["a"], "allow_prefix": "app-",
                              "rename": {"b": "admins"}}}}, None,
         "`rename` names `b`, which `allow` / `allow_prefix` never admit"),
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv",
                              "allow_prefix": ""}}}, None,
         "`allow_prefix` holds a blank or padded name"),
        ({"user": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv",
                              "allow": ["a "]}}}, None, "`allow` holds a blank or padded name"),
        ({"client": {"groups": {"from_attribute": "custom:idp_groups", "parse": "csv",
                                "allow": ["a"]}}}, None,
         "client.groups: machine clients have no groups"),
        # Types and parsers.
        ({"user": {"claims": [{**_CLAIM, "type": "string_list"}]}}, None,
         "a `string_list` from a user attribute needs `parse`"),
        ({"user": {"claims": [{**_CLAIM, "type": "json"}]}}, None,
         "user attributes are strings: `type` must be one of"),
        ({"user": {"claims": [{**_CLAIM, "parse": "csv"}]}}, None,
         '`parse` reads a user attribute into a list: only with `source = "event"` and '
         '`type = "string_list"`'),
        ({"user": {"claims": [{"attribute": "groups", "type": "string_list", "parse": "csv",
                               "tokens": ["id"]}]}}, None,
         '`parse` reads a user attribute: only with source = "event"'),
        ({"user": {"claims": [{**_CLAIM, "type": "number", "default": "x"}]}}, None,
         "`default` is not of type `number`"),
        ({"user": {"claims": [{"source": "identity", "attribute": "dateCreated",
                               "tokens": ["id"], "claim": "c"}]}}, None,
         '`source = "identity"` reads `provider_name`, `provider_type`, `user_id`, `primary`, '
         "`issuer`, not `dateCreated`"),
        ({"user": {"claims": [{"source": "identity", "attribute": "primary", "type": "string",
                               "tokens": ["id"], "claim": "c"}]}}, None,
         "the identity's `primary` is a boolean: `type` must be `boolean`"),
        ({"user": {"claims": [{**_CLAIM, "attribute": " custom:tier"}]}}, [" custom:tier"],
         "attribute names must be non-empty"),
        # The guard, as for item rules.
        ({"user": {"claims": [{**_CLAIM, "claim": "cognito:groups"}]}}, None,
         "`cognito:` claims change only through the group override"),
        ({"user": {"claims": [{**_CLAIM, "attribute": "sub", "claim": None}]}}, ["sub"],
         "`sub` is reserved by Cognito"),
        # Machine clients have no user attributes; the event's source names are its own.
        ({"client": {"claims": [{**_CLAIM, "tokens": ["access"]}]}}, None,
         "client.claims[0] (`custom:tier`): machine clients have no user attributes"),
        ({"client": {"grants": [{"when": {"federated": True}, "scopes_add": ["a"]}]}}, None,
         "client.grants[0].when: `federated`: machine clients have no user attributes"),
        ({"user": {"related": [{"name": "event", "key": {"pk": "T#{item.t}"}}],
                   "claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}]}},
         None, "user.related[0]: the source name `event` is the event's"),
        ({"user": {"grants": [{"when": {"user_attribute_equals": {}}, "scopes_add": ["a"]}]}},
         None, "`user_attribute_equals` must not be empty"),
        ({"user": {"grants": [{"when": {"providers_any": []}, "scopes_add": ["a"]}]}}, None,
         "`providers_any` must not be empty"),
    ],
)  # fmt: skip
def test_loader_refuses_naming_the_rule(
    document: dict[str, Any], trust: list[str] | None, expected: str
) -> None:
    assert expected in _refused(document, trust=trust)


def test_loader_refuses_a_number_or_boolean_in_user_attribute_equals() -> None:
    for value in (7, True):
        document = {"user": {"grants": [
            {"when": {"user_attribute_equals": {"custom:tier": value}}, "scopes_add": ["a"]}
        ]}}  # fmt: skip
        assert "Expected `str`" in _refused(document)


def test_loader_checks_the_trust_list_itself() -> None:
    assert "request.user_attributes: attribute names must be non-empty" in _refused(
        {}, trust=["email", ""]
    )
    rules = _rules({}, trust=["email", "email", "custom:tier"])
    assert rules.user_attributes == ("email", "custom:tier")
    assert parse_rules(b"{}", source="x.json", toml=False).user_attributes == ()


@pytest.mark.parametrize(
    ("user", "client", "reads"),
    [
        # Event-only mapping: nothing reads, the empty [client] section included.
        ({"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}]}, {},
         (False, False)),
        ({"grants": [{"when": {"federated": False}, "deny": True}]}, {}, (False, False)),
        ({"static": {"id": {"app": "x"}},
          "groups": {"from_attribute": "custom:idp_groups", "parse": "csv", "allow": ["a"]}},
         {"static": {"access": {"m2m": True}}}, (False, False)),
        # A section mixing both reads as today.
        ({"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]},
                     {"attribute": "plan", "tokens": ["id"]}]}, {}, (True, True)),
        ({"claims": [{"source": "event", "attribute": "email", "tokens": ["id"],
                      "when": {"attribute_equals": {"status": "active"}}}]}, {}, (True, True)),
        ({"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}],
          "suppress": {"id_from": "hide"}}, {}, (True, True)),
        # One section of the event alone, the other of items: only the latter reads.
        ({"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}]},
         {"claims": [{"attribute": "quota", "tokens": ["access"]}]}, (False, True)),
        # No event source at all: every section reads, as before (its item's existence decides
        # ON_MISSING), static claims and empty sections included.
        ({"static": {"id": {"app": "x"}}}, {}, (True, True)),
        ({}, {}, (True, True)),
        ({"grants": [{"when": {"clients": ["c"]}, "deny": True}]}, {}, (True, True)),
    ],
)  # fmt: skip
def test_loader_decides_which_principals_read_items(
    user: dict[str, Any], client: dict[str, Any], reads: tuple[bool, bool]
) -> None:
    rules = _rules({"user": user, "client": client})
    assert (rules.user.reads_items, rules.client.reads_items) == reads
    assert rules.reads_items is any(reads)


# --- applying rules -----------------------------------------------------------------------------


def _rule(**fields: Any) -> dict[str, Any]:
    rule = {"source": "event", "attribute": "custom:x", "claim": "x", "tokens": ["access"]}
    return {**rule, **fields}


@pytest.mark.parametrize(
    ("rule", "value", "claim", "dropped"),
    [
        (_rule(), "Engineering", "Engineering", ()),
        (_rule(type="string"), "", "", ()),
        (_rule(type="number"), "4711", 4711, ()),
        (_rule(type="number"), "-4.25", Decimal("-4.25"), ()),
        (_rule(type="number"), "4711 ", None, (("x", "wrong_type"),)),
        (_rule(type="number"), "1e3", None, (("x", "wrong_type"),)),
        (_rule(type="integer"), "12", 12, ()),
        (_rule(type="integer"), "1.5", None, (("x", "wrong_type"),)),
        (_rule(type="boolean"), "true", True, ()),
        (_rule(type="boolean"), "false", False, ()),
        (_rule(type="boolean"), "True", None, (("x", "wrong_type"),)),
        (_rule(type="string_list", parse="csv"), "a, b", ["a", "b"], ()),
        (_rule(type="string_list", parse="json_list"), '["a"]', ["a"], ()),
        (_rule(type="string_list", parse="json_list"), "[a]", None, (("x", "wrong_type"),)),
        (_rule(type="string_list", parse="bracket_list"), "[a, b]", ["a", "b"], ()),
        (_rule(type="string_list", parse="bracket_list"), "a, b", None, (("x", "wrong_type"),)),
        # Not a string (a hostile event): never sent, whatever the type asks for.
        (_rule(), 7, None, (("x", "wrong_type"),)),
        (_rule(type="number"), 7, None, (("x", "wrong_type"),)),
        (_rule(type="boolean"), True, None, (("x", "wrong_type"),)),
        (_rule(type="string_list", parse="csv"), ["a"], None, (("x", "wrong_type"),)),
        (_rule(), {"a": "b"}, None, (("x", "wrong_type"),)),
        (_rule(), None, None, (("x", "null"),)),
        # Absent: no claim; a default stands in; `required` is ON_MISSING's.
        (_rule(), "<absent>", None, ()),
        (_rule(default="none"), "<absent>", "none", ()),
        (_rule(type="number", default=0), None, 0, ()),
    ],
)
def test_event_rule_values(rule: dict[str, Any], value: Any, claim: Any, dropped: Any) -> None:
    rules = _rules({"user": {"claims": [rule]}}, trust=["custom:x"])
    attributes = {"sub": "s"} if value == "<absent>" else {"sub": "s", "custom:x": value}
    claims = _claims(rules, _event(attributes))
    assert claims.access_claims == ({} if claim is None else {"x": claim})
    if claim is not None:
        assert type(claims.access_claims["x"]) is type(claim)
    assert claims.dropped == dropped
    assert claims.missing_required is None


def test_event_rule_required_absent_is_missing_but_wrong_type_is_dropped() -> None:
    rules = _rules({"user": {"claims": [_rule(type="boolean", required=True)]}}, trust=["custom:x"])
    assert _claims(rules, _event({"sub": "s"})).missing_required == "x"
    wrong = _claims(rules, _event({"sub": "s", "custom:x": "maybe"}))
    assert (wrong.missing_required, wrong.dropped) == (None, (("x", "wrong_type"),))


def test_event_rules_share_the_budget_and_the_guard() -> None:
    rules = _rules(
        {"user": {"claims": [_rule(), _rule(attribute="custom:y", claim="y"),
                             _rule(attribute="custom:aud", claim="aud")]}},
        trust=["custom:x", "custom:y", "custom:aud"],
    )  # fmt: skip
    event = _event({"custom:x": "x" * 3000, "custom:y": "small", "custom:aud": "forged"})
    claims = _claims(rules, event, budget=1024)
    assert claims.access_claims == {"y": "small"}
    assert set(claims.dropped) == {("x", "over_budget"), ("aud", "reserved")}
    event = _event({"custom:aud": "2example34567890"})  # the client id: accepted
    assert _claims(rules, event).access_claims == {"aud": "2example34567890"}


def test_event_claims_in_v1_are_strings() -> None:
    rules = load_rules(str(EVENTS / "federated.toml"))
    event = _event()
    claims = _claims(rules, event)
    response = build_response(event, claims, "v1", machine=False)
    assert response["claimsOverrideDetails"]["claimsToAddOrOverride"] == {
        "department": "Engineering",
        "contractor": "false",
        "idp": "Okta",
    }


def test_federated_example_on_the_federated_event() -> None:
    rules = load_rules(str(EVENTS / "federated.toml"))
    claims = _claims(rules)
    assert claims.id_claims == {"department": "Engineering", "contractor": False, "idp": "Okta"}
    assert claims.access_claims == {
        "department": "Engineering",
        "work_email": "jane.doe@example.com",
        "cost_center": 4711,
        "contractor": False,
        "idp_groups": ["Domain Admins", "Developers", "Everyone"],
        "idp": "Okta",
        "support": "priority",
    }
    assert claims.scopes_add == ("reports/read",)
    assert claims.groups is not None
    # The provider group Cognito made is kept (`mode = "add"`); "Everyone" is not allowed.
    assert claims.groups.groups == ["us-east-1_EXAMPLE_Okta", "admins", "developers"]
    assert (claims.groups.iam_roles, claims.groups.preferred_role) == (None, None)


def test_federated_example_on_a_pool_user() -> None:
    rules = load_rules(str(EVENTS / "federated.toml"))
    event = _event(
        {"sub": "s", "email": "a@example.com", "custom:idp_groups": "[Domain Admins]",
         "custom:department": "Sales", "custom:contractor": "true", "custom:tier": "gold"},
        groups=["readers", "admins"],
    )  # fmt: skip
    claims = _claims(rules, event)
    assert claims.id_claims == {"department": "Sales", "contractor": True}  # no identity
    assert "work_email" not in claims.access_claims  # federated = true does not hold
    assert "support" not in claims.access_claims
    assert claims.scopes_add == ()
    assert claims.groups is not None
    # The grant on `federated = false` removes admins, the attribute's included.
    assert claims.groups.groups == ["readers"]


@pytest.mark.parametrize(
    ("groups", "attribute", "request_groups", "expected", "dropped"),
    [
        ({"mode": "add"}, "[Domain Admins, app-x, Everyone]", ["p_Okta"],
         ["p_Okta", "admins", "app-x"], ()),
        ({}, "[Domain Admins]", ["p_Okta"], ["p_Okta", "admins"], ()),  # add by default
        ({"mode": "replace"}, "[Domain Admins, app-x, Everyone]", ["p_Okta"],
         ["admins", "app-x"], ()),
        ({"mode": "replace"}, "[Everyone]", ["p_Okta"], [], ()),  # the provider says: none
        ({"mode": "add"}, "[admins, Domain Admins, admins]", ["admins"], ["admins"], ()),
        ({"mode": "replace"}, "app-y, app-z", [], None, (("custom:idp_groups", "not_a_list"),)),
        ({"mode": "replace"}, None, ["p_Okta"], None, (("custom:idp_groups", "null"),)),
        ({"mode": "replace"}, 7, ["p_Okta"], None, (("custom:idp_groups", "wrong_type"),)),
        ({"mode": "replace"}, "<absent>", ["p_Okta"], None, ()),
    ],
)  # fmt: skip
def test_groups_from_an_attribute(
    groups: dict[str, Any],
    attribute: Any,
    request_groups: list[str],
    expected: list[str] | None,
    dropped: Any,
) -> None:
    rule = {"from_attribute": "custom:idp_groups", "parse": "bracket_list",
            "allow": ["Domain Admins"], "allow_prefix": "app-",
            "rename": {"Domain Admins": "admins"}, **groups}  # fmt: skip
    rules = _rules({"user": {"groups": rule}})
    attributes = {} if attribute == "<absent>" else {"custom:idp_groups": attribute}
    claims = _claims(rules, _event(attributes, groups=request_groups))
    if expected is None:
        assert claims.groups is None  # the request's groups are kept
    else:
        assert claims.groups is not None
        assert claims.groups.groups == expected
    assert claims.dropped == dropped


def test_groups_from_an_attribute_keep_item_roles_and_feed_conditions() -> None:
    rules = _rules(
        {
            "user": {
                "groups": {"from_attribute": "custom:idp_groups", "parse": "json_list",
                           "allow": ["ops"], "mode": "replace", "iam_roles_from": "roles"},
                "grants": [{"when": {"groups_any": ["ops"]}, "scopes_add": ["ops/write"]}],
            }
        }
    )  # fmt: skip
    assert rules.user.reads_items  # `iam_roles_from` reads the item
    event = _event({"custom:idp_groups": '["ops", "root"]'}, groups=["p_Okta"])
    result = apply(rules.user, event, {"roles": ["arn:aws:iam::1:role/ops"]})
    assert isinstance(result, ClaimSet)
    assert result.groups is not None
    assert result.groups.groups == ["ops"]
    assert result.groups.iam_roles == ["arn:aws:iam::1:role/ops"]
    assert result.scopes_add == ("ops/write",)


def test_event_conditions_on_rules_and_grants() -> None:
    rules = _rules(
        {
            "user": {
                "claims": [
                    {"source": "event", "attribute": "custom:department", "claim": "gold_dept",
                     "tokens": ["id"], "when": {"user_attribute_equals": {"custom:tier": "gold"}}},
                ],
                "grants": [
                    {"when": {"providers_any": ["Google"]}, "scopes_add": ["google"]},
                    {"when": {"providers_any": ["Okta", "Google"], "federated": True},
                     "scopes_add": ["idp"]},
                    {"when": {"federated": False}, "scopes_add": ["local"]},
                    {"when": {"user_attribute_equals": {"custom:tier": "gold", "email": "x"}},
                     "scopes_add": ["never"]},
                ],
            }
        }
    )  # fmt: skip
    claims = _claims(rules)
    assert claims.id_claims == {"gold_dept": "Engineering"}
    assert claims.scopes_add == ("idp",)
    local = _claims(rules, _event({"custom:tier": "Gold", "custom:department": "x"}))
    assert (local.id_claims, local.scopes_add) == ({}, ("local",))
    # A malformed `identities` is no identity: `federated = false` holds, `providers_any` not.
    broken = _claims(rules, _event({"identities": "[{", "custom:tier": 1}))
    assert broken.scopes_add == ("local",)


def test_deny_grant_on_an_event_condition_holds_without_an_item() -> None:
    rules = _rules(
        {"user": {"claims": [{"attribute": "plan", "tokens": ["id"]}],
                  "grants": [{"when": {"federated": False}, "deny": True}]}}
    )  # fmt: skip
    assert rules.user.reads_items
    assert denial(rules.user, _event()) is None  # an Okta user
    found = denial(rules.user, _event({"sub": "s"}))
    assert found is not None
    assert found.grant == "user.grants[0]"


def test_user_attributes_decode_whatever_their_values() -> None:
    raw = json.loads(json.dumps(FEDERATED))
    raw["request"]["userAttributes"].update({"custom:n": 1, "custom:o": {"a": [1]}, "x": None})
    event = decode_event(raw)
    assert event.sub == "c3d4e5f6-7890-abcd-ef01-EXAMPLE33333"
    assert event.user_attributes["custom:n"] == 1
    assert UserFacts.of(event).text("custom:n") is None
    assert UserFacts.of(event).text("email") == "jane.doe@example.com"
    raw["request"]["userAttributes"]["sub"] = 5  # key templates read `sub`: still refused
    with pytest.raises(EventError, match=r"userAttributes\.sub"):
        decode_event(raw)
    assert decode_event({"request": {}}).user_attributes == {}
    assert msgspec.convert({"request": {"userAttributes": None}}, Event).user_attributes == {}
