"""What a section of the file reads: `[user.item]`, `[[user.related]]`, `[[user.query]]`.

Compiles each into the `shared.lookup.LookupSpec` the lookup is built from: key templates parsed
for their place, limits checked, names unique, and `clientMetadata` only where a client can
select among its own items. `check_sources` then holds the rules to the sources: each reads a
known one (the event's own, `event` and `identity`, apart), and each is read. Every problem goes
to the `Checker`, naming where it is.
"""

import re
from collections.abc import Mapping
from typing import Final

from shared.claims.check import Checker, SectionName, listed
from shared.claims.file import SectionFile
from shared.claims.from_event import EVENT_SOURCES
from shared.claims.model import ClaimRule
from shared.errors import ConfigError
from shared.lookup import (
    MAX_QUERIES,
    MAX_QUERY_LIMIT,
    MAX_RELATED,
    PRIMARY,
    ItemSpec,
    KeyTemplate,
    KeyUse,
    LookupSpec,
    QuerySpec,
)

__all__ = ("TableKeys", "check_sources", "compile_reads", "keyed_by_principal")


def _key(
    check: Checker, where: str, raw: dict[str, str], use: KeyUse
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


_OWNERS: Final[dict[SectionName, tuple[str, ...]]] = {
    "user": ("sub", "userName"),
    "client": ("clientId",),
}
"""The placeholders that name the principal itself (never `{userPoolId}`: every user shares it)."""

_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{3,255}")
"""DynamoDB's rule for table and index names."""
_SOURCE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _owner_names(section: SectionName) -> str:
    return " or ".join(f"`{{{name}}}`" for name in _OWNERS[section])


def _partition_problem(partition: KeyTemplate, section: SectionName) -> str | None:
    """Why `partition` is not the principal's own when a client picks among its items."""
    names = partition.placeholders()
    if section == "user" and "sub" in names:
        # `{sub}` is a fixed-format id with no delimiter: what the client picks after it
        # cannot reach another user's value. Before it, it could shift where `{sub}` sits.
        before = names[: names.index("sub")]
        if any(name.startswith("clientMetadata.") for name in before):
            return (
                "a `{clientMetadata.<key>}` placeholder may follow `{sub}` in one attribute, "
                "never precede it"
            )
        return None
    if not any(name in names for name in _OWNERS[section]):
        return (
            f"a `{{clientMetadata.<key>}}` placeholder needs {_owner_names(section)} in the "
            "partition key, which may hold no `clientMetadata` itself, so a client can only "
            "select among its own items"
        )
    if partition.metadata_keys:
        if section == "user":
            return (
                "`{userName}` and `{clientMetadata.<key>}` in one attribute can spell another "
                "user's key (user names may hold `#`: `bob` + `x#y` and `bob#x` + `y` are one "
                "key): use `{sub}`, or put the `clientMetadata` in the sort key"
            )
        return (
            f"a `{{clientMetadata.<key>}}` placeholder needs {_owner_names(section)} in the "
            "partition key, which may hold no `clientMetadata` itself, so a client can only "
            "select among its own items"
        )
    if section == "user" and not partition.literal_prefix:
        return (
            "a bare `{userName}` partition is no user's own partition (a user who signs up as "
            "`TENANT#x` would read that item): give it a literal prefix (`USER#{userName}`), "
            "or use `{sub}`"
        )
    return None


def _owner(
    check: Checker,
    where: str,
    key: tuple[tuple[str, KeyTemplate], ...],
    *,
    partition: str | None,
    section: SectionName,
    allowed: frozenset[str],
) -> None:
    """`clientMetadata` only within the principal's own partition, and only allowlisted keys.

    `partition` names the key attribute that is the table's partition key (None: unknown).
    DynamoDB matches a partition exactly, so whatever the client picks elsewhere in the key
    (the sort key, the query's prefix) selects among the principal's own items, provided the
    partition is the principal's own: `{sub}` (a fixed-format id, which may be followed by
    what the client picks), or `{userName}` behind a literal prefix and with no
    `clientMetadata` beside it (`{clientId}` for machine clients).
    """
    templates = dict(key)
    used = frozenset().union(*(t.metadata_keys for t in templates.values()))
    if not used:
        return
    for unknown in sorted(used - allowed):
        check.problems.append(
            f"{where}: `{{clientMetadata.{unknown}}}` is not allowlisted in "
            "`[request] client_metadata`"
        )
    if partition is None or partition not in templates:
        check.problems.append(
            f"{where}: a key with `{{clientMetadata.<key>}}` must say which attribute is the "
            f"partition key: {listed(list(templates))} are not the table's key attributes "
            "(`KEY_ATTRIBUTE` / `SORT_KEY_ATTRIBUTE`, or `[tables.<table>] key_attributes`)"
        )
        return
    if problem := _partition_problem(templates[partition], section):
        check.problems.append(f"{where}: {problem}")


def _claim_name(check: Checker, names: dict[str, str], source: str, where: str) -> None:
    """Record `source` as named at `where`; a name already taken is a problem."""
    if not _SOURCE_NAME.fullmatch(source):
        check.problems.append(
            f"{where}: the source name `{source}` must be an identifier (letters, digits, `_`)"
        )
    if source in names:
        check.problems.append(f"{where}: the source name `{source}` is taken by {names[source]}")
    names[source] = where


TableKeys = Mapping[str | None, tuple[str, ...]]
"""Table name (None: the default table, `TABLE_NAME`) -> its key attributes, partition first."""


def _partition_of(
    key: tuple[tuple[str, KeyTemplate], ...], table: str | None, table_keys: TableKeys
) -> str | None:
    """Which attribute of `key` is the table's partition key; None when it cannot be told."""
    if len(key) == 1:
        return key[0][0]
    schema = table_keys.get(table)
    if schema and schema[0] in dict(key):
        return schema[0]
    return None


def _names(check: Checker, where: str, table: str | None, index: str | None = None) -> None:
    for field, value in (("table", table), ("index", index)):
        if value is not None and not _NAME.fullmatch(value):
            check.problems.append(
                f"{where}: `{field}` `{value}` is not a name DynamoDB accepts "
                "(3 to 255 of `A-Z a-z 0-9 _ . -`)"
            )


def _schema(
    check: Checker, where: str, key: tuple[tuple[str, KeyTemplate], ...], table: str | None,
    declared: TableKeys,
) -> None:  # fmt: skip
    """A key on a table the file declares names exactly that table's key attributes."""
    schema = declared.get(table) if table is not None else None
    if schema is not None and key and sorted(schema) != sorted(dict(key)):
        check.problems.append(
            f"{where}: the table `{table}` has the key attributes {listed(list(schema))} "
            f"(`[tables.{table}] key_attributes`), got {listed(list(dict(key)))}"
        )


def _compile_item(
    check: Checker, name: SectionName, raw: SectionFile, declared: TableKeys
) -> ItemSpec | None:
    if raw.item is None:
        return None
    key = _key(check, f"{name}.item.key", raw.item.key, "primary")
    _names(check, f"{name}.item", raw.item.table)
    _schema(check, f"{name}.item.key", key, raw.item.table, declared)
    if key and not any(owner in t.event_names for _, t in key for owner in _OWNERS[name]):
        check.problems.append(
            f"{name}.item.key: must contain {_owner_names(name)}, the principal's own id: "
            "every principal would share one item"
        )
    return ItemSpec(name=PRIMARY, table=raw.item.table, key=key)


def _compile_related(
    check: Checker,
    name: SectionName,
    raw: SectionFile,
    *,
    allowed: frozenset[str],
    table_keys: TableKeys,
    names: dict[str, str],
    declared: TableKeys,
) -> list[ItemSpec]:
    related: list[ItemSpec] = []
    primary_table = raw.item.table if raw.item is not None else None
    for i, entry in enumerate(raw.related):
        where = f"{name}.related[{i}]"
        _claim_name(check, names, entry.name, where)
        _names(check, where, entry.table)
        key = _key(check, f"{where}.key", entry.key, "related")
        table = entry.table if entry.table is not None else primary_table
        _schema(check, f"{where}.key", key, table, declared)
        partition = _partition_of(key, table, table_keys)
        _owner(check, f"{where}.key", key, partition=partition, section=name, allowed=allowed)
        related.append(ItemSpec(name=entry.name, table=entry.table, key=key))
    return related


def _compile_queries(
    check: Checker,
    name: SectionName,
    raw: SectionFile,
    allowed: frozenset[str],
    names: dict[str, str],
) -> list[QuerySpec]:
    queries: list[QuerySpec] = []
    for i, query in enumerate(raw.query):
        where = f"{name}.query[{i}]"
        _claim_name(check, names, query.name, where)
        _names(check, where, query.table, query.index)
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
        if not partition:
            continue
        key = partition + ((prefix,) if prefix else ())
        _owner(check, where, key, partition=partition[0][0], section=name, allowed=allowed)
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
    return queries


def keyed_by_principal(lookup: LookupSpec, source: str, section: SectionName) -> bool:
    """Whether `source` is a related item or query whose key the principal or its item names."""
    keys = [spec.key for spec in lookup.related if spec.name == source]
    keys += [(spec.partition,) for spec in lookup.queries if spec.name == source]
    return any(
        name in _OWNERS[section] or name.startswith("item.")
        for key in keys
        for _, template in key
        for name in template.placeholders()
    )


def compile_reads(
    check: Checker,
    name: SectionName,
    raw: SectionFile,
    allowed: frozenset[str],
    table_keys: TableKeys,
) -> LookupSpec:
    """A section's reads, checked: its primary item, related items and queries.

    `allowed` holds the `clientMetadata` keys `[request] client_metadata` lists; `table_keys`
    the key attributes of the tables whose schema is known (the settings' for the default
    table, and the file's `[tables]`), so the partition key is told by name, not by position.
    """
    names: dict[str, str] = {PRIMARY: f"{name}.item"}
    if len(raw.related) > MAX_RELATED:
        check.problems.append(f"{name}.related: at most {MAX_RELATED} related items")
    if len(raw.query) > MAX_QUERIES:
        check.problems.append(f"{name}.query: at most {MAX_QUERIES} queries")
    declared: TableKeys = {t: keys for t, keys in table_keys.items() if t is not None}
    item = _compile_item(check, name, raw, declared)
    related = _compile_related(
        check, name, raw, allowed=allowed, table_keys=table_keys, names=names, declared=declared
    )
    queries = _compile_queries(check, name, raw, allowed, names)
    return LookupSpec(item=item, related=tuple(related), queries=tuple(queries))


def check_sources(
    check: Checker,
    name: SectionName,
    raw: SectionFile,
    rules: tuple[ClaimRule, ...],
    sources: LookupSpec,
) -> None:
    """Every rule reads a known source (a query only into a list); every source is read."""
    items = {PRIMARY} | {r.name for r in sources.related}
    lists = {q.name for q in sources.queries}
    for i, rule in enumerate(rules):
        where = f"{name}.claims[{i}] (`{raw.claims[i].attribute}`)"
        if rule.source in EVENT_SOURCES:
            continue
        if rule.source in lists:
            if rule.type not in ("string_list", "json"):
                check.problems.append(
                    f"{where}: source `{rule.source}` is a query, which yields a list: "
                    f"`type` must be `string_list` or `json`, got `{rule.type}`"
                )
        elif rule.source not in items:
            known = ", ".join(f"`{n}`" for n in sorted(items | lists))
            check.problems.append(f"{where}: unknown source `{rule.source}` (known: {known})")
    read = {rule.source for rule in rules}
    declared = [("related", i, r.name) for i, r in enumerate(sources.related)]
    declared += [("query", i, q.name) for i, q in enumerate(sources.queries)]
    for kind, i, source in declared:
        if source in EVENT_SOURCES:
            check.problems.append(f"{name}.{kind}[{i}]: the source name `{source}` is the event's")
        if source not in read:
            check.problems.append(
                f"{name}.{kind}[{i}]: no rule reads the source `{source}`: add a rule with "
                f'`source = "{source}"`, or remove it'
            )
