"""The claim mapping file (`CLAIMS_CONFIG`): its format, its validation, its compilation.

A TOML file (JSON accepted too) decoded with msgspec into Structs that forbid unknown fields, so
a typo fails instead of being ignored. Every Cognito rule is checked here, once, at init: any
problem raises one `ConfigError` naming the file, the rule and what is wrong, and the container
does not start. The result is a `shared.claims.Mapping`, which `apply_mapping` walks per event.

The format, section by section (`[user]` for `USER#...` items, `[client]` for machine clients,
access token only)::

    [[user.claims]]            attribute rules
    attribute = "profile.tier" # dotted path into maps
    claim = "tier"             # defaults to the attribute
    tokens = ["id", "access"]
    type = "string"            # string number integer boolean string_list json any
    default = "free"           # optional
    required = false           # optional; a missing required attribute -> ON_MISSING

    [user.static.id]           constant claims, per token (also [user.static.access])
    [user.suppress]            id / access: claim lists; id_from / access_from: list attributes
    [user.scopes]              add / suppress: scope lists; add_from / suppress_from: attributes
    [user.groups]              groups_from / iam_roles_from / preferred_role_from: attributes

    [user.item]                the primary item: table (default TABLE_NAME), key = {pk = ...}
    [[user.related]]           name, table, key: items found through the primary item's attributes
    [[user.query]]             name, table, index, partition, sort_begins_with, limit: lists
    source = "tenant"          on a rule: read a related item or a query instead of the primary
    [request]                  client_metadata: the clientMetadata keys key templates may read
"""

import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from shared.claims import (
    NO_OBJECT_ID_CLAIMS,
    ClaimRule,
    ClaimType,
    Mapping,
    Section,
    Token,
    fits_type,
    reserved_reason,
    scope_reason,
    suppress_reason,
)
from shared.errors import ConfigError
from shared.keys import KeyTemplate, KeyUse
from shared.lookup import (
    MAX_QUERIES,
    MAX_QUERY_LIMIT,
    MAX_RELATED,
    PRIMARY,
    ItemSpec,
    LookupSpec,
    QuerySpec,
)

__all__ = ("load_mapping", "parse_mapping")

SectionName = Literal["user", "client"]


class _Rule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source: str = PRIMARY
    attribute: str
    claim: str | None = None
    tokens: list[Token]
    type: ClaimType = "any"
    default: Any = msgspec.UNSET
    required: bool = False


class _Static(msgspec.Struct, forbid_unknown_fields=True):
    id: dict[str, Any] = {}
    access: dict[str, Any] = {}


class _Suppress(msgspec.Struct, forbid_unknown_fields=True):
    id: list[str] = []
    access: list[str] = []
    id_from: str | None = None
    access_from: str | None = None


class _Scopes(msgspec.Struct, forbid_unknown_fields=True):
    add: list[str] = []
    add_from: str | None = None
    suppress: list[str] = []
    suppress_from: str | None = None


class _Groups(msgspec.Struct, forbid_unknown_fields=True):
    groups_from: str | None = None
    iam_roles_from: str | None = None
    preferred_role_from: str | None = None


class _Item(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    table: str | None = None
    key: dict[str, str]


class _Related(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    table: str | None = None
    key: dict[str, str]


class _Query(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    table: str | None = None
    index: str | None = None
    partition: dict[str, str]
    sort_begins_with: dict[str, str] | None = None
    limit: int


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    item: _Item | None = None
    related: list[_Related] = []
    query: list[_Query] = []
    claims: list[_Rule] = []
    static: _Static = msgspec.field(default_factory=_Static)
    suppress: _Suppress = msgspec.field(default_factory=_Suppress)
    scopes: _Scopes = msgspec.field(default_factory=_Scopes)
    groups: _Groups = msgspec.field(default_factory=_Groups)


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    client_metadata: list[str] = []


class _File(msgspec.Struct, forbid_unknown_fields=True):
    user: _Section = msgspec.field(default_factory=_Section)
    client: _Section = msgspec.field(default_factory=_Section)
    request: _Request = msgspec.field(default_factory=_Request)


def _plain_problem(value: Any) -> str | None:
    """Why `value` cannot be a claim value (a TOML date, a float that is not finite), or None."""
    if isinstance(value, datetime.date | datetime.time):
        return "dates and times are not JSON values: write them as strings"
    if isinstance(value, float) and value != value:  # noqa: PLR0124 (NaN)
        return "NaN is not a JSON value"
    if isinstance(value, dict):
        return next((p for v in value.values() if (p := _plain_problem(v))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := _plain_problem(v))), None)
    return None


class _Checker:
    """Collects every problem in a file, each naming where it is."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def claim(self, where: str, name: str, token: Token, value: Any = msgspec.UNSET) -> None:
        reason = reserved_reason(name, token)
        if reason:
            self.problems.append(f"{where}: claim `{name}` in the {token} token: {reason}")
        if token == "id" and name in NO_OBJECT_ID_CLAIMS and isinstance(value, dict | list):
            self.problems.append(f"{where}: `{name}` may not hold an object or array")
        if value is not msgspec.UNSET and (problem := _plain_problem(value)):
            self.problems.append(f"{where}: `{name}`: {problem}")

    def attribute(self, where: str, name: str | None) -> None:
        if name is not None and (not name or name != name.strip()):
            self.problems.append(f"{where}: attribute names must be non-empty, got `{name!r}`")


def _compile_rule(check: _Checker, where: str, rule: _Rule, section: SectionName) -> ClaimRule:
    claim = rule.claim if rule.claim is not None else rule.attribute
    where = f"{where} (`{rule.attribute}`)"
    path = tuple(rule.attribute.split("."))
    if not all(path):
        check.problems.append(f"{where}: `attribute` must be a name or a dotted path of names")
    if not rule.tokens:
        check.problems.append(f"{where}: `tokens` must name `id`, `access` or both")
    if section == "client" and "id" in rule.tokens:
        check.problems.append(f"{where}: machine clients get no ID token; use `access`")
    for token in dict.fromkeys(rule.tokens):
        check.claim(where, claim, token)
        if token == "id" and claim in NO_OBJECT_ID_CLAIMS and rule.type in ("json", "string_list"):
            check.problems.append(f"{where}: `{claim}` may not hold an object or array")
    default = None
    if rule.default is not msgspec.UNSET:
        if rule.required:
            check.problems.append(f"{where}: `required` and `default` contradict each other")
        elif problem := _plain_problem(rule.default):
            check.problems.append(f"{where}: `default`: {problem}")
        elif not fits_type(rule.default, rule.type):
            check.problems.append(f"{where}: `default` is not of type `{rule.type}`")
        else:
            default = rule.default
    return ClaimRule(
        path,
        claim,
        tuple(dict.fromkeys(rule.tokens)),
        rule.type,
        default,
        rule.required,
        source=rule.source,
    )


def _key(
    check: _Checker, where: str, raw: dict[str, str], use: KeyUse
) -> tuple[tuple[str, KeyTemplate], ...]:
    parts: list[tuple[str, KeyTemplate]] = []
    if not 1 <= len(raw) <= 2:
        check.problems.append(
            f"{where}: a key names 1 or 2 attributes (partition, then sort key), got {len(raw)}"
        )
    for attribute, template in raw.items():
        check.attribute(where, attribute)
        try:
            parts.append((attribute, KeyTemplate(f"{where}.{attribute}", template, use=use)))
        except ConfigError as exc:
            check.problems.append(str(exc))
    return tuple(parts)


def _owner(
    check: _Checker,
    where: str,
    key: tuple[tuple[str, KeyTemplate], ...],
    section: SectionName,
    allowed: frozenset[str],
) -> None:
    """`clientMetadata` only beside the principal's own id, and only allowlisted keys."""
    templates = [template for _, template in key]
    used = frozenset().union(*(t.metadata_keys for t in templates))
    if not used:
        return
    for unknown in sorted(used - allowed):
        check.problems.append(
            f"{where}: `{{clientMetadata.{unknown}}}` is not allowlisted in "
            "`[request] client_metadata`"
        )
    owners = {"user": ("sub", "userName"), "client": ("clientId",)}[section]
    if not any(name in t.event_names for t in templates for name in owners):
        names = " or ".join(f"`{{{name}}}`" for name in owners)
        check.problems.append(
            f"{where}: a `{{clientMetadata.<key>}}` placeholder needs {names} in the same key, "
            "so a client can only select among its own items"
        )


def _compile_lookup(
    check: _Checker, name: SectionName, raw: _Section, allowed: frozenset[str]
) -> LookupSpec:
    item = None
    if raw.item is not None:
        key = _key(check, f"{name}.item.key", raw.item.key, "primary")
        if key and not any(t.event_names for _, t in key):
            check.problems.append(
                f"{name}.item.key: must contain an event placeholder (`{{sub}}`, `{{userName}}`, "
                "`{clientId}`): every principal would share one item"
            )
        item = ItemSpec(name=PRIMARY, table=raw.item.table, key=key)
    names: dict[str, str] = {PRIMARY: f"{name}.item"}
    if len(raw.related) > MAX_RELATED:
        check.problems.append(f"{name}.related: at most {MAX_RELATED} related items")
    if len(raw.query) > MAX_QUERIES:
        check.problems.append(f"{name}.query: at most {MAX_QUERIES} queries")
    related: list[ItemSpec] = []
    for i, entry in enumerate(raw.related):
        where = f"{name}.related[{i}]"
        if entry.name in names:
            check.problems.append(
                f"{where}: the source name `{entry.name}` is taken by {names[entry.name]}"
            )
        names[entry.name] = where
        key = _key(check, f"{where}.key", entry.key, "related")
        _owner(check, f"{where}.key", key, name, allowed)
        related.append(ItemSpec(name=entry.name, table=entry.table, key=key))
    queries: list[QuerySpec] = []
    for i, query in enumerate(raw.query):
        where = f"{name}.query[{i}]"
        if query.name in names:
            check.problems.append(
                f"{where}: the source name `{query.name}` is taken by {names[query.name]}"
            )
        names[query.name] = where
        if not 1 <= query.limit <= MAX_QUERY_LIMIT:
            check.problems.append(f"{where}: `limit` must be in 1..{MAX_QUERY_LIMIT}")
        partition = _key(check, f"{where}.partition", query.partition, "query")
        if len(query.partition) != 1:
            check.problems.append(f"{where}.partition: names exactly one attribute")
        prefix = None
        if query.sort_begins_with is not None:
            if len(query.sort_begins_with) != 1:
                check.problems.append(f"{where}.sort_begins_with: names exactly one attribute")
            (prefix, *_) = _key(
                check, f"{where}.sort_begins_with", query.sort_begins_with, "query"
            ) or (None,)
        _owner(check, where, partition + ((prefix,) if prefix else ()), name, allowed)
        if partition:
            queries.append(
                QuerySpec(
                    name=query.name,
                    table=query.table,
                    index=query.index,
                    partition=partition[0],
                    sort_prefix=prefix,
                    limit=query.limit,
                )
            )
    return LookupSpec(item=item, related=tuple(related), queries=tuple(queries))


def _compile_section(
    check: _Checker, name: SectionName, raw: _Section, allowed: frozenset[str]
) -> Section:
    rules = tuple(
        _compile_rule(check, f"{name}.claims[{i}]", rule, name) for i, rule in enumerate(raw.claims)
    )
    lookup = _compile_lookup(check, name, raw, allowed)
    sources = {PRIMARY} | {r.name for r in lookup.related}
    lists = {q.name for q in lookup.queries}
    for i, rule in enumerate(rules):
        where = f"{name}.claims[{i}] (`{raw.claims[i].attribute}`)"
        if rule.source in lists:
            if rule.type not in ("string_list", "json"):
                check.problems.append(
                    f"{where}: source `{rule.source}` is a query, which yields a list: "
                    f"`type` must be `string_list` or `json`, got `{rule.type}`"
                )
        elif rule.source not in sources:
            known = ", ".join(f"`{n}`" for n in sorted(sources | lists))
            check.problems.append(f"{where}: unknown source `{rule.source}` (known: {known})")
    seen: dict[tuple[Token, str], str] = {}
    statics: tuple[tuple[Token, dict[str, Any]], ...] = (
        ("id", raw.static.id),
        ("access", raw.static.access),
    )
    for token, static in statics:
        for claim, value in static.items():
            check.claim(f"{name}.static.{token}", claim, token, value)
            seen[(token, claim)] = f"{name}.static.{token}"
    for i, rule in enumerate(rules):
        for token in rule.tokens:
            if (token, rule.claim) in seen:
                check.problems.append(
                    f"{name}.claims[{i}]: claim `{rule.claim}` is also set by "
                    f"{seen[(token, rule.claim)]}"
                )
            seen[(token, rule.claim)] = f"{name}.claims[{i}]"
    for token, names in (("id", raw.suppress.id), ("access", raw.suppress.access)):
        for claim in names:
            if reason := suppress_reason(claim):
                check.problems.append(f"{name}.suppress.{token}: `{claim}`: {reason}")
    for kind, scopes in (("add", raw.scopes.add), ("suppress", raw.scopes.suppress)):
        for scope in scopes:
            if reason := scope_reason(scope):
                check.problems.append(f"{name}.scopes.{kind}: `{scope!r}`: {reason}")
    for where, attribute in (
        ("suppress.id_from", raw.suppress.id_from),
        ("suppress.access_from", raw.suppress.access_from),
        ("scopes.add_from", raw.scopes.add_from),
        ("scopes.suppress_from", raw.scopes.suppress_from),
        ("groups.groups_from", raw.groups.groups_from),
        ("groups.iam_roles_from", raw.groups.iam_roles_from),
        ("groups.preferred_role_from", raw.groups.preferred_role_from),
    ):
        check.attribute(f"{name}.{where}", attribute)
    if name == "client":
        if raw.static.id or raw.suppress.id or raw.suppress.id_from:
            check.problems.append(
                "client: machine clients get no ID token (static.id, suppress.id)"
            )
        groups = raw.groups
        if groups.groups_from or groups.iam_roles_from or groups.preferred_role_from:
            check.problems.append("client.groups: machine clients have no groups")
    return Section(
        rules=rules,
        static_id=tuple(raw.static.id.items()),
        static_access=tuple(raw.static.access.items()),
        suppress_id=tuple(raw.suppress.id),
        suppress_access=tuple(raw.suppress.access),
        suppress_id_from=raw.suppress.id_from,
        suppress_access_from=raw.suppress.access_from,
        scopes_add=tuple(raw.scopes.add),
        scopes_add_from=raw.scopes.add_from,
        scopes_suppress=tuple(raw.scopes.suppress),
        scopes_suppress_from=raw.scopes.suppress_from,
        groups_from=raw.groups.groups_from,
        iam_roles_from=raw.groups.iam_roles_from,
        preferred_role_from=raw.groups.preferred_role_from,
        lookup=lookup,
    )


def parse_mapping(data: bytes, *, source: str, toml: bool) -> Mapping:
    """Decode, check and compile a mapping document.

    Parameters
    ----------
    data
        The file's bytes.
    source
        Its name, for messages.
    toml
        TOML when true, JSON otherwise.

    Raises
    ------
    ConfigError
        Naming `source`, the rule and every problem found.
    """
    try:
        if toml:
            raw = msgspec.toml.decode(data, type=_File)
        else:
            raw = msgspec.json.decode(data, type=_File)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"claim mapping `{source}`: {exc}") from exc
    check = _Checker()
    allowed = frozenset(raw.request.client_metadata)
    for key in raw.request.client_metadata:
        check.attribute("request.client_metadata", key)
    mapping = Mapping(
        user=_compile_section(check, "user", raw.user, allowed),
        client=_compile_section(check, "client", raw.client, allowed),
        client_metadata=tuple(dict.fromkeys(raw.request.client_metadata)),
    )
    if check.problems:
        raise ConfigError(f"claim mapping `{source}`: " + "; ".join(check.problems))
    return mapping


def load_mapping(path: str) -> Mapping:
    """Read the mapping file at `path` (`.toml` or `.json`).

    Raises
    ------
    ConfigError
        The file is missing, unreadable, of another kind, or invalid.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"`CLAIMS_CONFIG` must name a .toml or .json file, got `{path}`")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"`CLAIMS_CONFIG`: cannot read `{path}`: {exc.strerror}") from exc
    return parse_mapping(data, source=path, toml=suffix == ".toml")
