"""The mapping compiler: a decoded `CLAIMS_CONFIG` file -> checked, compiled `Rules`.

Every Cognito rule is checked here, once, at init: any problem raises one `ConfigError` naming
the file, the rule and what is wrong, and the container does not start, so a bad mapping never
fails a sign-in. Each token's static claims may take at most 256 KB of JSON, so that with the
run-time claims budget no answer comes near Lambda's 6 MB response limit (the projections' 4 KB
expression limit is checked by `shared.lookup`). `load_rules` reads a file; `parse_rules`
compiles a document already in memory.
"""

from pathlib import Path
from typing import Any, Final

import msgspec

from shared.claims.check import Checker, SectionName, listed, metadata_alone
from shared.claims.event_checks import compile_attribute_groups, compile_event_read, settle_reads
from shared.claims.file import (
    GrantFile,
    MappingFile,
    RuleFile,
    SectionFile,
    decode_file,
    read_file,
)
from shared.claims.from_event import EVENT_SOURCES
from shared.claims.guard import (
    NO_OBJECT_ID_CLAIMS,
    Token,
    fits_type,
    plain_problem,
    scope_reason,
    suppress_reason,
)
from shared.claims.model import ClaimRule, Grant, Rules, Section
from shared.claims.reads import TableKeys, check_sources, compile_reads, keyed_by_principal
from shared.errors import ConfigError

__all__ = ("DEFAULT_TABLE_KEYS", "load_rules", "parse_rules")

DEFAULT_TABLE_KEYS: Final[TableKeys] = {None: ("id",)}
"""The settings' default: the default table's partition key is `id`, no sort key."""


def _compile_rule(check: Checker, at: str, rule: RuleFile, section: SectionName) -> ClaimRule:
    claim = rule.claim if rule.claim is not None else rule.attribute
    where = f"{at} (`{rule.attribute}`)"
    path = tuple(rule.attribute.split("."))
    event = None
    if rule.source in EVENT_SOURCES:
        # A user attribute's name is one key, dots and all (`custom:a.b`).
        path = (rule.attribute,)
        event = compile_event_read(check, where, rule, section)
    elif rule.parse is not None:
        check.problems.append(
            f'{where}: `parse` reads a user attribute: only with source = "event"'
        )
    if not all(path):
        check.problems.append(f"{where}: `attribute` must be a name or a dotted path of names")
    claim_type = event.type if event is not None else rule.type
    if not rule.tokens:
        check.problems.append(f"{where}: `tokens` must name `id`, `access` or both")
    if section == "client" and "id" in rule.tokens:
        check.problems.append(f"{where}: machine clients get no ID token; use `access`")
    for token in dict.fromkeys(rule.tokens):
        check.claim(where, claim, token)
        if token == "id" and claim in NO_OBJECT_ID_CLAIMS and claim_type in ("json", "string_list"):
            check.problems.append(f"{where}: `{claim}` may not hold an object or array")
    default = None
    if rule.default is not msgspec.UNSET:
        if rule.required:
            check.problems.append(f"{where}: `required` and `default` contradict each other")
        elif problem := plain_problem(rule.default):
            check.problems.append(f"{where}: `default` of claim `{claim}`: {problem}")
        elif not fits_type(rule.default, claim_type):
            check.problems.append(f"{where}: `default` is not of type `{claim_type}`")
        else:
            default = rule.default
    return ClaimRule(
        path=path,
        claim=claim,
        tokens=tuple(dict.fromkeys(rule.tokens)),
        type=claim_type,
        default=default,
        required=rule.required,
        priority=rule.priority,
        source=rule.source,
        event=event,
        where=at,
    )


def _grant_actions(check: Checker, where: str, raw: GrantFile) -> None:
    actions = [
        field
        for field, value in (
            ("scopes_add", raw.scopes_add),
            ("scopes_suppress", raw.scopes_suppress),
            ("claims", raw.claims.id or raw.claims.access),
            ("groups_add", raw.groups_add),
            ("groups_remove", raw.groups_remove),
        )
        if value
    ]
    if raw.deny and actions:
        check.problems.append(
            f"{where}: `deny` fails the sign-in, so {listed(actions)} would never apply: "
            "write them in another grant"
        )
    elif not raw.deny and not actions:
        check.problems.append(
            f"{where}: a grant needs an action (`scopes_add`, `scopes_suppress`, `claims`, "
            "`groups_add`, `groups_remove` or `deny = true`)"
        )
    for field, scopes in (("scopes_add", raw.scopes_add), ("scopes_suppress", raw.scopes_suppress)):
        for scope in scopes:
            if reason := scope_reason(scope):
                check.problems.append(f"{where}: `{field}`: `{scope!r}`: {reason}")
    if both := sorted(set(raw.scopes_add) & set(raw.scopes_suppress)):
        check.problems.append(
            f"{where}: `scopes_add` and `scopes_suppress` both name {listed(both)}"
        )


def _compile_grant(
    check: Checker, where: str, raw: GrantFile, section: SectionName, allowed: frozenset[str]
) -> Grant | None:
    before = len(check.problems)
    if raw.when is None:
        check.problems.append(
            f"{where}: a grant needs `when` (unconditional changes belong in the section itself)"
        )
    when = check.condition(where, raw.when, section, allowed)
    _grant_actions(check, where, raw)
    statics: tuple[tuple[Token, dict[str, Any]], ...] = (
        ("id", raw.claims.id),
        ("access", raw.claims.access),
    )
    for token, claims in statics:
        for claim, value in claims.items():
            check.claim(f"{where}.claims.{token}", claim, token, value)
    if section == "client":
        if raw.claims.id:
            check.problems.append(f"{where}: machine clients get no ID token (`claims.id`)")
        if raw.groups_add or raw.groups_remove:
            check.problems.append(f"{where}: machine clients have no groups to edit")
    check.names(where, "groups_add", raw.groups_add or None)
    check.names(where, "groups_remove", raw.groups_remove or None)
    if both := sorted(set(raw.groups_add) & set(raw.groups_remove)):
        check.problems.append(f"{where}: `groups_add` and `groups_remove` both name {listed(both)}")
    if raw.when is not None and metadata_alone(raw.when):
        added = [
            field
            for field, value in (
                ("scopes_add", raw.scopes_add),
                ("claims", raw.claims.id or raw.claims.access),
                ("groups_add", raw.groups_add),
            )
            if value
        ]
        if added:
            check.problems.append(
                f"{where}: a `when` on `clientMetadata` alone may not grant {listed(added)}: "
                "the caller chooses `clientMetadata`, so it may only select among what the item "
                "grants: add an `attribute_equals` on the item to the same `when`"
            )
    if when is None or len(check.problems) > before:
        return None
    return Grant(
        where=where,
        when=when,
        deny=raw.deny,
        scopes_add=tuple(dict.fromkeys(raw.scopes_add)),
        scopes_suppress=tuple(dict.fromkeys(raw.scopes_suppress)),
        id_claims=tuple(raw.claims.id.items()),
        access_claims=tuple(raw.claims.access.items()),
        groups_add=tuple(dict.fromkeys(raw.groups_add)),
        groups_remove=tuple(dict.fromkeys(raw.groups_remove)),
    )


def _check_claims(
    check: Checker, name: SectionName, raw: SectionFile, rules: tuple[ClaimRule, ...]
) -> None:
    """Static claims are valid and bounded; no claim is set twice for one token."""
    seen: dict[tuple[Token, str], str] = {}
    statics: tuple[tuple[Token, dict[str, Any]], ...] = (
        ("id", raw.static.id),
        ("access", raw.static.access),
    )
    for token, static in statics:
        for claim, value in static.items():
            check.claim(f"{name}.static.{token}", claim, token, value)
            seen[(token, claim)] = f"{name}.static.{token}"
        check.static_size(f"{name}.static.{token}", static)
    for i, rule in enumerate(rules):
        for token in rule.tokens:
            if (token, rule.claim) in seen:
                check.problems.append(
                    f"{name}.claims[{i}]: claim `{rule.claim}` is also set by "
                    f"{seen[(token, rule.claim)]}"
                )
            seen[(token, rule.claim)] = f"{name}.claims[{i}]"


def _check_extras(check: Checker, name: SectionName, raw: SectionFile) -> None:
    """`[user.suppress]`, `[user.scopes]` and `[user.groups]`."""
    for token, names in (("id", raw.suppress.id), ("access", raw.suppress.access)):
        for claim in names:
            if reason := suppress_reason(claim):
                check.problems.append(f"{name}.suppress.{token}: `{claim}`: {reason}")
    for kind, scopes in (("add", raw.scopes.add), ("suppress", raw.scopes.suppress)):
        for scope in scopes:
            if reason := scope_reason(scope):
                check.problems.append(f"{name}.scopes.{kind}: `{scope!r}`: {reason}")
    for part_name, part in (
        ("suppress", raw.suppress),
        ("scopes", raw.scopes),
        ("groups", raw.groups),
    ):
        for field in part.__struct_fields__:
            if field.endswith("_from"):
                check.attribute(f"{name}.{part_name}.{field}", getattr(part, field))
    if name == "client":
        if raw.static.id or raw.suppress.id or raw.suppress.id_from:
            check.problems.append(
                "client: machine clients get no ID token (static.id, suppress.id)"
            )
        if any(msgspec.structs.astuple(raw.groups)):
            check.problems.append("client.groups: machine clients have no groups")


def _compile_section(
    check: Checker,
    name: SectionName,
    raw: SectionFile,
    allowed: frozenset[str],
    table_keys: TableKeys,
) -> Section:
    rules = tuple(
        _compile_rule(check, f"{name}.claims[{i}]", rule, name) for i, rule in enumerate(raw.claims)
    )
    lookup = compile_reads(check, name, raw, allowed, table_keys)
    check_sources(check, name, raw, rules, lookup)
    for i, (rule, raw_rule) in enumerate(zip(rules, raw.claims, strict=True)):
        when = raw_rule.when
        if (
            when is not None
            and metadata_alone(when)
            and not keyed_by_principal(lookup, rule.source, name)
        ):
            check.problems.append(
                f"{name}.claims[{i}]: a `when` on `clientMetadata` alone may not decide a "
                "claim of the item (the caller chooses `clientMetadata`): add an "
                "`attribute_equals` on the item to the same `when`, or read the claim from a "
                "related item or query keyed by the principal"
            )
    # Conditions on rules, then the grants, compiled beside the rules.
    rules = tuple(
        msgspec.structs.replace(
            rule, when=check.condition(f"{name}.claims[{i}]", raw_rule.when, name, allowed)
        )
        if raw_rule.when is not None
        else rule
        for i, (rule, raw_rule) in enumerate(zip(rules, raw.claims, strict=True))
    )
    grants = tuple(
        grant
        for i, raw_grant in enumerate(raw.grants)
        if (grant := _compile_grant(check, f"{name}.grants[{i}]", raw_grant, name, allowed))
    )
    _check_claims(check, name, raw, rules)
    granted = [grant.claims for grant in raw.grants]
    if any(claims.id or claims.access for claims in granted):
        check.granted_size(name, "id", raw.static.id, [claims.id for claims in granted])
        check.granted_size(name, "access", raw.static.access, [c.access for c in granted])
    _check_extras(check, name, raw)
    event_groups = compile_attribute_groups(check, name, raw.groups) if name == "user" else None
    return Section(
        rules=rules,
        static_id=tuple(raw.static.id.items()),
        static_access=tuple(raw.static.access.items()),
        suppress=raw.suppress,
        scopes=raw.scopes,
        groups=raw.groups,
        lookup=lookup,
        grants=grants,
        event_groups=event_groups,
    )


def _table_keys(check: Checker, raw: MappingFile, defaults: TableKeys) -> TableKeys:
    """The key attributes of every table whose schema is known: the file's, the settings'."""
    keys = dict(defaults)
    for table, declared in raw.tables.items():
        names = declared.key_attributes
        if not 1 <= len(names) <= 2 or len(set(names)) != len(names):
            check.problems.append(
                f"tables.{table}: `key_attributes` names the partition key, then the sort key "
                f"if the table has one, got {len(names)}"
            )
        for attribute in names:
            check.attribute(f"tables.{table}.key_attributes", attribute)
        keys[table] = tuple(names)
    return keys


def _compile(check: Checker, raw: MappingFile, defaults: TableKeys) -> Rules:
    allowed = frozenset(raw.request.client_metadata)
    for key in raw.request.client_metadata:
        check.attribute("request.client_metadata", key)
    for name in raw.request.user_attributes:
        check.attribute("request.user_attributes", name)
    check.user_attributes = frozenset(raw.request.user_attributes)
    table_keys = _table_keys(check, raw, defaults)
    user, client = settle_reads(
        _compile_section(check, "user", raw.user, allowed, table_keys),
        _compile_section(check, "client", raw.client, allowed, table_keys),
    )
    return Rules(
        user=user,
        client=client,
        client_metadata=tuple(dict.fromkeys(raw.request.client_metadata)),
        user_attributes=tuple(dict.fromkeys(raw.request.user_attributes)),
    )


def parse_rules(
    data: bytes, *, source: str, toml: bool, table_keys: TableKeys = DEFAULT_TABLE_KEYS
) -> Rules:
    """Decode, check and compile a mapping document.

    Parameters
    ----------
    data
        The file's bytes: UTF-8 text (a leading byte-order mark is ignored).
    source
        Its name, for messages.
    toml
        TOML when true, JSON otherwise.
    table_keys
        The key attributes of the tables known from the settings (`KEY_ATTRIBUTE`,
        `SORT_KEY_ATTRIBUTE`), by table name, None for the default table; the file's
        `[tables]` add to them.

    Raises
    ------
    ConfigError
        Naming `source`, the rule and every problem found; whatever the bytes, nothing else.
    """
    prefix = f"claim mapping `{source}`: "
    raw = decode_file(data, source=source, toml=toml)
    check = Checker()
    try:
        rules = _compile(check, raw, table_keys)
    except RecursionError:
        raise ConfigError(prefix + "the document nests too deeply") from None
    if check.problems:
        raise ConfigError(prefix + "; ".join(check.problems))
    return rules


def load_rules(path: str, *, table_keys: TableKeys = DEFAULT_TABLE_KEYS) -> Rules:
    """Read and compile the mapping file at `path` (`.toml` or `.json`).

    Raises
    ------
    ConfigError
        The file is missing, unreadable (a folder, too large, not UTF-8 text), of another
        kind, or invalid; the message names the file and what is wrong.
    """
    data = read_file(path)
    toml = Path(path).suffix.lower() == ".toml"
    return parse_rules(data, source=path, toml=toml, table_keys=table_keys)
