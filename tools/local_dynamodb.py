"""A local DynamoDB for tests and `make invoke`: moto's server on 127.0.0.1, a free port, over HTTP.

Also creates the profile table and seeds it with items written in DynamoDB JSON (the form
`aws dynamodb put-item --item file://...` takes), so seeding needs no serializer.
"""

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

__all__ = ("FAKE_CREDENTIALS", "create_table", "load_items", "moto_server", "put_items")

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto server on 127.0.0.1 on a free port; yield its endpoint URL; stop it."""
    # werkzeug logs every request to stderr; a benchmark or a test run does not need that.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _client(endpoint: str, region: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, **FAKE_CREDENTIALS)


def create_table(
    endpoint: str,
    table: str,
    *,
    key_attribute: str = "id",
    sort_key: str | None = None,
    indexes: dict[str, tuple[str, str | None]] | None = None,
    region: str = "us-east-1",
) -> None:
    """Create an on-demand table with string keys, as the SAM template does.

    `sort_key` adds a sort key; `indexes` maps a global secondary index's name to its partition
    and sort key attributes (all projected).
    """
    client = _client(endpoint, region)
    schema = [{"AttributeName": key_attribute, "KeyType": "HASH"}]
    if sort_key is not None:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
    names = {key_attribute, *([sort_key] if sort_key else [])}
    secondary = []
    for name, (partition, sort) in (indexes or {}).items():
        index_schema = [{"AttributeName": partition, "KeyType": "HASH"}]
        names.add(partition)
        if sort is not None:
            index_schema.append({"AttributeName": sort, "KeyType": "RANGE"})
            names.add(sort)
        secondary.append(
            {"IndexName": name, "KeySchema": index_schema, "Projection": {"ProjectionType": "ALL"}}
        )
    extra: dict[str, Any] = {"GlobalSecondaryIndexes": secondary} if secondary else {}
    client.create_table(
        TableName=table,
        KeySchema=schema,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in sorted(names)],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    client.get_waiter("table_exists").wait(TableName=table)


def put_items(
    endpoint: str, table: str, items: Iterable[dict[str, Any]], *, region: str = "us-east-1"
) -> int:
    """Write items given in DynamoDB JSON; return how many."""
    client = _client(endpoint, region)
    count = 0
    for item in items:
        client.put_item(TableName=table, Item=item)
        count += 1
    return count


def load_items(path: Path) -> list[dict[str, Any]]:
    """Read a JSON array of items in DynamoDB JSON."""
    items = json.loads(path.read_text())
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON array of items")
    return items
