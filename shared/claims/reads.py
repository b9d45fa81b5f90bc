"""What a section of the file reads: `[user.item]`, `[[user.related]]`, `[[user.query]]`.

Compiles each into the `shared.lookup.LookupSpec` the lookup is built from: key templates parsed
for their place, limits checked, names unique, and `clientMetadata` only where a client can
select among its own items. Every problem goes to the `Checker`, naming where it is.
"""

from shared.claims.check import Checker, SectionName
from shared.claims.file import SectionFile
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

__all__ = ("compile_reads",)


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


def _owner(
    check: Checker,
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


def _claim_name(check: Checker, names: dict[str, str], source: str, where: str) -> None:
    """Record `source` as named at `where`; a name already taken is a problem."""
    if source in names:
        check.problems.append(f"{where}: the source name `{source}` is taken by {names[source]}")
    names[source] = where


def compile_reads(
    check: Checker, name: SectionName, raw: SectionFile, allowed: frozenset[str]
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
