"""Every shipped mapping case, run twice: in memory and against a moto server, byte for byte.

`make check-mapping` replaces the store by the case's items at its seam (`MemoryStore`); this
holds that replacement to the real thing. For each case whose store answers, the tables its
mapping implies are created in moto (keys and indexes as the case file completes them), its
items put as DynamoDB JSON, and the same event answered through the real store over HTTP: the
answer (as JSON bytes), the denial, the outcome and reason, and the trace must be the same.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import msgspec
import pytest

from shared.values import encode_json
from tests.conftest import EVENTS
from tools.cases import Case, Cases, load_cases
from tools.check_mapping import run_case
from tools.container import Call, Container
from tools.local_dynamodb import FAKE_CREDENTIALS, create_table, moto_server
from tools.memory_store import to_attribute_value

pytestmark = pytest.mark.integration

CASE_FILES = sorted(EVENTS.glob("*.cases.toml"))
REGION = "ap-southeast-2"
"""moto keeps one state per process and region: this region is the test's alone."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _seeded(url: str, case: Case) -> list[str]:
    """Create the case's tables and put its items; the table names, to delete after."""
    for name, table in case.tables.items():
        assert table.key is not None
        create_table(url, name, key_attribute=table.key, sort_key=table.sort_key,
                     indexes=dict(table.indexes), region=REGION)  # fmt: skip
    client = boto3.client("dynamodb", endpoint_url=url, region_name=REGION, **FAKE_CREDENTIALS)
    for name, items in case.items.items():
        for item in items:
            wire = {attribute: to_attribute_value(value) for attribute, value in item.items()}
            client.put_item(TableName=name, Item=wire)
    return list(case.tables)


def _seen(call: Call, trace: list[tuple[str, str]]) -> dict[str, Any]:
    log = call.log
    return {
        "response": encode_json(call.response) if call.response is not None else None,
        "denied": call.denied,
        "log": {key: log.get(key) for key in ("outcome", "reason", "denied_by", "dropped_claims")},
        "trace": trace,
    }


def _cases() -> list[tuple[Cases, Case]]:
    loaded = [load_cases(path) for path in CASE_FILES]
    return [(cases, case) for cases in loaded for case in cases.cases if case.store == "ok"]


@pytest.mark.parametrize(
    ("cases", "case"),
    _cases(),
    ids=lambda value: value.name if isinstance(value, Case) else Path(value.path).stem,
)
def test_case_answers_the_same_from_memory_and_from_moto(
    server: str, cases: Cases, case: Case
) -> None:
    in_memory = _seen(*run_case(case))
    tables = _seeded(server, case)
    try:
        settings = msgspec.structs.replace(case.settings, endpoint_url=server, region=REGION)
        trace: list[tuple[str, str]] = []
        with Container(settings) as container:
            from_moto = _seen(container.call(case.event, trace=trace), trace)
    finally:
        client = boto3.client(
            "dynamodb", endpoint_url=server, region_name=REGION, **FAKE_CREDENTIALS
        )
        for name in tables:
            client.delete_table(TableName=name)
    assert from_moto == in_memory
    assert in_memory["log"]["outcome"] == case.expect.outcome


def test_every_shipped_case_file_is_compared() -> None:
    compared = {cases.path for cases, _ in _cases()}
    assert compared == set(CASE_FILES)
