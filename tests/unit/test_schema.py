"""The JSON Schemas (`make schema`): committed as generated, and agreeing with the loaders.

Whatever a schema refuses, its loader refuses too; what the loader refuses beyond the schema is
one of the listed semantic checks (`tools.schema.SEMANTIC_CHECKS`, `tools.cases.SEMANTIC_CHECKS`).
Held on every example, on a corpus of wrong documents here, and (last in the run) on every
mapping document any test handed the loader (`tests.conftest.RECORDED_MAPPINGS`).
"""

import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import msgspec
import pytest

from shared.claims import parse_rules
from shared.claims.guard import TRIGGER_SOURCES
from shared.errors import ConfigError
from tests.conftest import EVENTS, RECORDED_MAPPINGS, ROOT
from tools import cases as case_format
from tools.cases import load_cases
from tools.schema import SCHEMAS, SEMANTIC_CHECKS, build_schema, render

CLAIMS_SCHEMA = ROOT / "schema" / "claims.schema.json"
CASES_SCHEMA = ROOT / "schema" / "cases.schema.json"
EXAMPLE_MAPPINGS = [
    EVENTS / "claims.example.toml",
    EVENTS / "policy.example.toml",
    EVENTS / "single-table.toml",
    EVENTS / "federated.toml",
    ROOT / "bench" / "data_model.toml",
]
CASE_FILES = sorted(EVENTS.glob("*.cases.toml"))


def _listed(message: str, checks: tuple[tuple[str, str], ...]) -> bool:
    """Whether a loader's refusal is one of the listed semantic checks."""
    return any(re.search(pattern, message) for _, pattern in checks)


def _validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


MAPPING_SCHEMA = _validator(CLAIMS_SCHEMA)


@pytest.mark.parametrize("relative", sorted(SCHEMAS))
def test_schema_files_are_what_make_schema_writes(relative: str) -> None:
    root, title = SCHEMAS[relative]
    committed = (ROOT / relative).read_text(encoding="utf-8")
    assert committed == render(build_schema(root, title)), f"run `make schema`: {relative} drifted"


def test_every_object_and_field_is_described() -> None:
    for relative, (root, title) in SCHEMAS.items():
        schema = build_schema(root, title)
        for name, definition in schema["definitions"].items():
            assert definition["description"], (relative, name)
            for field, prop in definition["properties"].items():
                assert prop["description"], (relative, name, field)


def test_schema_enums_name_every_type_token_and_trigger_source() -> None:
    defs = json.loads(CLAIMS_SCHEMA.read_text())["definitions"]
    rule = defs["RuleFile"]["properties"]
    assert set(rule["type"]["enum"]) == {
        "string", "number", "integer", "boolean", "string_list", "json", "any"
    }  # fmt: skip
    assert set(rule["tokens"]["items"]["enum"]) == {"id", "access"}
    sources = defs["WhenFile"]["properties"]["trigger_sources"]["anyOf"][0]["items"]["enum"]
    assert set(sources) == TRIGGER_SOURCES
    assert set(get_args(case_format.TriggerSource)) == TRIGGER_SOURCES
    assert set(defs["WhenFile"]["properties"]) == {
        "clients", "trigger_sources", "groups_any", "groups_all", "groups_none", "scopes_any",
        "attribute_equals", "metadata_equals", "providers_any", "federated",
        "user_attribute_equals",
    }  # fmt: skip
    assert defs["WhenFile"]["additionalProperties"] is False
    assert defs["Scopes"]["properties"]["add"]["items"]["pattern"] == r"^\S+$"


@pytest.mark.parametrize("path", [*EXAMPLE_MAPPINGS, *CASE_FILES], ids=lambda p: p.name)
def test_every_example_starts_with_its_schema_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    schema = CASES_SCHEMA if path.name.endswith(".cases.toml") else CLAIMS_SCHEMA
    assert first == f"#:schema {Path('..') / schema.relative_to(ROOT)}"
    assert (path.parent / first.removeprefix("#:schema ")).resolve() == schema


def _loader_problem(data: bytes, toml: bool) -> str | None:
    try:
        parse_rules(data, source="doc", toml=toml)
    except ConfigError as exc:
        return str(exc)
    return None


def _document(data: bytes, toml: bool) -> Any:
    """The document as plain values, or a `ValueError` when it is no TOML/JSON text at all."""
    text = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return msgspec.toml.decode(text) if toml else msgspec.json.decode(text)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc


def agreement_problems(documents: list[tuple[bytes, bool]]) -> list[str]:
    """Each document the schema refuses but the loader accepts, or the loader refuses for a
    reason outside the listed semantic checks."""
    problems = []
    for data, toml in documents:
        try:
            document = _document(data, toml)
        except ValueError:
            continue  # not a document: the schema has nothing to say
        schema_errors = list(MAPPING_SCHEMA.iter_errors(document))
        loader = _loader_problem(data, toml)
        if schema_errors and loader is None:
            problems.append(f"schema refuses, loader accepts: {data[:200]!r}: {schema_errors[0]}")
        elif not schema_errors and loader is not None and not _listed(loader, SEMANTIC_CHECKS):
            problems.append(f"loader-only refusal not listed: {loader[:300]}")
    return problems


@pytest.mark.parametrize("path", EXAMPLE_MAPPINGS, ids=lambda p: p.name)
def test_examples_are_valid_for_schema_and_loader(path: Path) -> None:
    data = path.read_bytes()
    assert list(MAPPING_SCHEMA.iter_errors(_document(data, True))) == []
    assert _loader_problem(data, True) is None


WRONG: list[dict[str, Any]] = [
    {"usr": {}},
    {"user": {"claims": [{"atribute": "a", "tokens": ["id"]}]}},
    {"user": {"claims": [{"attribute": "a", "tokens": ["both"]}]}},
    {"user": {"claims": [{"attribute": "a", "tokens": ["id"], "type": "text"}]}},
    {"user": {"claims": [{"attribute": "a"}]}},
    {"user": {"claims": [{"attribute": 7, "tokens": ["id"]}]}},
    {"user": {"scopes": {"add": ["orders read"]}}},
    {"user": {"scopes": {"suppress": [""]}}},
    {"user": {"grants": [{"when": {"trigger_sources": ["TokenGeneration_Login"]}, "deny": True}]}},
    {"user": {"grants": [{"when": {"groups_any": []}, "deny": True}]}},
    {"user": {"grants": [{"when": {"groups_any": [" admins"]}, "deny": True}]}},
    {"user": {"grants": [{"when": {"scopes_any": ["a b"]}, "deny": True}]}},
    {"user": {"grants": [{"when": {"attribute_equals": {}}, "deny": True}]}},
    {"user": {"grants": [{"when": {"clients": ["a"]}, "groups_add": ["x "]}]}},
    {"user": {"grants": [{"when": {"clients": ["a"]}, "scopes_add": ["a\tb"]}]}},
    {"user": {"query": [{"name": "q", "partition": {"pk": "U#{sub}"}, "limit": 0}]}},
    {"user": {"query": [{"name": "q", "partition": {"pk": "U#{sub}"}, "limit": 101}]}},
    {"user": {"item": {"key": {"pk": 1}}}},
    {"request": {"client_metadata": "tenant"}},
    {"user": {"item": {"key": {"a": "U#{sub}", "b": "P", "c": "Q"}}}},
    {"user": {"related": [{"name": f"r{i}", "key": {"pk": "{item.t}"}} for i in range(6)]}},
    # beyond the schema, the listed semantic checks:
    {"user": {"claims": [{"attribute": "sub", "tokens": ["id"]}]}},
    {"user": {"static": {"id": {"cognito:groups": "x"}}}},
    {"user": {"claims": [{"attribute": "a", "tokens": ["id"], "required": True, "default": 1}]}},
    {"user": {"grants": [{"when": {"clients": ["a"]}}]}},
    {"user": {"grants": [{"scopes_add": ["s"]}]}},
    {"user": {"grants": [{"when": {"clients": ["a"]}, "deny": True, "scopes_add": ["s"]}]}},
    {"user": {"grants": [{"when": {"groups_any": ["a"], "groups_none": ["a"]}, "deny": True}]}},
    {"user": {"grants": [{"when": {"metadata_equals": {"tenant": "x"}}, "deny": True}]}},
    {"client": {"claims": [{"attribute": "a", "tokens": ["id"]}]}},
    {"user": {"claims": [{"source": "nowhere", "attribute": "a", "tokens": ["id"]}]}},
    {"user": {"related": [{"name": "t", "key": {"pk": "T#{item.t}"}}]}},
    {"user": {"query": [{"name": "q", "partition": {"pk": "U#{item.x}"}, "limit": 5}]}},
    {"user": {"claims": [{"attribute": "a..b", "tokens": ["id"]}]}},
    {"user": {"claims": [{"attribute": "a", "claim": "x", "tokens": ["id"]},
                         {"attribute": "b", "claim": "x", "tokens": ["id"]}]}},
    {"user": {"query": [{"name": "q", "partition": {"pk": "U#{sub}"}, "limit": 5.0}]}},
]  # fmt: skip


def test_schema_and_loader_agree_on_wrong_documents() -> None:
    documents = [(json.dumps(document).encode(), False) for document in WRONG]
    assert agreement_problems(documents) == []
    for document in WRONG[:21]:  # the first ones: refused by the schema itself
        assert list(MAPPING_SCHEMA.iter_errors(document)), document


@pytest.mark.after_all
def test_schema_and_loader_agree_on_every_mapping_the_tests_loaded() -> None:
    recorded = list(RECORDED_MAPPINGS)
    assert recorded  # at least the examples, loaded above
    assert agreement_problems(recorded) == []


# ---- case files ----------------------------------------------------------------------------


CASE_SCHEMA = _validator(CASES_SCHEMA)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_shipped_case_files_are_valid_for_schema_and_loader(path: Path) -> None:
    assert list(CASE_SCHEMA.iter_errors(_document(path.read_bytes(), True))) == []
    assert load_cases(path).cases


_CASE = {"name": "n", "event": "v2-authentication.json", "expect": {"outcome": "claims_added"}}
WRONG_CASES: list[dict[str, Any]] = [
    {"case": [{**_CASE, "expect": {"outcome": "added"}}]},
    {"case": [{**_CASE, "expect": {"outcome": "denied", "reson": "x"}}]},
    {"case": [{**_CASE, "store": "slow"}]},
    {"case": [{**_CASE, "event": {"version": 4}}]},
    {"case": [{**_CASE, "event": {"trigger_source": "TokenGeneration_Login"}}]},
    {"case": [{**_CASE, "expect": {"outcome": "claims_added", "scopes": ["a b"]}}]},
    {"case": [{k: v for k, v in _CASE.items() if k != "expect"}]},
    {"tables": {"t": {"sort_key": "sk"}}},
    # beyond the schema, the listed semantic checks:
    {"case": [{**_CASE, "event": "nowhere.json"}]},
    {"case": [{**_CASE, "settings": {"ON_MISING": "deny"}}]},
    {"case": [{**_CASE, "settings": {"LOG_LEVEL": "ERROR"}}]},
    {"case": [{**_CASE, "items": [{"id": 7}]}]},
    {"case": [{**_CASE, "items": [{"table": "profils", "id": "x"}]}]},
    {"case": [{**_CASE, "expect": {"outcome": "claims_added", "grants": ["user.grants[0]"]}}]},
    {"case": [{**_CASE, "expect": {"outcome": "denied", "id": {"a": 1}}}]},
    {"case": [_CASE, _CASE]},
    {"case": [{**_CASE, "event": {"version": 1, "scopes": ["openid"]}}]},
]


def _toml(value: Any) -> str:
    """A value as inline TOML (strings as JSON writes them, which TOML reads alike)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return json.dumps(value)


def test_case_schema_and_loader_agree(tmp_path: Path) -> None:
    for i, document in enumerate(WRONG_CASES):
        path = tmp_path / f"c{i}.cases.toml"
        text = "\n".join(f"{key} = {_toml(value)}" for key, value in document.items()).replace(
            '"v2-authentication.json"', json.dumps(str(EVENTS / "v2-authentication.json"))
        )
        path.write_text(text)
        refused_by_schema = bool(list(CASE_SCHEMA.iter_errors(_document(path.read_bytes(), True))))
        with pytest.raises(ConfigError) as caught:
            load_cases(path)
        if not refused_by_schema:
            assert _listed(str(caught.value), case_format.SEMANTIC_CHECKS), caught.value
        else:
            assert i < 8, (document, "the schema refuses what the corpus lists as semantic")
