"""A mapping that reads no item: no `TABLE_NAME`, no connection, no event loop; mixed ones read.

Driven through `tools.container.Container`, the path the handler runs. "No connection" is
`Deps.connected` (no profile source was opened, `open_deps` never ran the loop); "no event loop"
is proved by closing the container's loop before invoking: any use of it would raise.
"""

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from shared.claims import Rules, load_rules, parse_rules
from shared.config import load_settings
from shared.deps import open_deps
from shared.errors import DENIED_NO_PROFILE, ConfigError
from shared.lookup.sources import ItemRead, QueryRead
from shared.values import Item
from tests.conftest import EVENTS, load_event
from tools.container import Container

FEDERATED_TOML = str(EVENTS / "federated.toml")
NO_TABLE_ENV = {"AWS_REGION": "us-east-1", "METRICS": "false"}


class RecordingSource:
    """Answers every GetItem with `item`; records every read."""

    def __init__(self, item: Item | None = None) -> None:
        self.item = item
        self.calls: list[str] = []

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        self.calls.append(read.key[0][1])
        return self.item

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        self.calls.extend(read.key[0][1] for read in reads)
        return [self.item for _ in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        self.calls.append(read.partition)
        return []


_MADE: list[Container] = []


@pytest.fixture(autouse=True)
def _close_containers() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _container(
    mapping: Rules | None = None, source: RecordingSource | None = None, **env: str
) -> Container:
    container = Container(load_settings({**NO_TABLE_ENV, **env}), source=source, mapping=mapping)
    _MADE.append(container)
    return container


def _mapping(document: dict[str, Any], trust: list[str]) -> Rules:
    document = {"request": {"user_attributes": trust}, **document}
    return parse_rules(json.dumps(document).encode(), source="t.json", toml=False)


def _details(response: Any) -> Any:
    return response["response"]["claimsAndScopeOverrideDetails"]


def test_event_only_mapping_needs_no_table_no_connection_no_loop() -> None:
    # GIVEN the event-only example, no TABLE_NAME, and the real `open_deps` (no fake source)
    container = _container(load_rules(FEDERATED_TOML), CLAIMS_CONFIG=FEDERATED_TOML)
    assert container.settings.table_name is None
    assert container.deps.connected is False
    assert container.deps.user.lookup is None
    assert container.deps.client.lookup is None
    # WHEN the loop is closed (any use of it would raise) and the federated event comes
    container.loop.close()
    call = container.call(load_event("v2-federated.json"))
    # THEN the tokens come from the event alone
    assert call.denied is None
    assert call.response is not None
    details = _details(call.response)
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {
        "department": "Engineering",
        "contractor": False,
        "idp": "Okta",
    }
    assert details["accessTokenGeneration"]["scopesToAdd"] == ["reports/read"]
    assert details["groupOverrideDetails"]["groupsToOverride"] == [
        "us-east-1_EXAMPLE_Okta",
        "admins",
        "developers",
    ]
    assert (call.log["outcome"], call.log["reason"], call.log["cache"]) == (
        "claims_added",
        "found",
        "none",
    )
    # Machine clients read nothing either: the mapping has no table to read.
    machine = container.call(load_event("v3-client-credentials.json"))
    assert machine.response is not None
    assert machine.log["cache"] == "none"


def test_event_only_open_deps_never_runs_the_loop() -> None:
    settings = load_settings({**NO_TABLE_ENV})
    loop = asyncio.new_event_loop()
    loop.close()  # open_deps would raise on it if it entered a connection
    deps = open_deps(settings, loop, rules=load_rules(FEDERATED_TOML))
    assert deps.connected is False


def test_event_only_required_attribute_absent_follows_on_missing() -> None:
    event = load_event("v2-federated.json")
    del event["request"]["userAttributes"]["custom:contractor"]  # required in the example
    allow = _container(load_rules(FEDERATED_TOML)).call(event)
    assert (allow.log["outcome"], allow.log["reason"]) == (
        "allowed_without_claims",
        "missing_required",
    )
    assert allow.response is not None
    assert set(_details(allow.response)) == {"groupOverrideDetails"}
    deny = _container(load_rules(FEDERATED_TOML), ON_MISSING="deny").call(event)
    assert deny.denied == DENIED_NO_PROFILE


def test_a_mapping_reading_items_still_needs_table_name() -> None:
    with pytest.raises(ConfigError, match=r"`TABLE_NAME` is required: .* built-in mapping"):
        _container()
    mixed = _mapping(
        {"user": {"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]},
                             {"attribute": "plan", "tokens": ["id"]}]}},
        ["email"],
    )  # fmt: skip
    with pytest.raises(ConfigError, match="`TABLE_NAME` is required"):
        _container(mixed)
    # A file naming the user's table still leaves [client] on the default table.
    named = _mapping(
        {"user": {"item": {"table": "people", "key": {"pk": "U#{sub}"}},
                  "claims": [{"attribute": "plan", "tokens": ["id"]}]}},
        [],
    )  # fmt: skip
    with pytest.raises(ConfigError, match="reads for clients"):
        _container(named)


def test_mixed_mapping_reads_as_today() -> None:
    mixed = _mapping(
        {"user": {"claims": [{"source": "event", "attribute": "custom:department",
                              "claim": "department", "tokens": ["id"]},
                             {"attribute": "plan", "tokens": ["id"]}]}},
        ["custom:department"],
    )  # fmt: skip
    source = RecordingSource({"plan": "gold"})
    container = _container(mixed, source, TABLE_NAME="profiles")
    call = container.call(load_event("v2-federated.json"))
    assert source.calls == ["USER#Okta_abc123"]
    assert call.response is not None
    assert _details(call.response)["idTokenGeneration"]["claimsToAddOrOverride"] == {
        "department": "Engineering",
        "plan": "gold",
    }
    source.item = None  # no profile: ON_MISSING decides, the event's claims with it
    missing = container.call(load_event("v2-federated.json"))
    assert (missing.log["outcome"], missing.log["reason"]) == ("allowed_without_claims", "missing")


def test_event_only_users_and_item_reading_clients() -> None:
    mapping = _mapping(
        {"user": {"claims": [{"source": "event", "attribute": "email", "tokens": ["id"]}]},
         "client": {"claims": [{"attribute": "quota", "tokens": ["access"]}]}},
        ["email"],
    )  # fmt: skip
    source = RecordingSource({"quota": 5})
    container = _container(mapping, source, TABLE_NAME="profiles")
    assert container.deps.user.lookup is None
    assert container.deps.client.lookup is not None
    user = container.call(load_event("v2-federated.json"))
    assert user.response is not None
    assert source.calls == []
    assert _details(user.response)["idTokenGeneration"]["claimsToAddOrOverride"] == {
        "email": "jane.doe@example.com"
    }
    machine = container.call(load_event("v3-client-credentials.json"))
    assert machine.response is not None
    assert source.calls == ["CLIENT#7machine0client0id"]


def test_make_invoke_sample_event_carries_what_the_mapping_reads() -> None:
    # The README's command names both files; the event carries what the mapping reads.
    event = load_event("v2-federated.json")
    attributes = event["request"]["userAttributes"]
    for name in load_rules(FEDERATED_TOML).user_attributes:
        assert name in attributes, name
    assert attributes["custom:idp_groups"].startswith("[")
    assert event["request"]["groupConfiguration"]["groupsToOverride"] == ["us-east-1_EXAMPLE_Okta"]
