"""The bench's DynamoDB stub (`tools.ddb_stub`): composite keys, BatchGetItem, Query, indexes.

Driven the way production drives DynamoDB: a `tools.container.Container` with the example
mapping `events/single-table.toml` (composite key, a related tenant item, a memberships query
and a query on the `byUser` index) against the stub serving `events/single-table.seed.json`;
then the wire operations the store sends, answered by `Stub.handle` directly.
"""

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, load_event, make_settings
from tools.container import Container
from tools.ddb_stub import Stub, Table, stats, stub_process
from tools.tls_certs import throwaway_ca

pytestmark = pytest.mark.integration

SEED = EVENTS / "single-table.seed.json"
SUB = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with stub_process(tables=SEED) as url:
        yield url


def _claims(response: dict[str, Any], token: str) -> dict[str, Any]:
    details = response["response"]["claimsAndScopeOverrideDetails"]
    claims: dict[str, Any] = details[f"{token}Generation"]["claimsToAddOrOverride"]
    return claims


def test_container_reads_composite_key_related_item_and_queries(endpoint: str) -> None:
    settings = make_settings(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        TABLE_NAME="profiles",
        CLAIMS_CONFIG=str(EVENTS / "single-table.toml"),
    )
    before = stats(endpoint)
    with Container(settings) as container:
        response = container.invoke(load_event("v2-authentication.json"))
    counts = {op: n - before.get(op, 0) for op, n in stats(endpoint).items()}
    assert _claims(response, "idToken") == {"name": "Jane Doe", "plan": "enterprise"}
    assert _claims(response, "accessToken") == {
        "plan": "enterprise",
        "tier": 3,
        "tenants": ["acme", "globex"],
        "api_keys": ["k1", "k2"],
    }
    # The primary item, then the tenant (one related item: a GetItem), and two queries.
    assert counts.get("Query") == 2
    assert counts.get("GetItem/profiles") == 1
    assert counts.get("GetItem/tenants", 0) + counts.get("BatchGetItem/tenants", 0) == 1


def _stub() -> Stub:
    profiles = Table(
        "pk",
        "sk",
        {"byUser": ["user"]},
        [
            {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}, "tenant": {"S": "t1"}},
            {"pk": {"S": "USER#1"}, "sk": {"S": "MEMBERSHIP#b"}, "t": {"S": "b"}},
            {"pk": {"S": "USER#1"}, "sk": {"S": "MEMBERSHIP#a"}, "t": {"S": "a"}},
            {"pk": {"S": "USER#1"}, "sk": {"S": "OTHER"}, "t": {"S": "x"}},
            {"pk": {"S": "KEY#1"}, "sk": {"S": "K"}, "user": {"S": "1"}, "k": {"S": "k1"}},
        ],
    )
    tenants = Table("id", items=[{"id": {"S": "t1"}, "plan": {"S": "pro"}, "x": {"N": "1"}}])
    return Stub(tables={"profiles": profiles, "tenants": tenants})


def test_batch_get_item_per_table_with_projection() -> None:
    stub = _stub()
    status, body = stub.handle(
        "DynamoDB_20120810.BatchGetItem",
        {
            "RequestItems": {
                "profiles": {
                    "Keys": [
                        {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}},
                        {"pk": {"S": "USER#9"}, "sk": {"S": "PROFILE"}},
                    ],
                    "ProjectionExpression": "#a0, #a1, #a2",
                    "ExpressionAttributeNames": {"#a0": "pk", "#a1": "sk", "#a2": "tenant"},
                },
                "tenants": {"Keys": [{"id": {"S": "t1"}}], "ProjectionExpression": "plan"},
            }
        },
    )
    assert status == 200
    assert body == {
        "Responses": {
            "profiles": [{"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}, "tenant": {"S": "t1"}}],
            "tenants": [{"plan": {"S": "pro"}}],
        },
        "UnprocessedKeys": {},
    }
    assert stub.counts == {"BatchGetItem": 1, "BatchGetItem/profiles": 1, "BatchGetItem/tenants": 1}


def test_refusals_look_like_dynamodb() -> None:
    stub = _stub()
    key = {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}}
    status, body = stub.handle(
        "DynamoDB_20120810.BatchGetItem", {"RequestItems": {"profiles": {"Keys": [key, key]}}}
    )
    assert (status, body["__type"].rpartition("#")[2]) == (400, "ValidationException")
    status, body = stub.handle(
        "DynamoDB_20120810.GetItem", {"TableName": "profiles", "Key": {"pk": {"S": "USER#1"}}}
    )
    assert (status, body["__type"].rpartition("#")[2]) == (400, "ValidationException")
    status, body = stub.handle("DynamoDB_20120810.GetItem", {"TableName": "nope", "Key": key})
    assert (status, body["__type"].rpartition("#")[2]) == (400, "ResourceNotFoundException")


def _query(stub: Stub, **extra: Any) -> dict[str, Any]:
    request = {
        "TableName": "profiles",
        "KeyConditionExpression": "#p = :p AND begins_with(#s, :s)",
        "ExpressionAttributeNames": {"#p": "pk", "#s": "sk", "#a0": "t"},
        "ExpressionAttributeValues": {":p": {"S": "USER#1"}, ":s": {"S": "MEMBERSHIP#"}},
        "ProjectionExpression": "#a0",
        **extra,
    }
    status, body = stub.handle("DynamoDB_20120810.Query", request)
    assert status == 200
    return body


def test_query_sort_prefix_in_key_order_limit_and_index() -> None:
    stub = _stub()
    assert _query(stub)["Items"] == [{"t": {"S": "a"}}, {"t": {"S": "b"}}]
    page = _query(stub, Limit=1)
    assert page["Items"] == [{"t": {"S": "a"}}]
    assert page["LastEvaluatedKey"] == {"pk": {"S": "USER#1"}, "sk": {"S": "MEMBERSHIP#a"}}
    status, body = stub.handle(
        "DynamoDB_20120810.Query",
        {
            "TableName": "profiles",
            "IndexName": "byUser",
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": "user"},
            "ExpressionAttributeValues": {":p": {"S": "1"}},
            "Limit": 10,
        },
    )
    assert status == 200
    assert [item["k"] for item in body["Items"]] == [{"S": "k1"}]
    assert stub.counts == {"Query": 3, "Query/profiles": 3}


def test_one_key_table_answers_any_table_name_as_before() -> None:
    stub = Stub([{"id": {"S": "USER#a"}, "name": {"S": "A"}, "x": {"S": "y"}}])
    request = {
        "TableName": "whatever",
        "Key": {"id": {"S": "USER#a"}},
        "ProjectionExpression": "#a0, #a1",
        "ExpressionAttributeNames": {"#a0": "id", "#a1": "name"},
    }
    assert stub.handle("DynamoDB_20120810.GetItem", request) == (
        200,
        {"Item": {"id": {"S": "USER#a"}, "name": {"S": "A"}}},
    )
    stub.handle("DynamoDB_20120810.PutItem", {"TableName": "t", "Item": {"id": {"S": "USER#b"}}})
    assert stub.handle("DynamoDB_20120810.GetItem", {"Key": {"id": {"S": "USER#b"}}}) == (
        200,
        {"Item": {"id": {"S": "USER#b"}}},
    )


def test_stub_behind_tls_serves_a_client_trusting_its_authority(tmp_path: Path) -> None:
    # The bench's TLS mode: the stub on HTTPS with a throwaway CA's certificate; ours trusts it
    # through AWS_CA_BUNDLE, keeps the connection alive, and the stats come over TLS too.
    authority = throwaway_ca(tmp_path / "ca")
    with stub_process(tables=SEED, tls=(authority.chain, authority.key)) as url:
        assert url.startswith("https://127.0.0.1:")
        settings = make_settings(
            AWS_ENDPOINT_URL_DYNAMODB=url,
            AWS_CA_BUNDLE=str(authority.ca),
            TABLE_NAME="profiles",
            CLAIMS_CONFIG=str(EVENTS / "single-table.toml"),
        )
        with Container(settings) as container:
            transport = container.deps.store.sender.http  # type: ignore[attr-defined]
            response = container.invoke(load_event("v2-authentication.json"))
            opened = transport.connections  # the reads side by side: one connection each
            assert container.invoke(load_event("v2-authentication.json")) == response
            assert transport.connections == opened  # the second sign-in reused them
        counts = stats(url, ssl.create_default_context(cafile=authority.ca))
    assert _claims(response, "idToken") == {"name": "Jane Doe", "plan": "enterprise"}
    assert counts.get("Query") == 4
