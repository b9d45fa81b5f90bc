"""The mapping test-case format (`*.cases.toml`) and reading a case file into runnable cases.

A case file sits beside the mapping it tests (`mapping = "policy.example.toml"`) and holds
`[[case]]` entries: an event (a sample event file, or an inline `[case.event]` table filled in
as Cognito sends it), the items the store holds, how the store behaves, settings, and what the
tokens must hold (`[case.expect]`). `load_cases` decodes it into these Structs (unknown keys
refused, with the nearest known one named), checks what the Structs cannot say (see
`SEMANTIC_CHECKS`), compiles the mapping, and returns `Cases`; any problem is one `ConfigError`
naming the file, the case and the key. `make check-mapping` (`tools.check_mapping`) runs them;
`schema/cases.schema.json` is generated from these Structs (`tools.schema`).
"""

import asyncio
import copy
import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import msgspec

from shared.claims import Section
from shared.claims.file import unknown_field_hint
from shared.claims.guard import scope_reason
from shared.config import VARIABLES, Settings, load_settings
from shared.deps import Deps, build_deps
from shared.errors import ConfigError, EventError
from shared.event import CLIENT_CREDENTIALS, decode_event
from shared.invocation import Outcome, Reason
from tools.memory_store import (
    MemoryStore,
    StoreMode,
    Table,
    implied_tables,
    merge_tables,
    to_attribute_value,
)

__all__ = (
    "BASE_SETTINGS",
    "SEMANTIC_CHECKS",
    "Case",
    "CaseFile",
    "Cases",
    "CasesFile",
    "EventFile",
    "ExpectFile",
    "KeySchemaFile",
    "load_cases",
    "place_items",
    "positions",
)

ROOT: Final = Path(__file__).resolve().parents[1]
TEMPLATES: Final = {
    1: ROOT / "events" / "v1-authentication.json",
    2: ROOT / "events" / "v2-authentication.json",
    3: ROOT / "events" / "v2-authentication.json",
    CLIENT_CREDENTIALS: ROOT / "events" / "v3-client-credentials.json",
}
"""The sample events an inline event is filled in from, per version (and for machines)."""

BASE_SETTINGS: Final = {"TABLE_NAME": "profiles", "AWS_REGION": "us-east-1"}
"""What every case starts from, before the file's and the case's `settings`."""
TOOL_SETTINGS: Final = {"LOG_LEVEL": "INFO", "METRICS": "false"}
"""Set by the tool: the outcome is read from the invocation's log line."""
_NOT_SETTABLE: Final = {
    "CLAIMS_CONFIG": "the mapping under test is the file's `mapping`",
    "LOG_LEVEL": "the tool reads the outcome from the INFO log line",
    "EXPLAIN_CLIENTS": "every case is explained",
    "EXPLAIN_SAMPLE": "every case is explained",
    "AWS_ENDPOINT_URL": "cases run without a server",
    "AWS_ENDPOINT_URL_DYNAMODB": "cases run without a server",
}

SEMANTIC_CHECKS: Final = (
    ("a sample event file that cannot be read as a JSON object",
     r"`event`: cannot read|is not a JSON object"),
    ("a V1 event with scopes; a machine-client event that is not version 3 or has groups",
     r"V1 events carry no scopes|machine-client events are version 3|have no groups"),
    ("a setting the tool sets itself, or one that is no setting",
     r"cannot be set here|is not a setting"),
    ("an item value with no DynamoDB form (a date, `inf`, `nan`)", r"have no DynamoDB form"),
    ("an item in a table the mapping never reads, or without its key attributes as strings",
     r"reads no table|reads no item|needs its key attribute"),
    ("a rule or grant position (`grants`, `dropped`) the mapping does not have",
     r"the mapping has no"),
    ("token expectations on a denied case, ID-token or group ones for a machine client",
     r"issues no tokens|get no ID token|have no groups"),
    ("two cases with one name", r"another case has this name"),
    ("a table's own key that nothing says, or two key schemas for one table",
     r"nothing says its own key|one table has one key schema|two key schemas"),
    ("an invalid setting or mapping (their own messages)", r"invalid configuration|claim mapping"),
    ("a scope with whitespace (the schema's pattern, checked as the mapping checks it)",
     r"scopes must be non-empty"),
)  # fmt: skip
"""What `load_cases` refuses beyond the schema (`schema/cases.schema.json`)."""

TriggerSource = Literal[
    "TokenGeneration_HostedAuth",
    "TokenGeneration_Authentication",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
    "TokenGeneration_ClientCredentials",
]
Setting = str | int | float | bool


class EventFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An inline event: what you leave out is filled in from the sample event of that version.

    Parameters
    ----------
    version
        The event version Cognito sends: 1 (ID token only, strings), 2 or 3 (both tokens,
        scopes). Machine-client events are version 3.
    trigger_source
        `triggerSource`; `TokenGeneration_ClientCredentials` makes a machine-client event.
    client_id
        The app client id (`callerContext.clientId`).
    user_name
        `userName`: what `USER#{userName}` keys are built from.
    sub
        The user's `sub` attribute: what `{sub}` keys are built from.
    groups
        The user's groups as the request carries them (`groupsToOverride`).
    scopes
        The requested scopes (`request.scopes`, V2 and V3 only).
    client_metadata
        `request.clientMetadata`, as the client passed it.
    user_attributes
        `request.userAttributes` besides `sub` (strings, as Cognito sends them).
    """

    version: Literal[1, 2, 3] = 2
    trigger_source: TriggerSource | None = None
    client_id: str | None = None
    user_name: str | None = None
    sub: str | None = None
    groups: list[str] | None = None
    scopes: list[str] | None = None
    client_metadata: dict[str, Any] | None = None
    user_attributes: dict[str, str] | None = None


class ExpectFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What the invocation must decide, and what the tokens must hold as Cognito issues them.

    Parameters
    ----------
    outcome
        `claims_added`, `allowed_without_claims` or `denied`, as in the log line.
    reason
        Why, as in the log line: `found`, `missing`, `missing_required`, `no_key`,
        `store_error`, `bad_event`, `grant_denied`.
    id
        Claims the ID token must hold, with equal values (numbers compare exactly).
    access
        Claims the access token must hold, with equal values.
    id_absent
        Claims that must not be in the ID token.
    access_absent
        Claims that must not be in the access token.
    scopes
        The access token's scopes as issued, exactly (order ignored).
    scopes_include
        Scopes the access token must hold (others may be there too).
    scopes_exclude
        Scopes the access token must not hold.
    groups
        `cognito:groups` as issued, exactly, in order (`[]`: none).
    grants
        Exactly the grants whose `when` held, by position (`user.grants[1]`).
    dropped
        Exactly the rules whose claim was dropped, by position (`user.claims[4]`).
    """

    outcome: Outcome
    reason: Reason | None = None
    id: dict[str, Any] = {}
    access: dict[str, Any] = {}
    id_absent: list[str] = []
    access_absent: list[str] = []
    scopes: list[str] | None = None
    scopes_include: list[str] = []
    scopes_exclude: list[str] = []
    groups: list[str] | None = None
    grants: list[str] | None = None
    dropped: list[str] | None = None


class CaseFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One `[[case]]`: an event, what the store holds, and what must come out.

    Parameters
    ----------
    name
        What the case is called in messages and in JUnit XML; unique in the file.
    event
        A sample event file (JSON, relative to this file), or an inline `[case.event]` table.
    items
        What the store holds: plain JSON values, each item with its key attributes; `table =
        "..."` puts an item in another table than the primary item's.
    store
        `ok`, or how every read fails: `throttled`, `timeout`, `unavailable`.
    settings
        Settings as in Lambda (`ON_MISSING = "deny"`), over the file's `[settings]`.
    expect
        What must come out.
    """

    name: str
    event: str | EventFile
    items: list[dict[str, Any]] = []
    store: StoreMode = "ok"
    settings: dict[str, Setting] = {}
    expect: ExpectFile


class KeySchemaFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A table's key schema, where the mapping alone does not say it (an index's sort key).

    Parameters
    ----------
    key
        The partition key attribute.
    sort_key
        The sort key attribute.
    indexes
        Global secondary index name -> `[partition attribute]` or `[partition, sort]`.
    """

    key: str
    sort_key: str | None = None
    indexes: dict[str, list[str]] = {}


class CasesFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A mapping test-case file (`*.cases.toml`), run by `make check-mapping CASES=...`.

    Parameters
    ----------
    mapping
        The mapping under test, relative to this file; absent: the built-in mapping.
    settings
        Settings as in Lambda for every case (`ON_MISSING = "deny"`, `TABLE_NAME`, ...).
    tables
        Key schemas the mapping does not imply (an index's sort key), by table name.
    case
        The cases.
    """

    mapping: str | None = None
    settings: dict[str, Setting] = {}
    tables: dict[str, KeySchemaFile] = {}
    case: list[CaseFile] = []


class Case(NamedTuple):
    """One case, checked and ready to run."""

    name: str
    where: str
    """`cases `file`: case[3] "name"`: how messages name it."""
    event: dict[str, Any]
    settings: Settings
    tables: dict[str, Table]
    """The tables the case's principal reads, with their key schemas."""
    items: dict[str, list[dict[str, Any]]]
    """Table -> its items (without their `table` key)."""
    store: StoreMode
    expect: ExpectFile


class Cases(NamedTuple):
    """A case file, checked: its mapping (compiled as the Lambda compiles it) and its cases."""

    path: Path
    mapping: str
    """The mapping's path as the file names it, or `built-in`."""
    sections: tuple[Section, Section]
    """The mapping's user and machine-client sections (with the file's settings)."""
    cases: list[Case]


def positions(sections: tuple[Section, Section]) -> tuple[list[str], list[str]]:
    """Every rule position and every grant position of a mapping, users then machine clients."""
    return (
        [rule.where for section in sections for rule in section.rules],
        [grant.where for section in sections for grant in section.grants],
    )


def _setting_text(value: Setting) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _settings(where: str, settings: Mapping[str, Setting]) -> dict[str, str]:
    env = {}
    for name, value in settings.items():
        if name in _NOT_SETTABLE:
            raise ConfigError(
                f"{where}: `settings.{name}` cannot be set here: {_NOT_SETTABLE[name]}"
            )
        if name not in VARIABLES:
            near = difflib.get_close_matches(name, sorted(VARIABLES), n=1)
            hint = f": did you mean `{near[0]}`?" if near else ""
            raise ConfigError(f"{where}: `settings.{name}` is not a setting{hint}")
        env[name] = _setting_text(value)
    return env


def _inline_event(where: str, spec: EventFile) -> dict[str, Any]:
    machine = spec.trigger_source == CLIENT_CREDENTIALS
    _scopes(where, "event.scopes", spec.scopes)
    if spec.version == 1 and spec.scopes is not None:
        raise ConfigError(f"{where}: `event.scopes`: V1 events carry no scopes")
    if machine and spec.version != 3:
        raise ConfigError(f"{where}: `event.version`: machine-client events are version 3")
    if machine and spec.groups is not None:
        raise ConfigError(f"{where}: `event.groups`: machine clients have no groups")
    template = TEMPLATES[CLIENT_CREDENTIALS if machine else spec.version]
    event: dict[str, Any] = json.loads(template.read_text(encoding="utf-8"))
    event["version"] = str(spec.version)
    request = event["request"]
    if spec.trigger_source is not None:
        event["triggerSource"] = spec.trigger_source
    if spec.client_id is not None:
        event["callerContext"]["clientId"] = spec.client_id
    if spec.user_name is not None:
        event["userName"] = spec.user_name
    if spec.user_attributes is not None:
        sub = request["userAttributes"].get("sub")
        request["userAttributes"] = {"sub": sub, "cognito:user_status": "CONFIRMED"}
        request["userAttributes"].update(spec.user_attributes)
    if spec.sub is not None:
        request["userAttributes"]["sub"] = spec.sub
    if spec.groups is not None:
        request["groupConfiguration"] = {
            "groupsToOverride": list(spec.groups),
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    if spec.scopes is not None:
        request["scopes"] = list(spec.scopes)
    if spec.client_metadata is not None:
        request["clientMetadata"] = copy.deepcopy(spec.client_metadata)
    return event


def _event(where: str, folder: Path, event: str | EventFile) -> dict[str, Any]:
    if isinstance(event, EventFile):
        return _inline_event(where, event)
    path = folder / event
    try:
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: `event`: cannot read `{path}` as JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"{where}: `event`: `{path}` is not a JSON object")
    return loaded


def place_items(
    where: str, items: list[dict[str, Any]], tables: Mapping[str, Table], primary: str | None
) -> dict[str, list[dict[str, Any]]]:
    """Items by table (`table = "..."`, else `primary`), each checked against its table's keys.

    `primary` is the table of the principal's primary item; None when it reads no item.

    Raises
    ------
    ConfigError
        An item in a table nothing reads, without its key attributes as strings, or holding a
        value with no DynamoDB form.
    """
    placed: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
    for i, raw in enumerate(items):
        item = dict(raw)
        name = item.pop("table", primary)
        at = f"{where}: `items[{i}]`"
        if name is None or not tables:
            raise ConfigError(f"{at}: the mapping reads no item, from any table")
        if not isinstance(name, str) or name not in tables:
            near = difflib.get_close_matches(str(name), list(tables), n=1)
            hint = f": did you mean `{near[0]}`?" if near else f" (it reads {_listed(tables)})"
            raise ConfigError(f"{at}: the mapping reads no table `{name}`{hint}")
        table = tables[name]
        for key in (table.key, table.sort_key):
            if key is not None and not isinstance(item.get(key), str):
                raise ConfigError(
                    f"{at}: an item of table `{name}` needs its key attribute `{key}` (a string)"
                )
        try:
            to_attribute_value(item)  # what the store will write: a value with no form fails
        except ValueError as exc:
            raise ConfigError(f"{at}: {exc}") from exc
        placed[name].append(item)
    return placed


def _listed(names: object) -> str:
    return ", ".join(f"`{name}`" for name in names)  # type: ignore[attr-defined]


def _deps(where: str, env: dict[str, str], loop: asyncio.AbstractEventLoop) -> Deps:
    """The dependencies a container with these settings builds (the mapping compiled as the
    Lambda compiles it), around an empty store."""
    try:
        return build_deps(load_settings(env), MemoryStore({}, {}), loop)
    except ConfigError as exc:
        if str(exc).startswith("claim mapping"):
            raise
        raise ConfigError(f"{where}: {exc}") from None


def _prepared(
    where: str, case: CaseFile, event: dict[str, Any], env: dict[str, str],
    declared: dict[str, Table], loop: asyncio.AbstractEventLoop,
) -> Case:  # fmt: skip
    """The case with its settings parsed, its principal's tables, and its items placed."""
    deps = _deps(where, env, loop)
    settings = deps.settings
    try:
        principal = deps.principal(decode_event(event))
    except EventError:  # an unusable event reads nothing: its items never matter
        principal = deps.user
    lookup = principal.lookup
    implied = implied_tables(lookup, where) if lookup is not None else {}
    tables = merge_tables(where, implied, declared)
    primary = lookup.primary.table if lookup is not None else settings.table_name
    return Case(
        name=case.name,
        where=where,
        event=event,
        settings=settings,
        tables=tables,
        items=place_items(where, case.items, tables, primary),
        store=case.store,
        expect=case.expect,
    )


def _scopes(where: str, field: str, scopes: list[str] | None) -> None:
    for scope in scopes or ():
        if reason := scope_reason(scope):
            raise ConfigError(f"{where}: `{field}`: `{scope!r}`: {reason}")


def _expect(
    where: str, expect: ExpectFile, sections: tuple[Section, Section], machine: bool
) -> None:
    for field in ("scopes", "scopes_include", "scopes_exclude"):
        _scopes(where, f"expect.{field}", getattr(expect, field))
    rule_positions, grant_positions = positions(sections)
    for field, known in (("grants", grant_positions), ("dropped", rule_positions)):
        for position in getattr(expect, field) or ():
            if position not in known:
                near = difflib.get_close_matches(position, known, n=1)
                hint = f": did you mean `{near[0]}`?" if near else f" (it has {len(known)})"
                raise ConfigError(
                    f"{where}: `expect.{field}`: the mapping has no `{position}`{hint}"
                )
    tokens = [
        field
        for field in ("id", "access", "id_absent", "access_absent", "scopes", "scopes_include",
                      "scopes_exclude", "groups")
        if getattr(expect, field) not in ({}, [], None)
    ]  # fmt: skip
    if expect.outcome == "denied" and tokens:
        raise ConfigError(
            f"{where}: `expect.{tokens[0]}`: a denied sign-in issues no tokens to check"
        )
    if machine:
        for field in ("id", "id_absent"):
            if getattr(expect, field):
                raise ConfigError(f"{where}: `expect.{field}`: machine clients get no ID token")
        if expect.groups:
            raise ConfigError(f"{where}: `expect.groups`: machine clients have no groups")


def _decode(path: Path) -> CasesFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cases `{path}`: cannot read it: {exc.strerror}") from exc
    try:
        return msgspec.toml.decode(data, type=CasesFile)
    except msgspec.ValidationError as exc:
        message = str(exc)
        raise ConfigError(
            f"cases `{path}`{_case_named(data, message)}: {message}"
            f"{unknown_field_hint(message, CasesFile)}"
        ) from exc
    except (msgspec.DecodeError, ValueError) as exc:
        raise ConfigError(f"cases `{path}`: not valid TOML: {exc}") from exc


def _case_named(data: bytes, message: str) -> str:
    """` case "name"` when the error is inside a case that has a name."""
    found = re.search(r"\$\.case\[(\d+)\]", message)
    if found is None:
        return ""
    try:
        raw = msgspec.toml.decode(data)
        name = raw["case"][int(found.group(1))]["name"]
    except (msgspec.DecodeError, ValueError, LookupError, TypeError):
        return ""
    return f", case {json.dumps(name)}" if isinstance(name, str) else ""


def _tables(where: str, declared: Mapping[str, KeySchemaFile]) -> dict[str, Table]:
    tables = {}
    for name, table in declared.items():
        indexes: dict[str, tuple[str, str | None]] = {}
        for index, keys in table.indexes.items():
            if not 1 <= len(keys) <= 2:
                raise ConfigError(
                    f"{where}: `tables.{name}.indexes.{index}`: give `[partition]` or "
                    "`[partition, sort]`"
                )
            indexes[index] = (keys[0], keys[1] if len(keys) == 2 else None)
        tables[name] = Table(key=table.key, sort_key=table.sort_key, indexes=indexes)
    return tables


def load_cases(path: Path) -> Cases:
    """Read, check and prepare a case file and its mapping.

    Raises
    ------
    ConfigError
        The case file or the mapping is invalid; the message names the file, the case and
        the key.
    """
    raw = _decode(path)
    where = f"cases `{path}`"
    base = _settings(where, raw.settings)
    if raw.mapping is not None:  # the tool names the mapping, as `CLAIMS_CONFIG` would
        base["CLAIMS_CONFIG"] = str(path.parent / raw.mapping)
    declared = _tables(where, raw.tables)
    cases: list[Case] = []
    names: set[str] = set()
    loop = asyncio.new_event_loop()  # the deps need one; no case runs on it
    try:
        probe = _deps(where, {**BASE_SETTINGS, **base, **TOOL_SETTINGS}, loop)
        sections = (probe.user.section, probe.client.section)
        for i, case in enumerate(raw.case):
            named = f"{where}: case[{i}] {json.dumps(case.name)}"
            if case.name in names:
                raise ConfigError(f"{named}: another case has this name")
            names.add(case.name)
            event = _event(named, path.parent, case.event)
            machine = event.get("triggerSource") == CLIENT_CREDENTIALS
            _expect(named, case.expect, sections, machine)
            env = {**BASE_SETTINGS, **base, **_settings(named, case.settings), **TOOL_SETTINGS}
            cases.append(_prepared(named, case, event, env, declared, loop))
    finally:
        loop.close()
    return Cases(path, raw.mapping or "built-in", sections, cases)
