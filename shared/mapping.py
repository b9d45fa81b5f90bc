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
    [request]                  client_metadata: the clientMetadata keys key templates and
                               conditions may read
    when = { ... }             on any rule: the rule applies only when the condition holds
    [[user.grants]]            conditional changes (`shared.policy`), applied in file order:
    when = { groups_any = ["admins"] }       clients trigger_sources groups_any groups_all
    scopes_add = ["orders/write"]            groups_none scopes_any attribute_equals
    claims = { access = { role = "admin" } } metadata_equals; actions: scopes_add
                                             scopes_suppress claims groups_add groups_remove deny

The file must be UTF-8 text; whatever its bytes, a bad one is a `ConfigError` naming it. Each
token's static claims may take at most 256 KB of JSON, so that with the
run-time claims budget no answer comes near Lambda's 6 MB response limit (the projections'
4 KB expression limit is checked by `shared.lookup`).
"""

import datetime
import math
from pathlib import Path
from typing import Any, Final, Literal

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
from shared.keys import MAX_METADATA_CHARS, KeyTemplate, KeyUse
from shared.lookup import (
    MAX_QUERIES,
    MAX_QUERY_LIMIT,
    MAX_RELATED,
    PRIMARY,
    ItemSpec,
    LookupSpec,
    QuerySpec,
)
from shared.models import encode_json
from shared.policy import TRIGGER_SOURCES, Condition, Grant, compile_condition

__all__ = ("load_mapping", "parse_mapping")

_STATIC_CLAIMS_MAX_BYTES: Final = 262_144
"""Most bytes of compact JSON the static claims of one token may take (256 KB)."""

SectionName = Literal["user", "client"]


class _When(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    clients: list[str] | None = None
    trigger_sources: list[str] | None = None
    groups_any: list[str] | None = None
    groups_all: list[str] | None = None
    groups_none: list[str] | None = None
    scopes_any: list[str] | None = None
    attribute_equals: dict[str, str | int | float | bool] | None = None
    metadata_equals: dict[str, str] | None = None


class _Rule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source: str = PRIMARY
    attribute: str
    claim: str | None = None
    tokens: list[Token]
    type: ClaimType = "any"
    default: Any = msgspec.UNSET
    required: bool = False
    when: _When | None = None


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


class _Grant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    when: _When | None = None
    scopes_add: list[str] = []
    scopes_suppress: list[str] = []
    claims: _Static = msgspec.field(default_factory=_Static)
    groups_add: list[str] = []
    groups_remove: list[str] = []
    deny: bool = False


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
    grants: list[_Grant] = []


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    client_metadata: list[str] = []


class _File(msgspec.Struct, forbid_unknown_fields=True):
    user: _Section = msgspec.field(default_factory=_Section)
    client: _Section = msgspec.field(default_factory=_Section)
    request: _Request = msgspec.field(default_factory=_Request)


def _plain_problem(value: Any) -> str | None:
    """Why `value`, or anything nested in it, cannot be a claim value, or None.

    Refused: TOML dates and times, `inf`, `-inf` and `nan` (no JSON form: V2 would send
    `Infinity`, invalid on the wire) and null (a claim of null is no claim: leave it out).
    """
    if value is None:
        return "null is not a claim value: leave the claim out instead"
    if isinstance(value, datetime.date | datetime.time):
        return "dates and times are not JSON values: write them as strings"
    if isinstance(value, float) and not math.isfinite(value):
        return "`inf`, `-inf` and `nan` are not JSON values"
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

    def static_size(self, where: str, static: dict[str, Any]) -> None:
        try:
            size = len(encode_json(static))
        except TypeError:
            return  # a value that is no JSON at all: `claim` reports it
        if size > _STATIC_CLAIMS_MAX_BYTES:
            self.problems.append(
                f"{where}: static claims take {size} bytes of JSON, more than the "
                f"{_STATIC_CLAIMS_MAX_BYTES} allowed per token"
            )

    def attribute(self, where: str, name: str | None) -> None:
        if name is not None and (not name or name != name.strip()):
            self.problems.append(f"{where}: attribute names must be non-empty, got `{name!r}`")

    def names(self, where: str, field: str, names: list[str] | None) -> None:
        """A list of group, client, scope or trigger-source names: non-empty, each trimmed."""
        if names is None:
            return
        if not names:
            self.problems.append(f"{where}: `{field}` must not be empty (leave it out instead)")
        for name in names:
            if not name or name != name.strip():
                self.problems.append(f"{where}: `{field}` holds a blank or padded name `{name!r}`")

    def condition(
        self, where: str, when: _When | None, section: SectionName, allowed: frozenset[str]
    ) -> Condition | None:
        """Check one `when` and compile it; None when absent or invalid."""
        if when is None:
            return None
        where = f"{where}.when"
        problems = len(self.problems)
        lists = {
            "clients": when.clients,
            "trigger_sources": when.trigger_sources,
            "groups_any": when.groups_any,
            "groups_all": when.groups_all,
            "groups_none": when.groups_none,
            "scopes_any": when.scopes_any,
        }
        for field, names in lists.items():
            self.names(where, field, names)
        maps = {"attribute_equals": when.attribute_equals, "metadata_equals": when.metadata_equals}
        for field, values in maps.items():
            if values is not None and not values:
                self.problems.append(f"{where}: `{field}` must not be empty (leave it out instead)")
        if all(value is None for value in (*lists.values(), *maps.values())):
            self.problems.append(f"{where}: a condition needs at least one key")
        if section == "client":
            for field in ("groups_any", "groups_all", "groups_none"):
                if lists[field] is not None:
                    self.problems.append(f"{where}: `{field}`: machine clients have no groups")
        for source in when.trigger_sources or ():
            if source not in TRIGGER_SOURCES:
                self.problems.append(
                    f"{where}: `trigger_sources`: unknown trigger source `{source}` (expected "
                    + ", ".join(f"`{name}`" for name in sorted(TRIGGER_SOURCES))
                    + ")"
                )
        none = set(when.groups_none or ())
        for field in ("groups_any", "groups_all"):
            if both := sorted(none.intersection(lists[field] or ())):
                self.problems.append(
                    f"{where}: `{field}` and `groups_none` both name {_listed(both)}: "
                    "the condition can never hold"
                )
        for scope in when.scopes_any or ():
            if reason := scope_reason(scope):
                self.problems.append(f"{where}: `scopes_any`: `{scope!r}`: {reason}")
        for path, value in (when.attribute_equals or {}).items():
            if not all(path.split(".")):
                self.problems.append(
                    f"{where}: `attribute_equals`: `{path}` must be a name or a dotted path"
                )
            if isinstance(value, float) and not math.isfinite(value):
                self.problems.append(
                    f"{where}: `attribute_equals`: `{path}` must be a finite number"
                )
        for key, value in (when.metadata_equals or {}).items():
            if key not in allowed:
                self.problems.append(
                    f"{where}: `metadata_equals`: `{key}` is not listed in "
                    "`[request] client_metadata`"
                )
            if len(value) > MAX_METADATA_CHARS:
                self.problems.append(
                    f"{where}: `metadata_equals`: `{key}`: values longer than "
                    f"{MAX_METADATA_CHARS} characters are never read, so this never holds"
                )
        if len(self.problems) > problems:
            return None
        return compile_condition(
            clients=when.clients,
            trigger_sources=when.trigger_sources,
            groups_any=when.groups_any,
            groups_all=when.groups_all,
            groups_none=when.groups_none,
            scopes_any=when.scopes_any,
            attribute_equals=when.attribute_equals,
            metadata_equals=when.metadata_equals,
        )


def _listed(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


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
            check.problems.append(f"{where}: `default` of claim `{claim}`: {problem}")
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


def _compile_grant(
    check: _Checker, where: str, raw: _Grant, section: SectionName, allowed: frozenset[str]
) -> Grant | None:
    problems = len(check.problems)
    if raw.when is None:
        check.problems.append(
            f"{where}: a grant needs `when` (unconditional changes belong in the section itself)"
        )
    when = check.condition(where, raw.when, section, allowed)
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
            f"{where}: `deny` fails the sign-in, so {_listed(actions)} would never apply: "
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
            f"{where}: `scopes_add` and `scopes_suppress` both name {_listed(both)}"
        )
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
        check.problems.append(
            f"{where}: `groups_add` and `groups_remove` both name {_listed(both)}"
        )
    if when is None or len(check.problems) > problems:
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
    """`clientMetadata` only within the principal's own partition, and only allowlisted keys.

    The partition key must name the principal (`{sub}`/`{userName}`, or `{clientId}`) and hold
    no `clientMetadata`: DynamoDB matches it exactly, so whatever the client picks for the sort
    key (or the query's prefix) selects among the principal's own items. A value the client
    picks beside the principal's id in one template could instead spell another principal's id
    (`{userName}#{clientMetadata.t}`: user `bob` with `t = "y#x"` is user `bob#y` with `x`).
    """
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
    partition = templates[0]
    if partition.metadata_keys or not any(name in partition.event_names for name in owners):
        names = " or ".join(f"`{{{name}}}`" for name in owners)
        check.problems.append(
            f"{where}: a `{{clientMetadata.<key>}}` placeholder needs {names} in the partition "
            "key, which may hold no `clientMetadata` itself, so a client can only select among "
            "its own items"
        )


def _claim_name(check: _Checker, names: dict[str, str], source: str, where: str) -> None:
    """Record `source` as named at `where`; a name already taken is a problem."""
    if source in names:
        check.problems.append(f"{where}: the source name `{source}` is taken by {names[source]}")
    names[source] = where


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
        _claim_name(check, names, entry.name, where)
        key = _key(check, f"{where}.key", entry.key, "related")
        _owner(check, f"{where}.key", key, name, allowed)
        related.append(ItemSpec(name=entry.name, table=entry.table, key=key))
    queries: list[QuerySpec] = []
    for i, query in enumerate(raw.query):
        where = f"{name}.query[{i}]"
        _claim_name(check, names, query.name, where)
        if not 1 <= query.limit <= MAX_QUERY_LIMIT:
            check.problems.append(f"{where}: `limit` must be in 1..{MAX_QUERY_LIMIT}")
        partition = _key(check, f"{where}.partition", query.partition, "query")
        if len(query.partition) != 1:
            check.problems.append(f"{where}.partition: names exactly one attribute")
        prefix = None
        if query.sort_begins_with is not None:
            if len(query.sort_begins_with) != 1:
                check.problems.append(f"{where}.sort_begins_with: names exactly one attribute")
            sort = _key(check, f"{where}.sort_begins_with", query.sort_begins_with, "query")
            prefix = sort[0] if sort else None
            if prefix is not None and "userName" in prefix[1].event_names:
                # begins_with on `MEMBER#bob` also matches `MEMBER#bobby`, and a user name may
                # hold any delimiter: a prefix cannot pin a user by name.
                check.problems.append(
                    f"{where}.sort_begins_with: `{{userName}}` cannot select one user's items by "
                    "prefix (`bob` is a prefix of `bobby`): put it in `partition`, or use `{sub}`"
                )
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
    read = {rule.source for rule in rules}
    declared = [("related", i, r.name) for i, r in enumerate(lookup.related)]
    declared += [("query", i, q.name) for i, q in enumerate(lookup.queries)]
    for kind, i, source in declared:
        if source not in read:
            check.problems.append(
                f"{name}.{kind}[{i}]: no rule reads the source `{source}`: add a rule with "
                f'`source = "{source}"`, or remove it'
            )
    # Conditions on rules and the grants (`shared.policy`), compiled beside the rules.
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
        grants=grants,
    )


_MAX_FILE_BYTES: Final = 4 * 1024 * 1024
"""A mapping file larger than this is refused before it is read (static claims alone stay
under 256 KB a token)."""

_UTF8_BOM: Final = b"\xef\xbb\xbf"


def _text_problem(data: bytes) -> str | None:
    """Why `data` is not UTF-8 text a decoder can read, or None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16 text: save it as UTF-8"
    if b"\x00" in data:
        return "the file holds NUL bytes: it is not a text file"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the file is not UTF-8 text (invalid byte at offset {exc.start})"
    return None


def _decode(data: bytes, *, toml: bool) -> _File:
    if toml:
        return msgspec.toml.decode(data, type=_File)
    return msgspec.json.decode(data, type=_File)


def _compile(check: _Checker, raw: _File) -> Mapping:
    allowed = frozenset(raw.request.client_metadata)
    for key in raw.request.client_metadata:
        check.attribute("request.client_metadata", key)
    return Mapping(
        user=_compile_section(check, "user", raw.user, allowed),
        client=_compile_section(check, "client", raw.client, allowed),
        client_metadata=tuple(dict.fromkeys(raw.request.client_metadata)),
    )


def parse_mapping(data: bytes, *, source: str, toml: bool) -> Mapping:
    """Decode, check and compile a mapping document.

    Parameters
    ----------
    data
        The file's bytes: UTF-8 text (a leading byte-order mark is ignored).
    source
        Its name, for messages.
    toml
        TOML when true, JSON otherwise.

    Raises
    ------
    ConfigError
        Naming `source`, the rule and every problem found; whatever the bytes, nothing else.
    """
    prefix = f"claim mapping `{source}`: "
    data = data.removeprefix(_UTF8_BOM)
    if problem := _text_problem(data):
        raise ConfigError(prefix + problem)
    check = _Checker()
    try:
        mapping = _compile(check, _decode(data, toml=toml))
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(prefix + str(exc)) from exc
    except RecursionError:
        raise ConfigError(prefix + "the document nests too deeply") from None
    except ValueError as exc:  # the decoders' other complaints (tomllib's among them)
        raise ConfigError(prefix + f"not valid {'TOML' if toml else 'JSON'}: {exc}") from exc
    if check.problems:
        raise ConfigError(prefix + "; ".join(check.problems))
    return mapping


def load_mapping(path: str) -> Mapping:
    """Read the mapping file at `path` (`.toml` or `.json`).

    Raises
    ------
    ConfigError
        The file is missing, unreadable (a folder, too large, not UTF-8 text), of another
        kind, or invalid; the message names the file and what is wrong.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"`CLAIMS_CONFIG` must name a .toml or .json file, got `{path}`")
    try:
        size = file.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise ConfigError(
                f"`CLAIMS_CONFIG`: `{path}` is {size} bytes; a mapping may take at most "
                f"{_MAX_FILE_BYTES}"
            )
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"`CLAIMS_CONFIG`: cannot read `{path}`: {exc.strerror}") from exc
    return parse_mapping(data, source=path, toml=suffix == ".toml")
