"""`make explain EVENT=... [CLAIMS_CONFIG=...] [ITEMS=items.json]`: why each claim, scope, group
or denial did or did not happen.

Runs the event through `shared.trigger.answer` (a `tools.container.Container` over an in-memory
store, `tools.memory_store.MemoryStore`) with the mapping's trace on, and prints the outcome and,
for each rule and grant in file order, by position: emitted, absent or dropped with its reason;
held, or not held with the first failing condition key; and what each held grant suppressed or
removed. Positions and codes only: nothing from the item, the event or `clientMetadata`.

The store holds `ITEMS` (a JSON array of plain items, as a case file's `items`: `table = "..."`
puts one in another table), or else the seed beside the mapping (`<mapping>.seed.json`, as
`make invoke` seeds it), or else `events/profiles.json`. Settings come from the environment as
in Lambda (`ON_MISSING=deny make explain ...`); a configuration error prints its message alone
and exits 2.

`python -m tools.explain --event FILE [--mapping FILE] [--items FILE]`
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from shared.claims import Trace
from shared.config import VARIABLES, Settings, load_settings
from shared.errors import ConfigError, EventError
from shared.event import decode_event
from shared.lookup import decode_item
from tools.cases import BASE_SETTINGS, TOOL_SETTINGS, place_items
from tools.cli import run
from tools.container import Call, Container
from tools.memory_store import MemoryStore, Table, implied_tables, merge_tables

__all__ = ("explain", "format_trace", "main")

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "events" / "profiles.json"


def _json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} `{path}`: cannot read it as JSON: {exc}") from exc


def _seed(
    mapping: str | None, settings: Settings
) -> tuple[Path, dict[str, Table], dict[str, list[dict[str, Any]]]]:
    """The seed `make invoke` would use: tables declared there, items decoded from DynamoDB JSON."""
    seed = Path(mapping).with_suffix(".seed.json") if mapping else None
    if seed is None or not seed.exists():
        if settings.table_name is None:  # a mapping that reads no item: nothing to seed
            return PROFILES, {}, {}
        rows = _json(PROFILES, "profiles")
        return PROFILES, {}, {settings.table_name: [decode_item(row) for row in rows]}
    raw = _json(seed, "seed")
    tables = {
        name: Table(
            key=table["key"],
            sort_key=table.get("sort_key"),
            indexes={
                i: (keys[0], keys[1] if len(keys) > 1 else None)
                for i, keys in table.get("indexes", {}).items()
            },
        )
        for name, table in raw.items()
    }
    return seed, tables, {name: [decode_item(r) for r in t["items"]] for name, t in raw.items()}


def explain(
    event: dict[str, Any], settings: Settings, *, items: Path | None
) -> tuple[Call, Trace, Path]:
    """Run `event` with the trace on; what came out, the trace, and where the items came from.

    The mapping is the one `settings` name (`CLAIMS_CONFIG`), compiled as the Lambda does.
    """
    mapping = settings.claims_config
    with Container(settings, source=MemoryStore({}, {})) as probe:
        try:
            principal = probe.deps.principal(decode_event(event))
        except EventError:
            principal = probe.deps.user
    lookup = principal.lookup
    where = f"explain `{mapping or 'built-in mapping'}`"
    implied = implied_tables(lookup, where) if lookup is not None else {}
    primary = lookup.primary.table if lookup is not None else settings.table_name
    if items is not None:
        tables = merge_tables(where, implied)
        rows = _json(items, "items")
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ConfigError(f"items `{items}`: expected a JSON array of objects")
        placed = place_items(f"items `{items}`", rows, tables, primary)
        origin = items
    elif lookup is None:  # the mapping reads no item: the store is never asked
        origin, tables, placed = Path("none (the mapping reads no item)"), {}, {}
    else:
        origin, declared, placed = _seed(mapping, settings)
        tables = merge_tables(where, implied, declared)
    trace: Trace = []
    with Container(settings, source=MemoryStore(placed, tables)) as container:
        call = container.call(event, trace=trace)
    return call, trace, origin


def format_trace(call: Call, trace: Trace) -> list[str]:
    """The outcome, then one line per trace entry: position, then what happened."""
    log = call.log
    why = log.get("reason")
    by = f", by {log['denied_by']}" if log.get("denied_by") else ""
    lines = [f"outcome: {log.get('outcome')} ({why}{by})"]
    if not trace:
        lines.append("  (no rule or grant was evaluated)")
    width = max((len(position) for position, _ in trace), default=0)
    for position, code in trace:
        lines.append(f"  {position:<{width}}  {code.replace(':', ': ', 1)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event", required=True, help="event JSON file")
    parser.add_argument("--mapping", default=os.environ.get("CLAIMS_CONFIG") or None)
    parser.add_argument("--items", type=Path, default=None, help="JSON array of plain items")
    args = parser.parse_args(argv)

    def explain_event() -> int:
        if not args.event:
            raise ConfigError("`make explain` needs an event: EVENT=events/policy-admin.json")
        environ = {name: value for name, value in os.environ.items() if name in VARIABLES}
        environ.pop("CLAIMS_CONFIG", None)
        if args.mapping:
            environ["CLAIMS_CONFIG"] = args.mapping
        settings = load_settings({**BASE_SETTINGS, **environ, **TOOL_SETTINGS})
        event = _json(Path(args.event), "event")
        call, trace, origin = explain(event, settings, items=args.items)
        print(f"== explain: {args.event}")
        shown = origin.relative_to(Path.cwd()) if origin.is_relative_to(Path.cwd()) else origin
        print(f"   mapping {args.mapping or 'built-in'}, items {shown}")
        for line in format_trace(call, trace):
            print(line)
        return 0

    return run(explain_event)


if __name__ == "__main__":
    sys.exit(main())
