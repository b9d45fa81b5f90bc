"""Composite keys, related items and queries against the moto server, over real HTTP.

The tables and items are `events/single-table.seed.json`, read through the example mapping
`events/single-table.toml`, so what `make invoke CLAIMS_CONFIG=events/single-table.toml` shows
is what is tested. Faults in a related read or a query come from the fault proxy, which answers
only the chosen operation (`respond_to`).
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EVENTS, load_event, make_settings
from tests.integration.conftest import Harness, open_container
from tools.fault_proxy import FaultProxy, http_response
from tools.local_dynamodb import create_table, moto_server, put_items

pytestmark = pytest.mark.integration

MAPPING = str(EVENTS / "single-table.toml")
SUB = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
PROFILES = "single_table_profiles"
THROTTLED = http_response(
    400,
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}',
    "Bad Request",
)


@pytest.fixture(scope="module")
def seeded() -> Iterator[str]:
    """The example's tables (`profiles` as `PROFILES`), a second tenant and its users.

    moto servers in one process share their tables: the names must not meet other tests'.
    """
    with moto_server() as url:
        seed = json.loads((EVENTS / "single-table.seed.json").read_text())
        seed[PROFILES] = seed.pop("profiles")
        for name, table in seed.items():
            indexes = {i: (keys[0], keys[1]) for i, keys in table.get("indexes", {}).items()}
            create_table(
                url, name, key_attribute=table["key"], sort_key=table["sort_key"], indexes=indexes
            )
            put_items(url, name, table["items"])
        put_items(
            url,
            "tenants",
            [{"pk": {"S": "TENANT#7"}, "sk": {"S": "METADATA"}, "plan": {"S": "free"}}],
        )
        put_items(
            url,
            PROFILES,
            [
                {"pk": {"S": f"USER#u{i}"}, "sk": {"S": "PROFILE"}, "tenant_id": {"N": "7"}}
                for i in range(5)
            ],
        )
        yield url


@pytest.fixture
def build(seeded: str) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(url: str | None = None, **env: str) -> Harness:
        env.setdefault("CLAIMS_CONFIG", MAPPING)
        env.setdefault("TABLE_NAME", PROFILES)
        settings = make_settings(AWS_ENDPOINT_URL_DYNAMODB=url or seeded, **env)
        made.append(open_container(settings))
        return made[-1]

    yield make
    for harness in made:
        harness.close()


def _access(answer: dict[str, Any]) -> dict[str, Any]:
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    claims: dict[str, Any] = details["accessTokenGeneration"]["claimsToAddOrOverride"]
    return claims


def _user(sub: str) -> dict[str, Any]:
    event = load_event("v2-authentication.json")
    event["request"]["userAttributes"]["sub"] = sub
    return event


def test_data_models_composite_key_related_item_table_and_index_queries(
    build: Callable[..., Harness],
) -> None:
    answer = build().invoke(load_event("v2-authentication.json"))
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {
        "name": "Jane Doe",
        "plan": "enterprise",
    }
    assert _access(answer) == {
        "plan": "enterprise",
        "tier": 3,
        "tenants": ["acme", "globex"],  # the query, in key order; the profile item is skipped
        "api_keys": ["k1", "k2"],  # the GSI query
    }


def test_data_models_missing_tenant_item_with_required_plan_follows_on_missing(
    build: Callable[..., Harness],
) -> None:
    call = build(ON_MISSING="deny").call(_user("no-such-user"))
    assert (call.log["outcome"], call.log["reason"]) == ("denied", "missing")


TWO_RELATED = """
[user.item]
key = { pk = "USER#{sub}", sk = "PROFILE" }

[[user.related]]
name = "tenant"
table = "tenants"
key = { pk = "TENANT#{item.tenant_id}", sk = "METADATA" }

[[user.related]]
name = "acme"
key = { pk = "USER#{sub}", sk = "MEMBERSHIP#acme" }

[[user.related]]
name = "tenant_again"
table = "tenants"
key = { pk = "TENANT#{item.tenant_id}", sk = "METADATA" }

[[user.claims]]
source = "tenant"
attribute = "plan"
tokens = ["access"]

[[user.claims]]
source = "tenant_again"
attribute = "tier"
tokens = ["access"]

[[user.claims]]
source = "acme"
attribute = "tenant_id"
claim = "acme"
tokens = ["access"]
"""


def test_data_models_batch_get_with_unprocessed_keys_is_retried_inside_the_deadline(
    seeded: str,
    proxy_for: Callable[[str], FaultProxy],
    build: Callable[..., Harness],
    tmp_path: Path,
) -> None:
    # GIVEN three related items over two tables (one BatchGetItem; the same tenant key twice,
    # with two projections) and a store that leaves the tenant key unprocessed once
    mapping = tmp_path / "two.toml"
    mapping.write_text(TWO_RELATED)
    proxy = proxy_for(seeded)
    harness = build(url=proxy.endpoint, CLAIMS_CONFIG=str(mapping))
    unprocessed = {
        "Responses": {
            PROFILES: [
                {"pk": {"S": f"USER#{SUB}"}, "sk": {"S": "MEMBERSHIP#acme"},
                 "tenant_id": {"S": "acme"}}
            ]
        },
        "UnprocessedKeys": {
            "tenants": {
                "Keys": [{"pk": {"S": "TENANT#42"}, "sk": {"S": "METADATA"}}],
                "ProjectionExpression": "#a0, #a1, #a2, #a3",
                "ExpressionAttributeNames": {
                    "#a0": "pk", "#a1": "sk", "#a2": "plan", "#a3": "tier"
                },
            }
        },
    }  # fmt: skip
    proxy.set_mode(
        "respond_to",
        http_response(200, json.dumps(unprocessed).encode(), "OK"),
        operation="BatchGetItem",
    )
    answer = harness.invoke(load_event("v2-authentication.json"))
    # THEN the unprocessed key was asked again, and every source got its item
    assert proxy.answered == 1
    assert _access(answer) == {"plan": "enterprise", "tier": 3, "acme": "acme"}


@pytest.mark.parametrize("operation", ["Query", "GetItem", "BatchGetItem"])
@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_data_models_fault_in_any_read_follows_on_error(
    seeded: str,
    proxy_for: Callable[[str], FaultProxy],
    build: Callable[..., Harness],
    operation: str,
    policy: str,
) -> None:
    proxy = proxy_for(seeded)
    harness = build(url=proxy.endpoint, ON_ERROR=policy, STORE_MAX_ATTEMPTS="1")
    # The related tenant item is one GetItem here; a throttled BatchGetItem needs two related
    # items, so for it the throttle hits nothing and the sign-in goes through.
    proxy.set_mode("respond_to", THROTTLED, operation=operation, times=10)
    call = harness.call(load_event("v2-authentication.json"))
    if operation == "BatchGetItem":
        assert call.log["outcome"] == "claims_added"
        return
    assert call.log["reason"] == "store_error"
    assert call.log["error_kind"] == "throttled"
    if policy == "deny":
        assert call.denied is not None
    else:
        assert call.response is not None
        details = call.response["response"]["claimsAndScopeOverrideDetails"]
        assert set(details) == {"groupOverrideDetails"}  # no store claims from any source


def test_data_models_tenant_item_shared_by_users_is_read_once(
    seeded: str, proxy_for: Callable[[str], FaultProxy], build: Callable[..., Harness]
) -> None:
    harness = build(CACHE_TTL_SECONDS="60")
    for i in range(5):
        assert _access(harness.invoke(_user(f"u{i}")))["plan"] == "free"
    cache = harness.deps.cache
    assert cache is not None
    # 5 profiles + 5x2 queries + the tenant once = 16 loads; the tenant item hit 4 times
    assert cache.loads == 16
    tenant_keys = [k for k in cache._entries if "tenants" in k]
    assert len(tenant_keys) == 1


@pytest.fixture
def proxy_for() -> Iterator[Callable[[str], FaultProxy]]:
    made: list[FaultProxy] = []

    def make(url: str) -> FaultProxy:
        host, port = url.removeprefix("http://").split(":")
        made.append(FaultProxy(host, int(port)))
        return made[-1]

    yield make
    for proxy in made:
        proxy.close()
