"""`make invoke`: run the handler on a sample event and show what the tokens would hold.

A claim mapping that reads no item (`CLAIMS_CONFIG=events/federated.toml`: claims from the event
alone) needs no table: nothing is started or seeded, and `TABLE_NAME` is left unset. Otherwise,
with no AWS configuration, it starts an embedded DynamoDB (moto's server on 127.0.0.1, free
port), creates the table and seeds `events/profiles.json`, or, when the `CLAIMS_CONFIG` file has a
`<name>.seed.json` beside it, the tables (keys, indexes) and items that file describes. With
`AWS_ENDPOINT_URL_DYNAMODB`, or real AWS credentials plus `TABLE_NAME`, it uses that table and
seeds nothing. It imports the real entry point (`handler.app`), so settings come from the
environment exactly as in Lambda. A configuration error (a setting, the mapping) is printed as
its message alone, and the status is 2.
"""

import argparse
import importlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from shared.claims import load_rules
from shared.config import Settings
from shared.errors import SignInDenied
from shared.tokens import token_sizes
from tools.cli import run
from tools.local_dynamodb import (
    FAKE_CREDENTIALS,
    create_table,
    load_items,
    moto_server,
    put_items,
)
from tools.token_preview import preview_tokens

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
DEFAULT_EVENT = EVENTS / "v2-authentication.json"
WARM_RUNS = 50


class LocalContext:
    """The slice of the Lambda context the handler reads, with Cognito's 5 s budget."""

    def __init__(self, budget_ms: int = 5000) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _print_json(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, sort_keys=False))


@contextmanager
def _table() -> Iterator[str]:
    """Point the environment at a table; yield a line saying which."""
    mapping = os.environ.get("CLAIMS_CONFIG")
    if mapping and not load_rules(mapping).reads_items:
        os.environ.setdefault("AWS_REGION", "us-east-1")
        yield f"none: the claim mapping {mapping} reads no item (no table, no connection)"
        return
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.setdefault("TABLE_NAME", "profiles")
        endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        yield f"table {os.environ['TABLE_NAME']} at {endpoint} (not seeded)"
        return
    if os.environ.get("TABLE_NAME") and boto3.Session().get_credentials() is not None:
        yield f"table {os.environ['TABLE_NAME']} in your AWS account (not seeded)"
        return
    with moto_server() as endpoint:
        table = os.environ.setdefault("TABLE_NAME", "profiles")
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
        os.environ.setdefault("AWS_REGION", "us-east-1")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["aws_access_key_id"])
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["aws_secret_access_key"])
        seed = _seed_file()
        if seed is not None:
            counts = _seed_tables(endpoint, json.loads(seed.read_text()))
            yield f"embedded DynamoDB (moto server) at {endpoint}, seeded from {seed}: {counts}"
            return
        create_table(
            endpoint,
            table,
            key_attribute=os.environ.get("KEY_ATTRIBUTE", "id"),
            sort_key=os.environ.get("SORT_KEY_ATTRIBUTE"),
        )
        count = put_items(endpoint, table, load_items(EVENTS / "profiles.json"))
        yield f"embedded DynamoDB (moto server) at {endpoint}, table {table}, {count} profiles"


def _seed_file() -> Path | None:
    """`<mapping>.seed.json` beside the `CLAIMS_CONFIG` file, when there is one."""
    mapping = os.environ.get("CLAIMS_CONFIG")
    if not mapping:
        return None
    seed = Path(mapping).with_suffix(".seed.json")
    return seed if seed.exists() else None


def _seed_tables(endpoint: str, tables: dict[str, Any]) -> str:
    """Create each table of a seed file (keys, indexes) and put its items."""
    counts = []
    for name, table in tables.items():
        indexes = {index: (keys[0], keys[1]) for index, keys in table.get("indexes", {}).items()}
        create_table(
            endpoint,
            name,
            key_attribute=table["key"],
            sort_key=table.get("sort_key"),
            indexes=indexes,
        )
        counts.append(f"{name} {put_items(endpoint, name, table['items'])} items")
    return ", ".join(counts)


def _sizes_line(event: dict[str, Any], response: dict[str, Any], settings: Settings) -> str:
    """Each token's estimated size (as Cognito will issue it) beside its budget."""
    budgets = {"id": settings.id_token_max_bytes, "access": settings.access_token_max_bytes}
    parts = []
    for token, size in token_sizes(event, response).items():
        budget = budgets[token]
        limit = f"budget {budget}" if budget else "no budget"
        over = " (OVER BUDGET)" if budget and size > budget else ""
        parts.append(f"{token} token {size} bytes, {limit}{over}")
    return "== token sizes (estimated, never below the real ones): " + "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--event", type=Path, default=DEFAULT_EVENT, help="event JSON file")
    args = parser.parse_args(argv)
    event = json.loads(args.event.read_text(encoding="utf-8-sig"))
    # One JSON log line per invocation would bury the output below; LOG_LEVEL=INFO shows them.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("METRICS", "false")  # METRICS=true shows the EMF lines too
    with _table() as where:
        print(f"== store: {where}")
        print(f"== event: {args.event}")
        started = time.perf_counter()
        app = importlib.import_module("handler.app")
        init_ms = (time.perf_counter() - started) * 1000
        try:
            started = time.perf_counter()
            try:
                answer = app.handler(event, LocalContext())
            except SignInDenied as denied:
                print(
                    f"\nCognito fails the sign-in: PreTokenGeneration failed with error {denied}."
                )
                return 1
            first_ms = (time.perf_counter() - started) * 1000
            _print_json("response", answer["response"])
            tokens = preview_tokens(event, answer["response"])
            if tokens["id_token"] is not None:
                _print_json("ID token claims (as Cognito would issue them)", tokens["id_token"])
            _print_json("access token claims (as Cognito would issue them)", tokens["access_token"])
            print("\n" + _sizes_line(event, answer["response"], app.SETTINGS))
            warm = []
            for _ in range(WARM_RUNS):
                started = time.perf_counter()
                app.handler(event, LocalContext())
                warm.append((time.perf_counter() - started) * 1000)
            print(
                f"\n== timing: import+init {init_ms:.0f} ms, first invocation {first_ms:.1f} ms, "
                f"warm invocation median {statistics.median(warm):.2f} ms over {WARM_RUNS} "
                f"(cache {'on' if app.SETTINGS.cache_enabled else 'off'}, "
                f"connection {'opened' if app.DEPS.connected else 'not opened'})",
                file=sys.stderr,
            )
        finally:
            app.DEPS.close()
            app.LOOP.close()
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
