"""`make schema`: JSON Schemas for `CLAIMS_CONFIG` files and mapping case files.

Generated from the very Structs the loaders decode (`shared.claims.file.MappingFile`,
`tools.cases.CasesFile`) by `msgspec.json.schema`, so fields, types, defaults, required keys
and refused unknown keys are the loader's own. On top: a description for every object and field
(a Struct's docstring summary; a field's from the Struct's `Parameters` section, or for the
mapping's Structs from `MAPPING_FIELDS` below, which keeps `shared/claims/file.py` small),
enums (trigger sources), and patterns (no whitespace in a scope, no padding in a name). Every
example mapping and case file starts with `#:schema ../schema/<name>.schema.json`, which TOML
editors (Taplo, Tombi) follow to validate and complete as one types.

What the loader refuses beyond the schema is listed: `SEMANTIC_CHECKS` here (the mapping) and
`tools.cases.SEMANTIC_CHECKS` (case files); `tests/unit/test_schema.py` holds both to it.

`python -m tools.schema` writes `schema/claims.schema.json` and `schema/cases.schema.json`.
"""

import inspect
import json
import sys
from pathlib import Path
from typing import Any, Final

import msgspec
from msgspec import inspect as types

from shared.claims.file import MappingFile
from shared.claims.guard import TRIGGER_SOURCES
from shared.errors import ConfigError
from tools.cases import CasesFile
from tools.cli import run

__all__ = ("MAPPING_FIELDS", "SCHEMAS", "SEMANTIC_CHECKS", "build_schema", "main", "render")

ROOT: Final = Path(__file__).resolve().parents[1]
DRAFT: Final = "http://json-schema.org/draft-07/schema#"
"""Draft 7, written within what Taplo supports (draft 4's keywords): `definitions`, and a `$ref`
with a description wrapped in `allOf` (siblings of a `$ref` are ignored)."""

SEMANTIC_CHECKS: Final = (
    ("a reserved, `cognito:` or `dev:` claim, or `aud` in the ID token",
     r"reserved by Cognito|`cognito:` claims|`dev:` claims|claim names must be non-empty"),
    ("an object or array where Cognito takes none (`email_verified`, ...)",
     r"may not hold an object or array"),
    ("a claim value with no JSON form: a date, `inf`, `nan`, null",
     r"are not JSON values|is not a claim value|is not JSON"),
    ("one claim set twice for one token", r"is also set by"),
    ("`required` with `default`, or a default of another type than the rule's",
     r"contradict each other|`default` is not of type"),
    ("a condition that can never hold", r"can never hold|never holds"),
    ("a scope added and suppressed, or a group added and removed, in one grant", r"both name"),
    ("`deny` with other actions, a grant without `when` or without an action",
     r"would never apply|a grant needs"),
    ("a `when` with no key", r"needs at least one key"),
    ("ID-token settings, groups or group conditions in `[client]`", r"machine clients"),
    ("an unknown source, a source no rule reads, a query rule of no list type, a name twice",
     r"unknown source|no rule reads the source|yields a list|is taken by"),
    ("a key template: a placeholder typo, `{item.x}` in a query, no event value, `{userName}` as "
     "a prefix", r"placeholder|not a valid key template|cannot select one user's items"),
    ("a `clientMetadata` key not in `[request] client_metadata`",
     r"is not listed in `\[request\] client_metadata`|is not allowlisted"),
    ("static claims over 256 KB a token (grants' included, as if every one held)",
     r"static claims take|static and grant claims"),
    ("a `when` on `clientMetadata` alone that grants or decides a claim",
     r"on `clientMetadata` alone may not"),
    ("a key without the principal's own id, or whose partition attribute cannot be told",
     r"the principal's own id|which attribute is the partition key|can spell another user's key"),
    ("an attribute path with an empty part, a blank or padded attribute name",
     r"dotted path|attribute names must be non-empty"),
    ("a user attribute or identity field the trust list (`[request] user_attributes`) lacks",
     r"is not listed in `\[request\] user_attributes`"),
    ("an event rule's type or `parse` that does not fit what it reads",
     r"user attributes are strings|`parse` reads a user attribute|needs `parse`|"
     r"`source = \"identity\"` reads|the identity's `\w+` is a"),
    ("groups from an attribute: a missing `parse` or `allow`, settings without "
     "`from_attribute`, two overrides, a `rename` nothing admits",
     r"need `from_attribute`|needs `allow`|both override the groups|never admit"),
    ("a source named like the event's own (`event`, `identity`)", r"is the event's"),
    ("an integer written `5.0` in JSON (JSON Schema counts it as an integer, msgspec does not)",
     r"Expected `int`, got `float`"),
)  # fmt: skip
"""What the loader refuses beyond the schema, each with a pattern its message matches: reserved
claims, contradictions, references between parts of the file, and Cognito's and DynamoDB's
limits."""

_SCOPE: Final = {"type": "string", "pattern": r"^\S+$"}
_NAME: Final = {"type": "string", "pattern": r"^\S([\s\S]*\S)?$"}
_NAMES: Final = {"type": "array", "items": _NAME, "minItems": 1}
_DYNAMODB_NAME: Final = {
    "anyOf": [{"type": "string", "pattern": r"^[A-Za-z0-9_.-]{3,255}$"}, {"type": "null"}]
}
_SOURCE: Final = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}

MAPPING_FIELDS: Final[dict[str, dict[str, str]]] = {
    "MappingFile": {
        "user": "Users: items at `USER#<userName>` by default; ID and access tokens.",
        "client": "Machine clients (V3 client credentials): the access token only, no groups.",
        "request": "Which parts of the request the mapping may read.",
        "tables": "Key attributes of tables the settings do not describe, by table name.",
    },
    "TableFile": {
        "key_attributes": "The table's key attributes: the partition key, then the sort key.",
    },
    "RequestFile": {
        "client_metadata": "The only `clientMetadata` keys conditions and key templates read.",
        "user_attributes": "The only user attributes rules and conditions read "
        "(`request.userAttributes`; `identities` for the identity).",
    },
    "SectionFile": {
        "item": "The primary item's table and key; absent: `TABLE_NAME`, `KEY_ATTRIBUTE` and "
        "`USER_KEY` / `CLIENT_KEY`.",
        "related": "Items read after the primary one, their keys from its attributes (at most 5).",
        "query": "Queries run beside the primary read, folded into lists (at most 3).",
        "claims": "Attribute rules: copy an attribute of a source into a claim.",
        "static": "Constant claims per token.",
        "suppress": "Claims to suppress; suppression wins over every addition.",
        "scopes": "Access-token scopes to add and suppress.",
        "groups": "Attributes overriding the user's groups, IAM roles and preferred role.",
        "grants": "Conditional changes applied after the mapping, in file order.",
    },
    "ItemFile": {
        "table": "The table; default `TABLE_NAME`.",
        "key": "1 or 2 attributes (partition, sort) -> templates: `{userName}`, `{sub}`, "
        "`{clientId}`, `{userPoolId}`.",
    },
    "RelatedFile": {
        "name": 'The source name rules read it by (`source = "tenant"`).',
        "table": "The table; default the primary item's.",
        "key": "Attributes -> templates; also `{item.<dotted.path>}` and `{clientMetadata.<key>}`.",
    },
    "QueryFile": {
        "name": "The source name rules read it by; its rules are lists.",
        "table": "The table; default the primary item's.",
        "index": "A global secondary index to query, or none.",
        "partition": "One attribute -> its template (event values and `{clientMetadata.<key>}`).",
        "sort_begins_with": "One sort attribute -> the prefix its values must begin with.",
        "limit": "Items read at most (one page), 1..100.",
    },
    "RuleFile": {
        "source": "What it reads: the primary item (`item`), a related item, a query, the "
        "event's user attributes (`event`) or the federated identity (`identity`).",
        "attribute": "The attribute; a dotted path reaches into maps (`profile.plan`).",
        "claim": "The claim name; default the attribute.",
        "tokens": "`id`, `access` or both.",
        "type": "The value type the claim must have; any other value is dropped, never sent.",
        "parse": "How a `string_list` is read from one string attribute of the event.",
        "default": "Used when the attribute is absent or null.",
        "required": "Absent: the profile is handled as missing (`ON_MISSING`).",
        "priority": "Past a token budget (`ID_TOKEN_MAX_BYTES`), the lowest is shed first "
        "(default 0); a `required` rule's claim never is.",
        "when": "The rule applies only when this condition holds.",
    },
    "StaticFile": {
        "id": "Claims for the ID token, typed as written.",
        "access": "Claims for the access token, typed as written.",
    },
    "Suppress": {
        "id": "Claims to suppress in the ID token.",
        "access": "Claims to suppress in the access token.",
        "id_from": "A list attribute holding more names to suppress in the ID token.",
        "access_from": "A list attribute holding more names to suppress in the access token.",
    },
    "Scopes": {
        "add": "Scopes to add (no whitespace in a scope).",
        "add_from": "A list attribute holding more scopes to add.",
        "suppress": "Scopes to suppress; suppression wins.",
        "suppress_from": "A list attribute holding more scopes to suppress.",
    },
    "Groups": {
        "groups_from": "A list attribute: the groups (`cognito:groups`); absent keeps the user's.",
        "iam_roles_from": "A list attribute: the IAM role ARNs (`cognito:roles`).",
        "preferred_role_from": "A string attribute: the preferred role.",
        "from_attribute": "A user attribute parsed into groups (`parse`), filtered by `allow` "
        "and `allow_prefix`, renamed by `rename`.",
        "parse": "How `from_attribute` is read as a list.",
        "allow": "The group names from the attribute that count.",
        "allow_prefix": "Group names from the attribute that start with this count too.",
        "rename": "A group name from the attribute -> the group it becomes.",
        "mode": "`replace` the request's groups, or `add` to them (unset: `add`).",
    },
    "GrantFile": {
        "when": "The condition; required.",
        "scopes_add": "Access-token scopes to add (never one suppressed anywhere).",
        "scopes_suppress": "Access-token scopes to suppress; wins over every addition.",
        "claims": "Claims per token (`{ id = {...}, access = {...} }`); a later grant wins.",
        "groups_add": "Groups to add to the groups the mapping produced.",
        "groups_remove": "Groups to remove; wins over every `groups_add`.",
        "deny": "Fail the sign-in with a fixed message; alone in its grant.",
    },
    "WhenFile": {
        "clients": "The app client id is one of these.",
        "trigger_sources": "`triggerSource` is one of these.",
        "groups_any": "The user is in at least one of these groups.",
        "groups_all": "The user is in every one of these groups.",
        "groups_none": "The user is in none of these groups.",
        "scopes_any": "At least one of these scopes was requested.",
        "attribute_equals": "Each dotted path of the primary item holds exactly this string, "
        "number or boolean.",
        "metadata_equals": "Each allowlisted `clientMetadata` key holds exactly this string.",
        "providers_any": "The federated identity's provider is one of these.",
        "federated": "`true`: the user has a provider identity; `false`: none.",
        "user_attribute_equals": "Each allowlisted user attribute holds exactly this string.",
    },
}
"""Field descriptions of the mapping's Structs (their docstrings say what each object is)."""

_EXTRAS: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("WhenFile", "clients"): {"anyOf": [_NAMES, {"type": "null"}]},
    ("WhenFile", "trigger_sources"): {
        "anyOf": [
            {"type": "array", "items": {"enum": sorted(TRIGGER_SOURCES)}, "minItems": 1},
            {"type": "null"},
        ]
    },
    ("WhenFile", "groups_any"): {"anyOf": [_NAMES, {"type": "null"}]},
    ("WhenFile", "groups_all"): {"anyOf": [_NAMES, {"type": "null"}]},
    ("WhenFile", "groups_none"): {"anyOf": [_NAMES, {"type": "null"}]},
    ("WhenFile", "scopes_any"): {
        "anyOf": [{"type": "array", "items": _SCOPE, "minItems": 1}, {"type": "null"}]
    },
    ("WhenFile", "attribute_equals"): {"minProperties": 1},
    ("WhenFile", "providers_any"): {"anyOf": [_NAMES, {"type": "null"}]},
    ("WhenFile", "user_attribute_equals"): {"minProperties": 1},
    ("Groups", "allow"): {"items": _NAME},
    ("Groups", "allow_prefix"): {"anyOf": [_NAME, {"type": "null"}]},
    ("WhenFile", "metadata_equals"): {"minProperties": 1},
    ("Scopes", "add"): {"items": _SCOPE},
    ("Scopes", "suppress"): {"items": _SCOPE},
    ("GrantFile", "scopes_add"): {"items": _SCOPE},
    ("GrantFile", "scopes_suppress"): {"items": _SCOPE},
    ("GrantFile", "groups_add"): {"items": _NAME},
    ("GrantFile", "groups_remove"): {"items": _NAME},
    ("RuleFile", "tokens"): {"minItems": 1},
    ("TableFile", "key_attributes"): {
        "items": _NAME,
        "minItems": 1,
        "maxItems": 2,
        "uniqueItems": True,
    },
    ("QueryFile", "limit"): {"minimum": 1, "maximum": 100},
    ("ItemFile", "table"): _DYNAMODB_NAME,
    ("RelatedFile", "table"): _DYNAMODB_NAME,
    ("QueryFile", "table"): _DYNAMODB_NAME,
    ("QueryFile", "index"): _DYNAMODB_NAME,
    ("RelatedFile", "name"): _SOURCE,
    ("QueryFile", "name"): _SOURCE,
    ("RuleFile", "source"): _SOURCE,
    ("QueryFile", "partition"): {"minProperties": 1, "maxProperties": 1},
    ("QueryFile", "sort_begins_with"): {"minProperties": 1, "maxProperties": 1},
    ("ItemFile", "key"): {"minProperties": 1, "maxProperties": 2},
    ("RelatedFile", "key"): {"minProperties": 1, "maxProperties": 2},
    ("SectionFile", "related"): {"maxItems": 5},
    ("SectionFile", "query"): {"maxItems": 3},
    ("EventFile", "scopes"): {"anyOf": [{"type": "array", "items": _SCOPE}, {"type": "null"}]},
    ("ExpectFile", "scopes"): {"anyOf": [{"type": "array", "items": _SCOPE}, {"type": "null"}]},
    ("ExpectFile", "scopes_include"): {"items": _SCOPE},
    ("ExpectFile", "scopes_exclude"): {"items": _SCOPE},
}
"""What a field's schema gets beyond its type: enums, patterns, bounds (the loader checks each)."""

SCHEMAS: Final = {
    "schema/claims.schema.json": (
        MappingFile,
        "cognito-pretoken claim mapping (CLAIMS_CONFIG)",
    ),
    "schema/cases.schema.json": (CasesFile, "cognito-pretoken mapping test cases (*.cases.toml)"),
}
"""Each schema file (relative to the project root): its root Struct and its title."""


def _structs(root: type) -> dict[str, type]:
    """Every Struct reachable from `root`, by name (as the schema's definitions name them)."""
    found: dict[str, type] = {}
    pending: list[object] = [types.type_info(root)]
    while pending:
        kind = pending.pop()
        if isinstance(kind, types.StructType):
            if kind.cls.__name__ in found:
                continue
            found[kind.cls.__name__] = kind.cls
            pending += [field.type for field in kind.fields]
        elif isinstance(kind, types.UnionType):
            pending += kind.types
        elif isinstance(kind, types.ListType | types.VarTupleType):
            pending.append(kind.item_type)
        elif isinstance(kind, types.DictType):
            pending.append(kind.value_type)
    return found


def _docstring(cls: type) -> tuple[str, dict[str, str]]:
    """A Struct docstring's summary, and its `Parameters` section: field -> description."""
    text = inspect.cleandoc(cls.__doc__ or "")
    summary, _, rest = text.partition("\n\nParameters\n----------\n")
    fields: dict[str, str] = {}
    names: list[str] = []
    for line in rest.splitlines():
        if line and not line.startswith(" "):
            names = [name.strip() for name in line.split(",")]
        elif line.strip():
            for name in names:
                fields[name] = f"{fields.get(name, '')} {line.strip()}".strip()
    return " ".join(summary.split()), fields


def build_schema(root: type, title: str) -> dict[str, Any]:
    """The JSON Schema of `root` with descriptions, enums and patterns.

    Raises
    ------
    ValueError
        A field has no description, or a description names no field: the Structs and their
        documentation drifted apart.
    """
    schema: dict[str, Any] = msgspec.json.schema(root)
    structs = _structs(root)
    for name, definition in schema["$defs"].items():
        summary, documented = _docstring(structs[name])
        documented = {**documented, **MAPPING_FIELDS.get(name, {})}
        definition["description"] = summary
        properties = definition.get("properties", {})
        if stale := set(documented) - set(properties):
            raise ValueError(f"{name}: described but not a field: {sorted(stale)}")
        for field, prop in properties.items():
            if field not in documented:
                raise ValueError(f"{name}.{field}: no description")
            if extra := _EXTRAS.get((name, field)):
                prop.update(extra)
                if "anyOf" in extra:
                    prop.pop("type", None)
                    prop.pop("items", None)
            prop["description"] = documented[field]
            if "$ref" in prop:
                prop["allOf"] = [{"$ref": prop.pop("$ref")}]
    text = json.dumps(schema).replace('"#/$defs/', '"#/definitions/')
    draft7: dict[str, Any] = json.loads(text)
    definitions = draft7.pop("$defs")
    description = definitions[root.__name__]["description"]
    return {"$schema": DRAFT, "title": title, "description": description, **draft7,
            "definitions": definitions}  # fmt: skip


def render(schema: dict[str, Any]) -> str:
    """The schema as the committed file holds it: indented JSON, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    del argv

    def write() -> int:
        for relative, (root, title) in SCHEMAS.items():
            path = ROOT / relative
            path.parent.mkdir(exist_ok=True)
            try:
                text = render(build_schema(root, title))
            except ValueError as exc:  # a Struct and its documentation drifted apart
                raise ConfigError(f"`{relative}`: {exc}") from None
            path.write_text(text, encoding="utf-8")
            print(f"{relative}: {len(text.encode())} bytes")
        return 0

    return run(write)


if __name__ == "__main__":
    sys.exit(main())
