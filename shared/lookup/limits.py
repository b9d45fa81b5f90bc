"""DynamoDB's limit on a read's projection, checked when a lookup is built (at init).

A ProjectionExpression is an expression: DynamoDB refuses one over 4 KB, which local emulators
do not enforce, so a mapping reading too many attributes would fail every sign-in in AWS and
none in tests. Pure: no I/O.
"""

from collections.abc import Sequence
from typing import Final, NamedTuple

__all__ = ("MAX_PROJECTION_BYTES", "Projected", "projection_problems")

MAX_PROJECTION_BYTES: Final = 4096
"""DynamoDB's limit on an expression (a ProjectionExpression included)."""


def _expression_bytes(count: int) -> int:
    # What the store sends: one `#aN` placeholder per attribute, comma-separated.
    return len(", ".join(f"#a{i}" for i in range(count)))


_MOST_PROJECTED: Final = 601
"""How many attributes (key attributes included) one ProjectionExpression can name: `#a0, ...,
#a600` is 4095 bytes. A constant, not computed at import (that cost 25 ms of cold start); a test
holds it to `_expression_bytes`."""


def _projection_problem(
    where: str, key: tuple[str, ...], attributes: tuple[str, ...]
) -> str | None:
    names = tuple(dict.fromkeys((*key, *attributes)))
    if len(names) <= _MOST_PROJECTED:
        return None
    return (
        f"{where}: reads {len(names)} attributes; their ProjectionExpression would be "
        f"{_expression_bytes(len(names))} bytes, over DynamoDB's {MAX_PROJECTION_BYTES}-byte "
        f"expression limit ({_MOST_PROJECTED} attributes fit, key attributes included): read "
        "fewer attributes"
    )


class Projected(NamedTuple):
    """What one source projects: its name, table, key attribute names and attributes."""

    name: str
    table: str
    key: tuple[str, ...]
    attributes: tuple[str, ...]


def projection_problems(
    where: str,
    primary: Projected,
    related: Sequence[Projected],
    queries: Sequence[Projected],
) -> list[str]:
    """Every projection over DynamoDB's expression limit, each source apart, then shared ones."""
    problems = []
    for source in (primary, *related):
        problem = _projection_problem(f"{where} `{source.name}`", source.key, source.attributes)
        if problem:
            problems.append(problem)
    # Related items on one table share one BatchGetItem entry, so one projection: all of theirs.
    by_table: dict[str, list[Projected]] = {}
    for source in related:
        by_table.setdefault(source.table, []).append(source)
    for table, sources in by_table.items():
        if len(sources) < 2:
            continue
        key_names = tuple(dict.fromkeys(a for s in sources for a in s.key))
        united = tuple(dict.fromkeys(a for s in sources for a in s.attributes))
        if problem := _projection_problem(f"{where} related items on `{table}`", key_names, united):
            problems.append(problem)
    for query in queries:
        if problem := _projection_problem(f"{where} query `{query.name}`", (), query.attributes):
            problems.append(problem)
    return problems
