"""Mapping test cases (`make check-mapping`), `make explain`, and how every tool fails.

The shipped case files pass with coverage; a wrong expectation fails naming the case and the
claim (exit 1); an invalid file or mapping is one message naming the file, the case and the key
(exit 2); the in-memory store answers as DynamoDB does (keys, order, prefix, limit, index,
projection, failures); `make explain` names every grant's result on each policy event.
"""

import asyncio
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.errors import StoreThrottled, StoreTimeout, StoreUnavailable
from shared.lookup import ItemRead, KeyTemplate, QueryRead
from shared.lookup.sources import ItemSource, QuerySource
from tests.conftest import EVENTS, ROOT
from tools import check_mapping, explain
from tools.cases import load_cases
from tools.memory_store import MemoryStore, Table

CASE_FILES = sorted(EVENTS.glob("*.cases.toml"))
POLICY_CASES = EVENTS / "policy.example.cases.toml"
SUSPENDED = (
    'outcome = "denied"\nreason = "grant_denied"\ngrants = ["user.grants[0]", "user.grants[3]"]'
)


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = check_mapping.main(list(args))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def _copy(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """The case file in `tmp_path`, its paths made absolute, with text replaced."""
    text = POLICY_CASES.read_text(encoding="utf-8")
    text = text.replace('mapping = "', f'mapping = "{EVENTS}/').replace(
        'event = "', f'event = "{EVENTS}/'
    )
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "copy.cases.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---- the shipped case files ------------------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_shipped_case_files_pass_with_coverage(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    status, lines, err = _check(capsys, str(path), "--coverage")
    assert (status, err) == (0, "")
    assert lines[-1].endswith(" passed, 0 failed")
    assert "every rule emitted, every grant held and failed" in lines[-2]


def test_case_files_sit_beside_each_example_mapping() -> None:
    assert [p.name for p in CASE_FILES] == [
        "claims.example.cases.toml", "federated.cases.toml", "policy.example.cases.toml",
        "single-table.cases.toml",
    ]  # fmt: skip


# ---- failing cases: exit 1, one line per case, what was expected and what came ----------------


def test_a_wrong_expectation_fails_naming_the_case_and_the_claim(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _copy(tmp_path, {'access = { role = "admin" }': 'access = { role = "editor" }'})
    status, lines, _ = _check(capsys, str(path))
    assert status == 1
    failing = [line for line in lines if ": FAIL " in line]
    assert failing == [
        f'{path}: FAIL "an admin may write orders": access token claim `role`: expected '
        '"editor", got "admin"'
    ]
    assert lines[-1] == "15 passed, 1 failed"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (SUSPENDED,
         'outcome = "claims_added"',
         "outcome: expected `claims_added`, got `denied` (grant_denied, by user.grants[0])"),
        ('groups = ["admins", "staff"]\ngrants', 'groups = ["staff", "admins"]\ngrants',
         'groups: expected ["staff","admins"], got ["admins","staff"]'),
        ('id = { support_pin = "1177" }', "id_absent = [\"support_pin\"]",
         'ID token claim `support_pin`: expected absent, got "1177"'),
        ('scopes_exclude = ["orders/write"]', 'scopes_exclude = ["orders/read"]',
         'scopes: expected to exclude ["orders/read"]'),
        ('grants = ["user.grants[7]"]', 'grants = ["user.grants[8]"]',
         'grants: expected ["user.grants[8]"], got ["user.grants[7]"]'),
        ('dropped = ["user.claims[0]"]', "dropped = []",
         'dropped: expected [], got ["user.claims[0]"]'),
        ('access = { tenant = "acme", tenant_verified = true }',
         'access = { tenant = "acme", tenant_verified = 1 }',
         "access token claim `tenant_verified`: expected 1, got true"),
    ],
)  # fmt: skip
def test_each_expectation_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, old: str, new: str, expected: str
) -> None:
    status, lines, _ = _check(capsys, str(_copy(tmp_path, {old: new})))
    assert status == 1
    assert any(expected in line for line in lines if ": FAIL " in line), lines


def test_numbers_compare_exactly_and_never_as_booleans() -> None:
    same = check_mapping.same_value
    assert same(25, 25.0)
    assert same(25, Decimal("25"))
    assert same(0.1, Decimal("0.1"))
    assert not same(1, True)
    assert not same(True, 1)
    assert not same("25", 25)
    assert same({"a": [1, "b"]}, {"a": [1.0, "b"]})
    assert not same([1, 2], [2, 1])


def test_coverage_names_what_no_case_reached(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _copy(tmp_path)
    text = path.read_text()
    kept = text.split("[[case]]")[:3]  # the first two cases only
    path.write_text("[[case]]".join(kept))
    status, lines, _ = _check(capsys, str(path))
    assert status == 0
    assert any("never emitted: user.claims[2], client.claims[0]" in line for line in lines)
    assert any("never held: user.grants[0], user.grants[1]," in line for line in lines)
    assert any("never failed: user.grants[4], user.grants[6]" in line for line in lines)
    status, lines, _ = _check(capsys, str(path), "--coverage")
    assert status == 1
    assert lines[-2:] == ["2 passed, 0 failed", "coverage is incomplete (COVERAGE=1)"]


def test_junit_xml_has_one_testcase_per_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _copy(tmp_path, {'access = { role = "admin" }': 'access = { role = "editor" }'})
    out = tmp_path / "out.xml"
    _check(capsys, str(path), str(EVENTS / "single-table.cases.toml"), "--junit", str(out))
    suites = ET.parse(out).getroot()
    counts = [(s.get("tests"), s.get("failures")) for s in suites.iter("testsuite")]
    assert counts == [("16", "1"), ("4", "0")]
    failures = [
        case.get("name") for case in suites.iter("testcase") if case.find("failure") is not None
    ]
    assert failures == ["an admin may write orders"]


# ---- invalid files: exit 2, the message alone ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (SUSPENDED,
         'outcme = "denied"',
         'case "a suspended user cannot sign in": Object contains unknown field `outcme` - at '
         "`$.case[4].expect`: did you mean `outcome`?"),
        ('grants = ["user.grants[8]"]', 'grants = ["user.grant[8]"]',
         'case[6] "a tenant switch to a tenant the user left fails": `expect.grants`: the '
         "mapping has no `user.grant[8]`: did you mean `user.grants[8]`?"),
        ('settings = { ON_MISSING = "deny" }', 'settings = { ON_MISING = "deny" }',
         "`settings.ON_MISING` is not a setting: did you mean `ON_MISSING`?"),
        ('settings = { ON_MISSING = "deny" }', 'settings = { ON_MISSING = "maybe" }',
         "invalid configuration: `ON_MISSING` must be one of `allow`, `deny`"),
        ('{ id = "USER#ann.admin", first_name',
         '{ table = "profils", id = "USER#ann.admin", first_name',
         "`items[0]`: the mapping reads no table `profils`: did you mean `profiles`?"),
        ('{ id = "USER#sam.suspended",', '{ id = 7,',
         "`items[0]`: an item of table `profiles` needs its key attribute `id` (a string)"),
        ('name = "an admin may write orders"', 'name = "a suspended user cannot sign in"',
         "another case has this name"),
        ('[case.event]\nversion = 1', '[case.event]\nscopes = ["openid"]\nversion = 1',
         "`event.scopes`: V1 events carry no scopes"),
        ('outcome = "denied"\nreason = "missing"', 'outcome = "denied"\nid = { a = 1 }',
         "`expect.id`: a denied sign-in issues no tokens to check"),
        ("# Test cases for", "nope = 1\n# Test cases for", "Object contains unknown field `nope`"),
    ],
)  # fmt: skip
def test_an_invalid_case_file_is_one_message_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, old: str, new: str, expected: str
) -> None:
    status, lines, err = _check(capsys, str(_copy(tmp_path, {old: new})))
    assert status == 2
    assert lines == []  # no case ran
    assert err.startswith(f"error: cases `{tmp_path / 'copy.cases.toml'}`")
    assert expected in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_an_invalid_mapping_is_exit_2_naming_the_mapping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mapping = tmp_path / "typo.toml"
    mapping.write_text('[[user.claims]]\natribute = "a"\ntokens = ["id"]\n')
    cases = tmp_path / "typo.cases.toml"
    cases.write_text('mapping = "typo.toml"\n')
    status, _, err = _check(capsys, str(cases))
    assert status == 2
    assert err == (
        f"error: claim mapping `{mapping}`: Object contains unknown field `atribute` - at "
        "`$.user.claims[0]`: did you mean `attribute`?\n"
    )


# ---- inline events, filled in as Cognito sends them -------------------------------------------


def _inline(tmp_path: Path, event: str, expect: str = 'outcome = "allowed_without_claims"') -> Any:
    path = tmp_path / "inline.cases.toml"
    path.write_text(f'[[case]]\nname = "n"\nevent = {event}\n[case.expect]\n{expect}\n')
    return load_cases(path).cases[0].event


def test_inline_events_take_the_sample_event_of_their_version(tmp_path: Path) -> None:
    v1 = _inline(tmp_path, '{ version = 1, user_name = "bob", groups = ["a"] }')
    assert v1["version"] == "1"
    assert "scopes" not in v1["request"]
    assert v1["userName"] == "bob"
    assert v1["request"]["groupConfiguration"] == {
        "groupsToOverride": ["a"], "iamRolesToOverride": [], "preferredRole": None
    }  # fmt: skip
    v3 = _inline(
        tmp_path,
        '{ version = 3, sub = "s-1", scopes = ["x/y"], client_metadata = { t = "acme" }, '
        'user_attributes = { email = "b@example.com" } }',
    )
    assert v3["version"] == "3"
    assert v3["triggerSource"] == "TokenGeneration_Authentication"
    assert v3["request"]["scopes"] == ["x/y"]
    assert v3["request"]["clientMetadata"] == {"t": "acme"}
    assert v3["request"]["userAttributes"] == {
        "sub": "s-1", "cognito:user_status": "CONFIRMED", "email": "b@example.com"
    }  # fmt: skip
    machine = _inline(
        tmp_path, '{ version = 3, trigger_source = "TokenGeneration_ClientCredentials" }'
    )
    assert machine == json.loads((EVENTS / "v3-client-credentials.json").read_text())


# ---- the in-memory store answers as DynamoDB does -----------------------------------------------


def _query(
    store: MemoryStore,
    partition: str,
    prefix: str | None,
    *,
    index: str | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    attribute = "user" if index else "pk"
    source = QuerySource(
        name="q", table="t", index=index, partition=(attribute, KeyTemplate("p", "{sub}")),
        sort_prefix=("sk", KeyTemplate("s", "M#")) if prefix is not None else None,
        limit=limit, attributes=("v",),
    )  # fmt: skip
    read = QueryRead(source=source, partition=partition, prefix=prefix)
    return asyncio.run(store.query(read, consistent=False, timeout=1))


def test_memory_store_queries_in_sort_key_order_by_prefix_with_a_limit() -> None:
    items = [
        {"pk": "U", "sk": "M#b", "v": 2, "user": "u", "key": "k2"},
        {"pk": "U", "sk": "M#a", "v": 1, "user": "u", "key": "k1"},
        {"pk": "U", "sk": "P", "v": 0},
        {"pk": "V", "sk": "M#c", "v": 3, "user": "u"},
    ]
    tables = {"t": Table(key="pk", sort_key="sk", indexes={"byUser": ("user", "key")})}
    store = MemoryStore({"t": items}, tables)
    assert _query(store, "U", "M#") == [{"v": 1}, {"v": 2}]
    assert _query(store, "U", None) == [{"v": 1}, {"v": 2}, {"v": 0}]
    assert _query(store, "U", None, limit=1) == [{"v": 1}]
    # An index holds only the items with its keys, in its own sort order.
    assert _query(store, "u", None, index="byUser") == [{"v": 1}, {"v": 2}]
    assert store.reads == ["Query t", "Query t", "Query t", "Query t byUser"]


def test_memory_store_reads_by_key_projected_and_numbers_as_dynamodb_hands_them_back() -> None:
    source = ItemSource(
        name="item", table="t", key=(("id", KeyTemplate("k", "U#{sub}")),), attributes=("a", "n")
    )
    store = MemoryStore(
        {"t": [{"id": "U#1", "a": 1.5, "n": 2, "secret": "x"}]}, {"t": Table(key="id")}
    )
    found = asyncio.run(
        store.get_item(ItemRead(source=source, key=(("id", "U#1"),)), consistent=False, timeout=1)
    )
    assert found == {"id": "U#1", "a": Decimal("1.5"), "n": 2}
    assert type(found["n"]) is int
    missing = asyncio.run(
        store.batch_get(
            [ItemRead(source=source, key=(("id", "U#2"),))], consistent=False, timeout=1
        )
    )
    assert missing == [None]


@pytest.mark.parametrize(
    ("mode", "error"),
    [("throttled", StoreThrottled), ("timeout", StoreTimeout), ("unavailable", StoreUnavailable)],
)
def test_memory_store_fails_every_read_as_told(mode: Any, error: type[Exception]) -> None:
    source = ItemSource(
        name="item", table="t", key=(("id", KeyTemplate("k", "U#{sub}")),), attributes=()
    )
    store = MemoryStore({}, {}, mode)
    with pytest.raises(error):
        asyncio.run(
            store.get_item(
                ItemRead(source=source, key=(("id", "U#1"),)), consistent=False, timeout=1
            )
        )


# ---- make explain ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", sorted(EVENTS.glob("policy-*.json")), ids=lambda p: p.name)
def test_explain_names_every_grant_result_on_each_policy_event(
    capsys: pytest.CaptureFixture[str], event: Path
) -> None:
    status = explain.main(["--event", str(event), "--mapping", str(EVENTS / "policy.example.toml")])
    out = capsys.readouterr().out
    assert status == 0
    section, count = ("client", 3) if "client-credentials" in event.name else ("user", 9)
    for i in range(count):
        assert any(
            line.split()[0] == f"{section}.grants[{i}]"
            and line.split()[1] in ("held", "denied", "not_held:")
            for line in out.splitlines()[3:]
        ), out
    assert out.splitlines()[2].startswith("outcome: ")


def test_explain_reads_items_from_a_file_and_prints_no_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    items = tmp_path / "items.json"
    items.write_text(
        json.dumps([{"id": "USER#ann.admin", "first_name": "VALUE-1", "groups": ["admins"]}])
    )
    status = explain.main(
        ["--event", str(EVENTS / "policy-admin.json"), "--mapping",
         str(EVENTS / "policy.example.toml"), "--items", str(items)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert ["user.grants[1]", "held"] in [line.split() for line in out.splitlines()]
    assert "VALUE-1" not in out
    assert "ann.admin" not in out


def test_explain_with_a_bad_mapping_is_its_message_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text("[user.scopes]\nadd_frm = 'x'\n")
    status = explain.main(["--event", str(EVENTS / "policy-admin.json"), "--mapping", str(mapping)])
    err = capsys.readouterr().err
    assert status == 2
    assert err == (
        f"error: claim mapping `{mapping}`: Object contains unknown field `add_frm` - at "
        "`$.user.scopes`: did you mean `add_from`?\n"
    )


def test_make_invoke_prints_a_config_error_alone_and_exits_2(tmp_path: Path) -> None:
    mapping = tmp_path / "typo.toml"
    mapping.write_text('[[user.claims]]\natribute = "a"\ntokens = ["id"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "tools.invoke"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "CLAIMS_CONFIG": str(mapping),
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "AWS_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: claim mapping `{mapping}`: Object contains unknown field `atribute` - at "
        "`$.user.claims[0]`: did you mean `attribute`?"
    )
