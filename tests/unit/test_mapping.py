"""The mapping file: decoding, every guard at load time, messages naming file, rule and problem."""

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.claims import load_rules, parse_rules
from shared.claims.model import ClaimRule
from shared.errors import ConfigError
from shared.lookup.keys import KeyTemplate
from shared.lookup.sources import build_lookup
from shared.lookup.store import projection as store_projection  # what the store really sends
from tests.conftest import EVENTS
from tests.unit.claims_helpers import apply_mapping

EXAMPLE = EVENTS / "claims.example.toml"


def _parse(document: dict[str, Any]) -> Any:
    return parse_rules(json.dumps(document).encode(), source="test.json", toml=False)


def _problem(document: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(document)
    message = str(caught.value)
    assert message.startswith("claim mapping `test.json`: ")
    return message


def test_example_file_loads_and_uses_every_feature() -> None:
    mapping = load_rules(str(EXAMPLE))
    user, client = mapping.user, mapping.client
    assert {rule.type for rule in user.rules} == {
        "string",
        "integer",
        "boolean",
        "string_list",
        "json",
    }
    assert any(len(rule.path) > 1 for rule in user.rules)
    assert any(rule.required for rule in user.rules)
    assert any(rule.default is not None for rule in user.rules)
    assert user.static_id
    assert user.static_access
    assert user.suppress.id
    assert user.suppress.id_from
    assert user.suppress.access_from
    assert user.scopes.add
    assert user.scopes.add_from
    assert user.scopes.suppress
    assert user.scopes.suppress_from
    assert user.groups.groups_from
    assert user.groups.iam_roles_from
    assert user.groups.preferred_role_from
    assert client.rules
    assert client.static_access
    assert client.scopes.suppress
    # GetItem projects exactly the top-level attributes the mapping reads.
    assert set(user.attributes) == {
        "first_name", "last_name", "profile", "tenant_id", "beta", "roles", "limits",
        "hide_from_id", "hide_from_access", "extra_scopes", "revoked_scopes", "groups",
        "iam_roles", "preferred_role",
    }  # fmt: skip
    assert client.attributes == ("interesting_value",)


def test_json_mapping_equals_toml_mapping(tmp_path: Path) -> None:
    document = {"user": {"claims": [{"attribute": "a.b", "claim": "c", "tokens": ["access"]}]}}
    toml = tmp_path / "m.toml"
    toml.write_text('[[user.claims]]\nattribute = "a.b"\nclaim = "c"\ntokens = ["access"]\n')
    js = tmp_path / "m.json"
    js.write_text(json.dumps(document))
    assert load_rules(str(toml)) == load_rules(str(js))
    assert load_rules(str(toml)).user.rules == (
        ClaimRule(path=("a", "b"), claim="c", tokens=("access",), where="user.claims[0]"),
    )


def test_claim_defaults_to_the_attribute() -> None:
    mapping = _parse({"user": {"claims": [{"attribute": "tier", "tokens": ["id"]}]}})
    assert mapping.user.rules[0].claim == "tier"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"users": {}}, "unknown field `users`"),
        ({"user": {"claims": [{"attribute": "a", "tokens": ["id"], "typ": "string"}]}}, "`typ`"),
        (
            {"user": {"claims": [{"attribute": "a", "tokens": ["both"]}]}},
            "$.user.claims[0].tokens[0]",
        ),
        (
            {"user": {"claims": [{"attribute": "a", "tokens": ["id"], "type": "text"}]}},
            "$.user.claims[0].type",
        ),
        ({"user": {"claims": [{"tokens": ["id"]}]}}, "missing required field `attribute`"),
    ],
)
def test_decoding_errors_carry_the_path(document: dict[str, Any], expected: str) -> None:
    assert expected in _problem(document)


def _rule(**fields: Any) -> dict[str, Any]:
    return {"user": {"claims": [{"attribute": "a", "tokens": ["id"], **fields}]}}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _rule(claim="sub"),
            "user.claims[0] (`a`): claim `sub` in the id token: `sub` is reserved",
        ),
        (_rule(claim="cognito:groups"), "`cognito:` claims change only through the group override"),
        (_rule(claim="dev:flag"), "`dev:` claims may only be suppressed"),
        (_rule(claim="aud"), "`aud` is reserved"),
        (_rule(claim="scope", tokens=["access"]), "`scope` is reserved"),
        (_rule(claim="email_verified", type="json"), "may not hold an object or array"),
        (_rule(claim="address", type="string_list"), "may not hold an object or array"),
        (_rule(tokens=[]), "`tokens` must name"),
        (_rule(attribute="a..b"), "dotted path of names"),
        (_rule(type="integer", default="ten"), "`default` is not of type `integer`"),
        (_rule(default="x", required=True), "`required` and `default` contradict"),
        ({"user": {"static": {"id": {"iss": "me"}}}}, "user.static.id: claim `iss`"),
        ({"user": {"static": {"id": {"email_verified": {"x": 1}}}}}, "may not hold an object"),
        ({"user": {"suppress": {"access": ["sub"]}}}, "user.suppress.access: `sub`"),
        ({"user": {"suppress": {"id": ["cognito:groups"]}}}, "user.suppress.id: `cognito:groups`"),
        ({"user": {"scopes": {"add": ["api read"]}}}, "user.scopes.add: `'api read'`"),
        ({"user": {"scopes": {"suppress": [""]}}}, "user.scopes.suppress"),
        (
            {"client": {"claims": [{"attribute": "a", "tokens": ["id"]}]}},
            "machine clients get no ID token",
        ),
        ({"client": {"static": {"id": {"x": 1}}}}, "machine clients get no ID token"),
        ({"client": {"groups": {"groups_from": "g"}}}, "machine clients have no groups"),
        ({"user": {"groups": {"groups_from": " "}}}, "user.groups.groups_from: attribute names"),
        (
            {
                "user": {
                    "static": {"id": {"a": 1}},
                    "claims": [{"attribute": "a", "tokens": ["id"]}],
                }
            },
            "claim `a` is also set by user.static.id",
        ),
    ],
)
def test_guards_refuse_at_load_time(document: dict[str, Any], expected: str) -> None:
    assert expected in _problem(document)


def test_aud_is_allowed_in_the_access_token_and_checked_per_event() -> None:
    mapping = _parse({"user": {"static": {"access": {"aud": "client-1"}}}})
    assert apply_mapping(mapping.user, {}, "client-1").access_claims == {"aud": "client-1"}
    assert apply_mapping(mapping.user, {}, "client-2").access_claims == {}


def test_dev_claims_may_be_suppressed() -> None:
    mapping = _parse({"user": {"suppress": {"access": ["dev:trace"]}}})
    assert mapping.user.suppress.access == ("dev:trace",)


def test_every_problem_is_reported_at_once() -> None:
    message = _problem(
        {"user": {"claims": [{"attribute": "a", "claim": "sub", "tokens": ["id"]}],
                  "scopes": {"add": ["x y"]}}}
    )  # fmt: skip
    assert "claim `sub`" in message
    assert "user.scopes.add" in message


def test_toml_dates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[user.static.id]\nsince = 2024-01-01\n")
    with pytest.raises(ConfigError, match="dates and times are not JSON values"):
        load_rules(str(path))


def test_file_problems_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read `.*missing\.toml`"):
        load_rules(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"must name a \.toml or \.json file"):
        load_rules(str(tmp_path / "m.yaml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("[user\n")
    with pytest.raises(ConfigError, match=r"claim mapping `.*broken\.toml`"):
        load_rules(str(broken))


# ---- values with no JSON form: refused at load time, file, section and claim named ----------

_NON_JSON_TOML = ["inf", "-inf", "nan", "+inf", "[1, inf]", "{ a = [2, { b = -inf }] }"]
_NON_JSON_JSON = ["null", "[1, null]", '{"a": {"b": null}}', '[{"c": [null]}]']


@pytest.mark.parametrize("value", _NON_JSON_TOML)
@pytest.mark.parametrize("token", ["id", "access"])
def test_static_non_finite_values_are_refused(tmp_path: Path, value: str, token: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(f"[user.static.{token}]\nratio = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(str(path))
    message = str(caught.value)
    assert f"m.toml`: user.static.{token}: `ratio`" in message
    assert "are not JSON values" in message


@pytest.mark.parametrize("value", _NON_JSON_TOML)
def test_default_non_finite_values_are_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        f'[[client.claims]]\nattribute = "r"\nclaim = "ratio"\ntokens = ["access"]\n'
        f"default = {value}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_rules(str(path))
    message = str(caught.value)
    assert "m.toml`: client.claims[0] (`r`): `default` of claim `ratio`" in message
    assert "are not JSON values" in message


@pytest.mark.parametrize("value", _NON_JSON_JSON)
def test_null_and_out_of_range_json_values_are_refused(value: str) -> None:
    static = f'{{"user": {{"static": {{"access": {{"level": {value}}}}}}}}}'
    default = (
        '{"user": {"claims": [{"attribute": "l", "claim": "level", "tokens": ["id"], '
        f'"default": {value}}}]}}}}'
    )
    for document, where in (
        (static, "user.static.access: `level`"),
        (default, "user.claims[0] (`l`): `default` of claim `level`"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_rules(document.encode(), source="m.json", toml=False)
        message = str(caught.value)
        assert f"claim mapping `m.json`: {where}" in message
        assert "null is not a claim value" in message


@pytest.mark.parametrize("value", ["1e999", "-1e999", "[[1e400]]"])
def test_json_numbers_past_the_float_range_are_refused(value: str) -> None:
    document = f'{{"user": {{"static": {{"access": {{"level": {value}}}}}}}}}'
    with pytest.raises(ConfigError, match=r"m\.json`: Number out of range - at `\$\.user\.static"):
        parse_rules(document.encode(), source="m.json", toml=False)


# ---- unreadable files: always a ConfigError naming the file and what is wrong ---------------

_GOOD_TOML = '[user.static.id]\napp = "portal"\n'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (_GOOD_TOML.encode("utf-16"), "UTF-16"),
        (_GOOD_TOML.encode("utf-16-be"), "NUL bytes"),
        (b"\x00\x01\x02binary\xff", "NUL bytes"),
        (b"\x7fELF\x02\x01\x01\xff\xfe", "not UTF-8 text (invalid byte at offset 7)"),
        (_GOOD_TOML.encode("latin-1") + "caf\u00e9 = 1\n".encode("latin-1"), "not UTF-8 text"),
        (b"[user.static.id]\nx = " + b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
        (b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000, ""),
        (b"[user\n", "claim mapping"),
        (b'x = "\\ud800"\n', ""),
    ],
)
def test_unreadable_toml_files_are_config_errors(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_rules(str(path))
    message = str(caught.value)
    assert f"claim mapping `{path}`: " in message
    assert expected in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (json.dumps({"user": {}}).encode("utf-16"), "UTF-16"),
        (b'{"user": ' * 50_000 + b"{}" + b"}" * 50_000, ""),
        (b'{"user": {"static": {"id": {"x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}}}", ""),
        (b'{"user": {"static": {"id": {"x": "\xc3\x28"}}}}', "not UTF-8 text"),
        (b"\xef\xbb\xbf" + b"[]", "Expected `object`"),
    ],
)
def test_unreadable_json_files_are_config_errors(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_rules(str(path))
    assert f"claim mapping `{path}`: " in str(caught.value)
    assert expected in str(caught.value)


def test_a_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + _GOOD_TOML.encode())
    assert load_rules(str(path)).user.static_id == (("app", "portal"),)


def test_a_folder_or_a_huge_file_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"cannot read `.*folder\.toml`: Is a directory"):
        load_rules(str(folder))
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as file:
        file.truncate(5 * 1024 * 1024)
    with pytest.raises(ConfigError, match=r"`.*huge\.toml` is 5242880 bytes"):
        load_rules(str(huge))


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                      st.sampled_from([_GOOD_TOML.encode(), b'{"user": {}}']).flatmap(
                          lambda good: st.binary(max_size=8).map(lambda junk: good + junk))),
       toml=st.booleans())  # fmt: skip
def test_property_any_bytes_load_or_raise_config_error_only(data: bytes, toml: bool) -> None:
    try:
        parse_rules(data, source="fuzz.toml", toml=toml)
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith("claim mapping `fuzz.toml`: ")


# ---- limits a real deployment meets --------------------------------------------------------


STATIC_CLAIMS_MAX_BYTES = 262_144
"""256 KB of JSON per token, as the README says."""


@pytest.mark.parametrize("token", ["id", "access"])
def test_static_claims_over_256_kb_are_refused(token: str) -> None:
    at_limit = "x" * (STATIC_CLAIMS_MAX_BYTES - len('{"big":""}'))
    assert _parse({"user": {"static": {token: {"big": at_limit}}}}).user
    message = _problem({"user": {"static": {token: {"big": at_limit + "x"}}}})
    assert f"user.static.{token}: static claims take {STATIC_CLAIMS_MAX_BYTES + 1} bytes" in message


@pytest.mark.parametrize("count", [1, 598, 599, 600, 601, 700])
@pytest.mark.parametrize("key", [("id",), ("pk", "sk")])
def test_projection_past_4_kb_is_refused_at_init_exactly_when_the_store_would_send_one(
    count: int, key: tuple[str, ...]
) -> None:
    # GIVEN a mapping reading `count` top-level attributes, and the key the store adds
    rules = [{"attribute": f"a{i}", "tokens": ["access"]} for i in range(count)]
    mapping = _parse({"user": {"claims": rules}})
    default_key = tuple((name, KeyTemplate("USER_KEY", "U#{userName}")) for name in key)
    # WHEN the reads are built at init, and the expression the store would send is measured
    sent = store_projection(key, mapping.user.attributes)["ProjectionExpression"]
    too_long = len(sent.encode()) > 4096

    def build() -> object:
        return build_lookup(
            mapping.user.lookup,
            reads=mapping.user.reads,
            default_table="profiles",
            default_key=default_key,
            consistent=False,
            where="claim mapping `m.toml`: user",
        )

    # THEN init refuses exactly the mappings DynamoDB would refuse on every sign-in
    if too_long:
        with pytest.raises(ConfigError, match="4096-byte expression limit"):
            build()
    else:
        build()
    assert too_long == (count + len(key) > 601)
