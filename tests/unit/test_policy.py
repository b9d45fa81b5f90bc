"""Conditions and grants: every condition key and action, the guard, denials, load-time refusals."""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.claims import Section, denial, load_rules, parse_rules
from shared.claims.conditions import Context, build_context, compile_condition
from shared.claims.engine import apply_grants
from shared.claims.guard import RESERVED_CLAIMS, reserved_reason
from shared.claims.model import ClaimSet, Denial, Grant, GroupOverride
from shared.errors import DENIED_NO_PROFILE, ConfigError
from shared.event import decode_event
from shared.lookup.sources import ItemRead, QueryRead
from tests.conftest import EVENTS, load_event, make_settings
from tests.unit.claims_helpers import apply_mapping, event_for
from tools.container import Container

EXAMPLE = EVENTS / "policy.example.toml"


def _parse(document: dict[str, Any]) -> Any:
    return parse_rules(json.dumps(document).encode(), source="policy.json", toml=False)


def _context(**fields: Any) -> Context:
    groups = tuple(fields.pop("groups", ()))
    return Context(groups=frozenset(groups), group_list=groups, **fields)


# ---- conditions: one table row per key, holding and not holding --------------------------------

CONDITIONS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("clients in", {"clients": ["a", "b"]}, {"client_id": "b"}, True),
    ("clients out", {"clients": ["a", "b"]}, {"client_id": "c"}, False),
    ("clients none", {"clients": ["a"]}, {}, False),
    (
        "trigger in",
        {"trigger_sources": ["TokenGeneration_HostedAuth"]},
        {"trigger_source": "TokenGeneration_HostedAuth"},
        True,
    ),
    (
        "trigger out",
        {"trigger_sources": ["TokenGeneration_HostedAuth"]},
        {"trigger_source": "TokenGeneration_Authentication"},
        False,
    ),
    ("groups_any one", {"groups_any": ["x", "y"]}, {"groups": ["y", "z"]}, True),
    ("groups_any none", {"groups_any": ["x", "y"]}, {"groups": ["z"]}, False),
    ("groups_all all", {"groups_all": ["x", "y"]}, {"groups": ["y", "x", "z"]}, True),
    ("groups_all some", {"groups_all": ["x", "y"]}, {"groups": ["x"]}, False),
    ("groups_none clear", {"groups_none": ["x"]}, {"groups": ["y"]}, True),
    ("groups_none hit", {"groups_none": ["x"]}, {"groups": ["y", "x"]}, False),
    ("groups_none empty", {"groups_none": ["x"]}, {}, True),
    ("scopes_any one", {"scopes_any": ["a/b"]}, {"scopes": frozenset({"a/b", "c"})}, True),
    ("scopes_any none", {"scopes_any": ["a/b"]}, {"scopes": frozenset({"c"})}, False),
    ("attr string", {"attribute_equals": {"status": "x"}}, {"item": {"status": "x"}}, True),
    ("attr string other", {"attribute_equals": {"status": "x"}}, {"item": {"status": "y"}}, False),
    ("attr absent", {"attribute_equals": {"status": "x"}}, {"item": {}}, False),
    ("attr no item", {"attribute_equals": {"status": "x"}}, {}, False),
    ("attr dotted", {"attribute_equals": {"a.b": "x"}}, {"item": {"a": {"b": "x"}}}, True),
    ("attr dotted not map", {"attribute_equals": {"a.b": "x"}}, {"item": {"a": "x"}}, False),
    ("attr '7' is not 7", {"attribute_equals": {"n": "7"}}, {"item": {"n": 7}}, False),
    ("attr 7 is not '7'", {"attribute_equals": {"n": 7}}, {"item": {"n": "7"}}, False),
    ("attr 7 is 7", {"attribute_equals": {"n": 7}}, {"item": {"n": 7}}, True),
    ("attr 7 is 7.0", {"attribute_equals": {"n": 7}}, {"item": {"n": 7.0}}, True),
    ("attr 0.1 exact", {"attribute_equals": {"n": 0.1}}, {"item": {"n": 0.1}}, True),
    ("attr decimal", {"attribute_equals": {"n": 0.1}}, {"item": {"n": Decimal("0.1")}}, True),
    ("attr decimal int", {"attribute_equals": {"n": 7}}, {"item": {"n": Decimal("7")}}, True),
    ("attr 7.5 is not 7", {"attribute_equals": {"n": 7.5}}, {"item": {"n": 7}}, False),
    ("attr big int", {"attribute_equals": {"n": 2**70}}, {"item": {"n": 2**70 + 1}}, False),
    ("attr '0.1' is not 0.1", {"attribute_equals": {"n": 0.1}}, {"item": {"n": "0.1"}}, False),
    ("attr true is not 1", {"attribute_equals": {"n": True}}, {"item": {"n": 1}}, False),
    ("attr 1 is not true", {"attribute_equals": {"n": 1}}, {"item": {"n": True}}, False),
    ("attr true", {"attribute_equals": {"n": True}}, {"item": {"n": True}}, True),
    ("attr false is not null", {"attribute_equals": {"n": False}}, {"item": {"n": None}}, False),
    (
        "attr all must hold",
        {"attribute_equals": {"a": 1, "b": 2}},
        {"item": {"a": 1, "b": 3}},
        False,
    ),
    ("meta equal", {"metadata_equals": {"t": "acme"}}, {"metadata": {"t": "acme"}}, True),
    ("meta other", {"metadata_equals": {"t": "acme"}}, {"metadata": {"t": "globex"}}, False),
    ("meta absent", {"metadata_equals": {"t": "acme"}}, {}, False),
    (
        "keys all hold",
        {"clients": ["a"], "groups_any": ["g"], "scopes_any": ["s"]},
        {"client_id": "a", "groups": ["g"], "scopes": frozenset({"s"})},
        True,
    ),
    (
        "one key fails",
        {"clients": ["a"], "groups_any": ["g"], "scopes_any": ["s"]},
        {"client_id": "a", "groups": ["g"], "scopes": frozenset({"t"})},
        False,
    ),
]


@pytest.mark.parametrize(
    ("when", "context", "expected"),
    [row[1:] for row in CONDITIONS],
    ids=[row[0] for row in CONDITIONS],
)
def test_condition_holds_per_key(
    when: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert compile_condition(**when).holds(_context(**context)) is expected


def test_condition_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        compile_condition()


def test_condition_names_the_attributes_it_reads() -> None:
    condition = compile_condition(attribute_equals={"a.b": 1, "c": "x", "a.d": True})
    assert condition.attributes == ("a", "c")
    assert condition.reads_item
    assert not compile_condition(clients=["x"]).reads_item


# ---- the context -----------------------------------------------------------------------------


def test_context_reads_the_event() -> None:
    event = decode_event(load_event("policy-tenant-switch.json"))
    context = build_context(event, {"a": 1}, metadata_keys=("tenant",))
    assert context.client_id == "1example23456789"
    assert context.trigger_source == "TokenGeneration_RefreshTokens"
    assert context.groups == frozenset({"readers", "editors"})
    assert context.scopes == frozenset({"openid", "orders/read"})
    assert context.item == {"a": 1}
    # Only the allowlisted key is read: `theme` is neither kept nor counted.
    assert context.metadata == {"tenant": "globex"}
    assert context.metadata_ignored == 0


def test_context_groups_follow_the_mapping_override() -> None:
    event = decode_event(load_event("v2-authentication.json"))
    context = build_context(event, {}, group_override=["x"])
    assert context.groups == frozenset({"x"})
    assert context.group_list == ("x",)


@pytest.mark.parametrize(
    ("metadata", "kept", "ignored"),
    [
        ({"tenant": "acme"}, {"tenant": "acme"}, 0),
        ({"tenant": "x" * 256}, {"tenant": "x" * 256}, 0),
        ({"tenant": "x" * 257}, {}, 1),
        ({"tenant": 7}, {}, 1),
        ({"tenant": None}, {}, 1),
        ({"tenant": ["acme"]}, {}, 1),
        ({"tenant": {"id": "acme"}}, {}, 1),
        ({"other": 7}, {}, 0),
        ("not an object", {}, 1),
        ([1, 2], {}, 1),
    ],
)
def test_context_metadata_keeps_short_strings_and_counts_the_rest(
    metadata: Any, kept: dict[str, str], ignored: int
) -> None:
    raw = load_event("v2-authentication.json")
    raw["request"]["clientMetadata"] = metadata
    context = build_context(decode_event(raw), None, metadata_keys=("tenant",))
    assert context.metadata == kept
    assert context.metadata_ignored == ignored


def test_context_without_allowlist_reads_no_metadata() -> None:
    event = decode_event(load_event("policy-tenant-switch.json"))
    assert build_context(event, None).metadata == {}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({}, None),
        ({"groups": ["a", "b"]}, ["a", "b"]),
        ({"groups": []}, []),
        ({"groups": None}, None),
        ({"groups": "a"}, None),
        ({"groups": ["a", 1]}, None),
    ],
)
def test_override_groups_matches_apply_mapping(item: dict[str, Any], expected: Any) -> None:
    section = _parse({"user": {"groups": {"groups_from": "groups"}}}).user
    applied = apply_mapping(section, item).groups
    assert (applied.groups if applied else None) == expected


# ---- grants: one row per action --------------------------------------------------------------

BASE = ClaimSet(
    id_claims={"first_name": "Jane"},
    access_claims={"plan": "gold"},
    scopes_add=("orders/read",),
    scopes_suppress=("aws.cognito.signin.user.admin",),
)
ADMINS = compile_condition(groups_any=["admins"])
HOLDS = _context(groups=["admins", "readers"], client_id="app")


def _grant(**actions: Any) -> Grant:
    return Grant(where="user.grants[0]", when=ADMINS, **actions)


def test_grant_scopes_add() -> None:
    result = apply_grants((_grant(scopes_add=("orders/write",)),), BASE, HOLDS)
    assert isinstance(result, ClaimSet)
    assert result.scopes_add == ("orders/read", "orders/write")


def test_grant_scopes_suppress_wins_over_any_addition() -> None:
    grants = (
        _grant(scopes_add=("orders/write",)),
        _grant(scopes_suppress=("orders/write", "orders/read")),
    )
    result = apply_grants(grants, BASE, HOLDS)
    assert isinstance(result, ClaimSet)
    assert result.scopes_add == ()
    assert result.scopes_suppress == (
        "aws.cognito.signin.user.admin",
        "orders/write",
        "orders/read",
    )


def test_grant_claims_per_token_later_grant_wins() -> None:
    grants = (
        _grant(id_claims=(("role", "a"),), access_claims=(("plan", "admin"),)),
        _grant(id_claims=(("role", "b"),)),
    )
    result = apply_grants(grants, BASE, HOLDS)
    assert isinstance(result, ClaimSet)
    assert result.id_claims == {"first_name": "Jane", "role": "b"}
    assert result.access_claims == {"plan": "admin"}
    assert BASE.id_claims == {"first_name": "Jane"}  # the input is not mutated


def test_grant_claims_run_time_guard_drops_a_foreign_aud() -> None:
    grants = (_grant(access_claims=(("aud", "someone-else"),)),)
    result = apply_grants(grants, BASE, HOLDS)
    assert isinstance(result, ClaimSet)
    assert "aud" not in result.access_claims
    assert ("aud", "reserved") in result.dropped
    ok = apply_grants((_grant(access_claims=(("aud", "app"),)),), BASE, HOLDS)
    assert isinstance(ok, ClaimSet)
    assert ok.access_claims["aud"] == "app"


def test_grant_groups_add_and_remove_keep_the_rest() -> None:
    claims = ClaimSet(
        id_claims={},
        access_claims={},
        groups=GroupOverride(groups=None, iam_roles=["arn:role"], preferred_role="arn:role"),
    )
    grants = (
        _grant(groups_add=("publishers", "readers")),
        _grant(groups_remove=("admins",)),
        _grant(groups_add=("admins",)),  # removal wins, whatever the order
    )
    result = apply_grants(grants, claims, HOLDS)
    assert isinstance(result, ClaimSet)
    assert result.groups == GroupOverride(
        groups=["readers", "publishers"], iam_roles=["arn:role"], preferred_role="arn:role"
    )


def test_grant_groups_edit_starts_from_the_override() -> None:
    # The context carries the groups after the mapping's override, so edits start from them.
    context = _context(groups=["admins", "from-item"])
    result = apply_grants((_grant(groups_add=("x",)),), BASE, context)
    assert isinstance(result, ClaimSet)
    assert result.groups == GroupOverride(
        groups=["admins", "from-item", "x"], iam_roles=None, preferred_role=None
    )


def test_grant_deny_names_the_first_denying_grant() -> None:
    grants = (
        _grant(scopes_add=("orders/write",)),
        Grant(where="user.grants[1]", when=compile_condition(clients=["other"]), deny=True),
        Grant(where="user.grants[2]", when=ADMINS, deny=True),
        Grant(where="user.grants[3]", when=ADMINS, deny=True),
    )
    assert apply_grants(grants, BASE, HOLDS) == Denial("user.grants[2]")
    admin = decode_event({"request": {"groupConfiguration": {"groupsToOverride": ["admins"]}}})
    assert denial(Section(grants=grants), admin) == Denial("user.grants[2]")


def test_grant_that_does_not_hold_changes_nothing() -> None:
    grants = (
        _grant(scopes_add=("x",), groups_remove=("admins",)),
        Grant(where="user.grants[1]", when=ADMINS, deny=True),
    )
    assert apply_grants(grants, BASE, _context(groups=["readers"])) is BASE
    assert denial(Section(grants=grants), event_for()) is None


def test_grants_read_the_same_context_not_each_other() -> None:
    # grants[0] removes `admins`; grants[1] still sees it, because conditions read the context.
    grants = (
        _grant(groups_remove=("admins",)),
        Grant(where="user.grants[1]", when=ADMINS, scopes_add=("orders/write",)),
    )
    result = apply_grants(grants, BASE, HOLDS)
    assert isinstance(result, ClaimSet)
    assert "orders/write" in result.scopes_add
    assert result.groups is not None
    assert result.groups.groups == ["readers"]


def test_item_free_deny_holds_without_an_item() -> None:
    grants = (
        Grant(
            where="user.grants[0]", when=compile_condition(attribute_equals={"s": "x"}), deny=True
        ),
        Grant(where="user.grants[1]", when=compile_condition(clients=["legacy"]), deny=True),
    )
    assert denial(Section(grants=grants), event_for("legacy")) == Denial("user.grants[1]")
    assert denial(Section(grants=grants), event_for("app")) is None


# ---- conditional rules -----------------------------------------------------------------------


def test_rule_when_gates_the_rule() -> None:
    mapping = _parse(
        {
            "user": {
                "claims": [
                    {"attribute": "pin", "tokens": ["id"], "when": {"clients": ["console"]}},
                    {"attribute": "name", "tokens": ["id"]},
                    {
                        "attribute": "must",
                        "tokens": ["id"],
                        "required": True,
                        "when": {"clients": ["console"]},
                    },
                ]
            }
        }
    )
    item = {"pin": "1234", "name": "n"}
    console = apply_mapping(mapping.user, item, "console")
    assert console.id_claims == {"pin": "1234", "name": "n"}
    assert console.missing_required == "must"
    other = apply_mapping(mapping.user, item, "app")
    assert other.id_claims == {"name": "n"}
    assert other.missing_required is None  # a rule that does not apply requires nothing
    # No context: conditional rules never apply (existing callers keep their answers).
    assert apply_mapping(mapping.user, item).id_claims == {"name": "n"}
    assert mapping.user.conditional


def test_section_projection_includes_condition_attributes() -> None:
    mapping = load_rules(str(EXAMPLE))
    assert {"status", "profile", "beta", "tenants", "support_pin"} <= set(mapping.user.attributes)
    assert set(mapping.client.attributes) == {"interesting_value", "retired"}


def test_example_uses_every_condition_and_action() -> None:
    mapping = load_rules(str(EXAMPLE))
    grants = mapping.user.grants + mapping.client.grants
    kinds = {kind for grant in grants for kind, _ in grant.when.sets}
    assert kinds == set(range(6))  # clients, trigger sources, scopes, groups any/all/none
    assert any(grant.when.metadata for grant in grants)
    assert any(grant.when.attribute_checks for grant in grants)
    assert any(rule.when for rule in mapping.user.rules)
    for action in (
        "deny", "scopes_add", "scopes_suppress", "id_claims", "access_claims", "groups_add",
        "groups_remove",
    ):  # fmt: skip
        assert any(getattr(grant, action) for grant in mapping.user.grants), action
    assert any(grant.deny for grant in mapping.client.grants)
    assert mapping.client_metadata == ("tenant",)
    assert [grant.where for grant in mapping.user.grants][:2] == [
        "user.grants[0]",
        "user.grants[1]",
    ]


def test_json_grants_equal_toml_grants(tmp_path: Any) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text(
        '[request]\nclient_metadata = ["t"]\n[[user.grants]]\nscopes_add = ["s"]\n'
        'when = { groups_any = ["a"], metadata_equals = { t = "x" }, '
        "attribute_equals = { n = 7 } }\n"
    )
    js = tmp_path / "m.json"
    js.write_text(
        json.dumps(
            {
                "request": {"client_metadata": ["t"]},
                "user": {
                    "grants": [
                        {
                            "when": {
                                "groups_any": ["a"],
                                "metadata_equals": {"t": "x"},
                                "attribute_equals": {"n": 7},
                            },
                            "scopes_add": ["s"],
                        }
                    ]
                },
            }
        )
    )
    assert load_rules(str(toml)) == load_rules(str(js))


# ---- load-time refusals ----------------------------------------------------------------------


def _user(**grant: Any) -> dict[str, Any]:
    return {"user": {"grants": [grant]}}


def _client(**grant: Any) -> dict[str, Any]:
    return {"client": {"grants": [grant]}}


def _meta(**grant: Any) -> dict[str, Any]:
    return {"request": {"client_metadata": ["t"]}, **_user(**grant)}


_DENY: Final = {"deny": True}
_A: Final = {"clients": ["a"]}

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("unknown key", _user(when={"group_any": ["a"]}, **_DENY), "group_any"),
    ("empty when", _user(when={}, **_DENY), "user.grants[0].when: a condition needs at least one"),
    ("no when", _user(**_DENY), "user.grants[0]: a grant needs `when`"),
    ("empty list", _user(when={"clients": []}, **_DENY), "when: `clients` must not be empty"),
    ("empty map", _user(when={"attribute_equals": {}}, **_DENY), "`attribute_equals` must not"),
    ("blank name", _user(when={"groups_any": [" a"]}, **_DENY), "blank or padded name"),
    (
        "any vs none",
        _user(when={"groups_any": ["a", "b"], "groups_none": ["b"]}, **_DENY),
        "`groups_any` and `groups_none` both name `b`",
    ),
    (
        "all vs none",
        _user(when={"groups_all": ["a"], "groups_none": ["a"]}, **_DENY),
        "`groups_all` and `groups_none` both name `a`",
    ),
    ("no action", _user(when=_A), "user.grants[0]: a grant needs an action"),
    ("deny false alone", _user(when=_A, deny=False), "a grant needs an action"),
    (
        "deny with actions",
        _user(when=_A, deny=True, scopes_add=["s"]),
        "`deny` fails the sign-in, so `scopes_add` would never apply",
    ),
    (
        "metadata not allowlisted",
        _user(when={"metadata_equals": {"tenant": "a"}}, **_DENY),
        "`tenant` is not listed in `[request] client_metadata`",
    ),
    ("metadata too long", _meta(when={"metadata_equals": {"t": "x" * 257}}, **_DENY), "never"),
    ("metadata not str", _meta(when={"metadata_equals": {"t": 7}}, **_DENY), "Expected `str`"),
    ("attribute object", _user(when={"attribute_equals": {"a": {"b": 1}}}, **_DENY), "attribute"),
    (
        "attribute bad path",
        _user(when={"attribute_equals": {"a..b": 1}}, **_DENY),
        "`a..b` must be a name or a dotted path",
    ),
    (
        "scope with space in condition",
        _user(when={"scopes_any": ["a b"]}, **_DENY),
        "scopes must be non-empty and contain no whitespace",
    ),
    ("scope with space", _user(when=_A, scopes_add=["a b"]), "user.grants[0]: `scopes_add`"),
    (
        "add and suppress one scope",
        _user(when=_A, scopes_add=["s"], scopes_suppress=["s"]),
        "`scopes_add` and `scopes_suppress` both name `s`",
    ),
    (
        "add and remove one group",
        _user(when=_A, groups_add=["g"], groups_remove=["g"]),
        "`groups_add` and `groups_remove` both name `g`",
    ),
    (
        "reserved claim",
        _user(when=_A, claims={"access": {"scope": "x"}}),
        "user.grants[0].claims.access: claim `scope` in the access token",
    ),
    (
        "cognito claim",
        _user(when=_A, claims={"id": {"cognito:groups": ["x"]}}),
        "`cognito:` claims change only",
    ),
    ("aud in id", _user(when=_A, claims={"id": {"aud": "a"}}), "claim `aud` in the id token"),
    (
        "object in email_verified",
        _user(when=_A, claims={"id": {"email_verified": {"a": 1}}}),
        "may not hold an object or array",
    ),
    ("unknown action", _user(when=_A, scope_add=["s"]), "scope_add"),
    (
        "unknown trigger source",
        _user(when={"trigger_sources": ["TokenGeneration_Refresh"]}, **_DENY),
        "unknown trigger source `TokenGeneration_Refresh`",
    ),
    (
        "client group condition",
        _client(when={"groups_any": ["a"]}, **_DENY),
        "client.grants[0].when: `groups_any`: machine clients have no groups",
    ),
    (
        "client group action",
        _client(when=_A, groups_add=["g"]),
        "client.grants[0]: machine clients have no groups to edit",
    ),
    ("client id claims", _client(when=_A, claims={"id": {"x": 1}}), "get no ID token"),
    (
        "client rule group condition",
        {
            "client": {
                "claims": [{"attribute": "a", "tokens": ["access"], "when": {"groups_none": ["a"]}}]
            }
        },
        "client.claims[0].when: `groups_none`: machine clients have no groups",
    ),
    (
        "rule empty condition",
        {"user": {"claims": [{"attribute": "a", "tokens": ["id"], "when": {}}]}},
        "user.claims[0].when: a condition needs at least one key",
    ),
    ("unknown request key", {"request": {"metadata": ["t"]}}, "metadata"),
]


@pytest.mark.parametrize(
    ("document", "expected"), [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED]
)
def test_load_refuses(document: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(document)
    message = str(caught.value)
    assert message.startswith("claim mapping `policy.json`: ")
    assert expected in message


def test_load_refusal_in_toml_names_the_file(tmp_path: Any) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[user.grants]]\nwhen = { groups_any = ["a"] }\n')
    with pytest.raises(ConfigError, match=r"`.*bad\.toml`: user\.grants\[0\]: a grant needs"):
        load_rules(str(path))


def test_load_refuses_a_toml_date_in_grant_claims(tmp_path: Any) -> None:
    path = tmp_path / "date.toml"
    path.write_text(
        '[[user.grants]]\nwhen = { clients = ["a"] }\nclaims = { id = { d = 2024-01-01 } }\n'
    )
    with pytest.raises(ConfigError, match=r"user\.grants\[0\]\.claims\.id: `d`: dates"):
        load_rules(str(path))


# ---- properties ------------------------------------------------------------------------------

_NAMES = st.sampled_from(
    [*sorted(RESERVED_CLAIMS), "cognito:groups", "dev:x", "aud", "email_verified", "role", " p"]
)
_VALUES = st.one_of(
    st.text(max_size=5), st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2)
)


@given(
    token=st.sampled_from(["id", "access"]),
    claims=st.dictionaries(_NAMES, _VALUES, min_size=1, max_size=4),
    client_id=st.sampled_from(["app", "other"]),
)
def test_property_a_grant_never_emits_a_reserved_claim(
    token: str, claims: dict[str, Any], client_id: str
) -> None:
    document = {"user": {"grants": [{"when": {"clients": ["app"]}, "claims": {token: claims}}]}}
    try:
        mapping = _parse(document)
    except ConfigError:
        return  # refused at load: nothing can be emitted
    result = apply_grants(
        mapping.user.grants, ClaimSet(id_claims={}, access_claims={}), _context(client_id=client_id)
    )
    assert isinstance(result, ClaimSet)
    for name, value in result.id_claims.items():
        assert reserved_reason(name, "id") is None
        assert not (name == "email_verified" and isinstance(value, dict | list))
    for name, value in result.access_claims.items():
        assert reserved_reason(name, "access") is None
        assert name != "aud" or value == client_id


_SECRET = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and "." not in s)


@given(value=_SECRET, client=_SECRET, group=_SECRET, tenant=_SECRET)
def test_property_a_denial_carries_the_position_only(
    value: str, client: str, group: str, tenant: str
) -> None:
    document = {
        "request": {"client_metadata": ["tenant"]},
        "user": {
            "grants": [
                {"when": {"groups_any": ["nobody"]}, "scopes_add": ["s"]},
                {
                    "when": {
                        "clients": [client],
                        "groups_any": [group],
                        "attribute_equals": {"status": value},
                        "metadata_equals": {"tenant": tenant},
                    },
                    "deny": True,
                },
            ]
        },
    }
    mapping = _parse(document)
    context = _context(
        client_id=client, groups=[group], item={"status": value}, metadata={"tenant": tenant}
    )
    result = apply_grants(mapping.user.grants, ClaimSet(id_claims={}, access_claims={}), context)
    assert result == Denial("user.grants[1]")
    assert isinstance(result, Denial)
    assert json.dumps(list(result.__struct_fields__)) == '["grant"]'


# ---- the whole pipeline, with a fake store ---------------------------------------------------


class _Items:
    """A profile source holding one user's item; the pipeline's store in these tests."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item

    async def get_item(
        self, read: ItemRead, *, consistent: bool, timeout: float
    ) -> dict[str, Any] | None:
        del consistent, timeout
        return self.item if read.key[0][1] == "USER#jane.doe" else None

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[dict[str, Any] | None]:
        return [await self.get_item(r, consistent=consistent, timeout=timeout) for r in reads]

    async def query(
        self, read: QueryRead, *, consistent: bool, timeout: float
    ) -> list[dict[str, Any]]:
        del read, consistent, timeout
        return []


_DENY_ON_STATUS = (
    b'[request]\nclient_metadata = ["tenant"]\n'
    b'[[user.grants]]\nwhen = { groups_any = ["nobody"] }\nscopes_add = ["s"]\n'
    b'[[user.grants]]\nwhen = { attribute_equals = { status = "blocked" } }\ndeny = true\n'
)


@given(tail=st.text(max_size=20))
def test_property_a_denial_through_the_pipeline_logs_the_position_only(tail: str) -> None:
    secret = "Zq7secret" + tail  # distinctive: never part of a log line's own text
    # GIVEN an item whose attributes carry a distinctive value, denied by grants[1]
    mapping = parse_rules(_DENY_ON_STATUS, source="deny.toml", toml=True)
    item = {"status": "blocked", "first_name": secret, "note": secret}
    event = load_event("v2-authentication.json")
    event["request"]["clientMetadata"] = {"tenant": secret}
    container = Container(make_settings(), source=_Items(item), mapping=mapping)
    try:
        call = container.call(event)
    finally:
        container.close()
    # THEN the user sees the fixed message, and the log names the grant, never a value
    assert call.denied == DENIED_NO_PROFILE
    assert call.log["denied_by"] == "user.grants[1]"
    assert call.log["reason"] == "grant_denied"
    line = json.dumps(call.log)
    for value in (json.dumps(secret)[1:-1], "Zq7secret", "blocked", "status", event["userName"]):
        assert value not in line
