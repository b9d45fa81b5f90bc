"""`make size`: how large each token gets over seeded profiles, as Cognito will issue it.

For the mapping `CLAIMS_CONFIG` names (the built-in one by default) over the profiles `make
invoke` seeds (`events/profiles.json`, or the `<mapping>.seed.json` beside the mapping), and for
`events/single-table.toml` over `events/single-table.seed.json`, every principal whose primary
item a seed holds signs in once (a user on `events/v2-authentication.json`, a machine client on
`events/v3-client-credentials.json`), through `shared.trigger.answer` in one
`tools.container.Container` whose store is the seed, in memory: no server. It prints, per
token, how many were sized, p50, p99 and max of the estimate (`shared.tokens.token_sizes`:
never below the token Cognito issues), the budget, and how many tokens shed claims or stayed
over it. Settings come from the environment as in Lambda (`ID_TOKEN_MAX_BYTES=4096 make size`).
"""

import argparse
import copy
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from shared.claims import DEFAULT_RULES, Rules, load_rules
from shared.config import Settings, load_settings
from shared.lookup import ItemRead, QueryRead, decode_item
from shared.tokens import token_sizes
from shared.values import Item
from tools.container import Container

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
PROFILES = EVENTS / "profiles.json"
SINGLE_TABLE = EVENTS / "single-table.toml"
_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)\}")


class SeedSource:
    """A profile source over seed tables held in memory: `{table: [item, ...]}`, plain values."""

    def __init__(self, tables: dict[str, list[Item]]) -> None:
        self.tables = tables

    def _find(self, read: ItemRead) -> Item | None:
        for item in self.tables.get(read.source.table, ()):
            if all(item.get(name) == value for name, value in read.key):
                return copy.deepcopy(item)
        return None

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        return self._find(read)

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        return [self._find(read) for read in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        partition = read.source.partition[0]
        sort = read.source.sort_prefix[0] if read.source.sort_prefix else None
        found = [
            copy.deepcopy(item)
            for item in self.tables.get(read.source.table, ())
            if item.get(partition) == read.partition
            and (sort is None or str(item.get(sort, "")).startswith(read.prefix or ""))
        ]
        return found[: read.source.limit]


def _seed_tables(path: Path, default_table: str) -> dict[str, list[Item]]:
    """A seed file's items by table: `profiles.json` is one table's items (DynamoDB JSON),
    `<mapping>.seed.json` names its tables."""
    raw = json.loads(path.read_text())
    if isinstance(raw, list):
        return {default_table: [decode_item(item) for item in raw]}
    return {name: [decode_item(item) for item in table["items"]] for name, table in raw.items()}


def _matcher(template: str) -> re.Pattern[str]:
    """A key template as a pattern whose groups are its placeholders."""
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([A-Za-z]+)\})?", template):
        pattern += re.escape(literal) + (f"(?P<{name}>.+?)" if name else "")
    return re.compile(pattern + r"\Z")


def _events(container: Container, tables: dict[str, list[Item]]) -> list[dict[str, Any]]:
    """An event for each principal whose primary item the seed holds."""
    templates = {
        "user": json.loads((EVENTS / "v2-authentication.json").read_text()),
        "client": json.loads((EVENTS / "v3-client-credentials.json").read_text()),
    }
    events = []
    for principal in (container.deps.user, container.deps.client):
        lookup = principal.lookup
        if lookup is None:
            continue
        key = [(name, _matcher(template.template)) for name, template in lookup.primary.key]
        for item in tables.get(lookup.primary.table, ()):
            found = [pattern.match(str(item.get(name, ""))) for name, pattern in key]
            if not all(found):
                continue
            values = {k: v for match in found if match for k, v in match.groupdict().items()}
            event = copy.deepcopy(templates[principal.kind])
            if "userName" in values:
                event["userName"] = values["userName"]
            if "sub" in values:
                event["request"]["userAttributes"]["sub"] = values["sub"]
            if "clientId" in values:
                event["callerContext"]["clientId"] = values["clientId"]
            events.append(event)
    return events


def _percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _sizes(
    settings: Settings, rules: Rules, tables: dict[str, list[Item]]
) -> tuple[list[dict[str, int]], int]:
    """Each principal's token sizes as answered (`{}` when denied), and how many signed in."""
    sizes = []
    with Container(settings, source=SeedSource(tables), mapping=rules) as container:
        events = _events(container, tables)
        for event in events:
            call = container.call(event)
            sizes.append(token_sizes(event, call.response["response"]) if call.response else {})
    return sizes, len(events)


def run(settings: Settings, rules: Rules, seed: Path) -> list[str]:
    """The distribution's lines for one mapping over one seed: each token as issued (budgets
    applied), and against its budget: how many were over it before shedding, shed claims,
    and are over it still."""
    tables = _seed_tables(seed, settings.table_name or "profiles")
    budgets = {"id": settings.id_token_max_bytes, "access": settings.access_token_max_bytes}
    unbudgeted = msgspec.structs.replace(settings, id_token_max_bytes=0, access_token_max_bytes=0)
    before, count = _sizes(unbudgeted, rules, tables)
    after = _sizes(settings, rules, tables)[0] if any(budgets.values()) else before
    denied = sum(not sizes for sizes in after)
    lines = [
        f"{count} principals signed in, {denied} denied",
        f"{'token':<7} {'n':>4} {'p50':>6} {'p99':>6} {'max':>6}  {'budget':>7} "
        f"{'over':>5} {'shed':>5} {'still':>5}",
    ]
    for token, budget in budgets.items():
        pairs = [(b[token], a[token]) for b, a in zip(before, after, strict=True) if token in a]
        if not pairs:
            continue
        issued = [size for _, size in pairs]
        counts = (
            ""
            if not budget
            else (
                f"{sum(b > budget for b, _ in pairs):>5} {sum(a < b for b, a in pairs):>5} "
                f"{sum(a > budget for _, a in pairs):>5}"
            )
        )
        lines.append(
            f"{token:<7} {len(issued):>4} {_percentile(issued, 0.5):>6} "
            f"{_percentile(issued, 0.99):>6} {max(issued):>6}  {budget or 'off':>7} {counts}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    environ = {"TABLE_NAME": "profiles", "AWS_REGION": "us-east-1", **os.environ}
    environ.setdefault("LOG_LEVEL", "WARNING")
    settings = load_settings(environ)
    mapping = settings.claims_config
    beside = Path(mapping).with_suffix(".seed.json") if mapping else None
    runs = [
        (
            mapping or "the built-in mapping",
            load_rules(mapping) if mapping else DEFAULT_RULES,
            beside if beside is not None and beside.exists() else PROFILES,
        )
    ]
    if mapping is None or Path(mapping).resolve() != SINGLE_TABLE.resolve():
        runs.append(
            (
                str(SINGLE_TABLE.relative_to(ROOT)),
                load_rules(str(SINGLE_TABLE)),
                SINGLE_TABLE.with_suffix(".seed.json"),
            )
        )
    for name, rules, seed in runs:
        shown = seed.relative_to(ROOT) if seed.is_relative_to(ROOT) else seed
        print(f"\n== {name} over {shown}")
        print("\n".join(run(settings, rules, seed)))
    print(
        "\nBytes of each encoded JWT as Cognito will issue it, estimated (never below it); "
        "over: over its budget before shedding, shed: shed claims, still: over it as issued."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
