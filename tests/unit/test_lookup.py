"""Data models beyond one item: composite keys, related items, queries, through the pipeline.

A fake store keyed by (table, key) answers GetItem, BatchGetItem and Query; every test drives
`shared.trigger.answer` through `tools.container.Container`, as the handler does.
"""

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from shared.claims import parse_rules
from shared.errors import ConfigError, StoreError, StoreUnavailable
from shared.lookup.sources import ItemRead, QueryRead
from shared.values import Item
from tests.conftest import FakeClock, load_event, make_settings
from tools.container import Container

Key = tuple[tuple[str, str], ...]


class TableStore:
    """Items by (table, key); queries by (table, index, partition); counts every request."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, Key], Item] = {}
        self.lists: dict[tuple[str, str | None, str], list[Item]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail: set[str] = set()
        self.delay = 0.0

    def put(self, table: str, item: Item, *key: str) -> None:
        self.items[(table, tuple((name, str(item[name])) for name in key))] = item

    async def _maybe_fail(self, operation: str) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if operation in self.fail:
            raise StoreUnavailable(f"{operation} failed")

    async def get_item(self, read: ItemRead, *, consistent: bool, timeout: float) -> Item | None:
        self.calls.append(("GetItem", (read.source.table, read.key, timeout)))
        await self._maybe_fail("GetItem")
        return self.items.get((read.source.table, read.key))

    async def batch_get(
        self, reads: Sequence[ItemRead], *, consistent: bool, timeout: float
    ) -> list[Item | None]:
        self.calls.append(("BatchGetItem", tuple((r.source.table, r.key) for r in reads)))
        await self._maybe_fail("BatchGetItem")
        return [self.items.get((r.source.table, r.key)) for r in reads]

    async def query(self, read: QueryRead, *, consistent: bool, timeout: float) -> list[Item]:
        source = read.source
        self.calls.append(("Query", (source.table, source.index, read.partition, read.prefix)))
        await self._maybe_fail("Query")
        found = self.lists.get((source.table, source.index, read.partition), [])
        prefix, attribute = read.prefix, source.sort_prefix[0] if source.sort_prefix else None
        if prefix is not None and attribute is not None:
            found = [i for i in found if str(i.get(attribute, "")).startswith(prefix)]
        return found[: source.limit]

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


SINGLE_TABLE = b"""
[user.item]
key = { pk = "USER#{sub}", sk = "PROFILE" }

[[user.related]]
name = "tenant"
table = "tenants"
key = { pk = "TENANT#{item.tenant_id}", sk = "METADATA" }

[[user.related]]
name = "region"
table = "regions"
key = { pk = "REGION#{item.region}" }

[[user.query]]
name = "memberships"
partition = { pk = "USER#{sub}" }
sort_begins_with = { sk = "MEMBERSHIP#" }
limit = 50

[[user.claims]]
attribute = "first_name"
tokens = ["id"]

[[user.claims]]
source = "tenant"
attribute = "plan"
tokens = ["id", "access"]
type = "string"

[[user.claims]]
source = "region"
attribute = "name"
claim = "region"
tokens = ["access"]

[[user.claims]]
source = "memberships"
attribute = "tenant_id"
claim = "tenants"
tokens = ["access"]
type = "string_list"
"""

SUB = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
_MADE: list[Container] = []


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _seeded() -> TableStore:
    store = TableStore()
    user = {"pk": f"USER#{SUB}", "sk": "PROFILE", "first_name": "Jane", "tenant_id": 42}
    store.put("profiles", user, "pk", "sk")
    store.put("tenants", {"pk": "TENANT#42", "sk": "METADATA", "plan": "gold"}, "pk", "sk")
    store.lists[("profiles", None, f"USER#{SUB}")] = [
        {"pk": f"USER#{SUB}", "sk": "MEMBERSHIP#t1", "tenant_id": "t1"},
        {"pk": f"USER#{SUB}", "sk": "MEMBERSHIP#t2", "tenant_id": "t2"},
        {"pk": f"USER#{SUB}", "sk": "MEMBERSHIP#t3"},  # no tenant_id: skipped
        {"pk": f"USER#{SUB}", "sk": "OTHER#x", "tenant_id": "nope"},
    ]
    return store


def _container(
    store: TableStore, mapping: bytes = SINGLE_TABLE, clock: FakeClock | None = None, **env: str
) -> Container:
    env.setdefault("METRICS", "false")
    container = Container(
        make_settings(**env),
        source=store,
        mapping=parse_rules(mapping, source="single.toml", toml=True),
        clock=clock or FakeClock(),
    )
    _MADE.append(container)
    return container


def _claims(answer: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    id_claims = details.get("idTokenGeneration", {}).get("claimsToAddOrOverride", {})
    access = details.get("accessTokenGeneration", {}).get("claimsToAddOrOverride", {})
    return id_claims, access


def test_lookup_composite_key_related_item_and_query() -> None:
    store = _seeded()
    answer = _container(store).invoke(load_event("v2-authentication.json"))
    id_claims, access = _claims(answer)
    assert id_claims == {"first_name": "Jane", "plan": "gold"}
    # The region item is absent (no `region` attribute): its claim is absent, nothing else.
    assert access == {"plan": "gold", "tenants": ["t1", "t2"]}
    operations = [name for name, _ in store.calls]
    assert sorted(operations[:2]) == ["GetItem", "Query"]  # primary and query side by side
    # One related item rendered (the region key has no value): a GetItem, not a batch
    assert operations[2:] == ["GetItem"]
    assert store.calls[2][1][:2] == ("tenants", (("pk", "TENANT#42"), ("sk", "METADATA")))


def test_lookup_several_related_items_are_one_batch() -> None:
    store = _seeded()
    store.items[("profiles", (("pk", f"USER#{SUB}"), ("sk", "PROFILE")))]["region"] = "eu"
    store.put("regions", {"pk": "REGION#eu", "name": "Europe"}, "pk")
    answer = _container(store).invoke(load_event("v2-authentication.json"))
    assert _claims(answer)[1]["region"] == "Europe"
    assert store.count("BatchGetItem") == 1
    assert store.count("GetItem") == 1  # the primary only


def test_lookup_missing_primary_reads_nothing_else_and_follows_on_missing() -> None:
    store = TableStore()
    call = _container(store).call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["reason"]) == ("allowed_without_claims", "missing")
    assert store.count("BatchGetItem") == 0
    denied = _container(store, ON_MISSING="deny").call(load_event("v2-authentication.json"))
    assert denied.log["outcome"] == "denied"


@pytest.mark.parametrize("failing", ["Query", "GetItem", "BatchGetItem"])
def test_lookup_any_failed_read_fails_the_whole_lookup(failing: str) -> None:
    store = _seeded()
    store.items[("profiles", (("pk", f"USER#{SUB}"), ("sk", "PROFILE")))]["region"] = "eu"
    store.fail = {failing}
    deny = _container(store).call(load_event("v2-authentication.json"))
    assert (deny.log["outcome"], deny.log["reason"]) == ("denied", "store_error")
    allow = _container(store, ON_ERROR="allow").call(load_event("v2-authentication.json"))
    assert allow.response is not None
    # allow = no store claims at all, from any source; groups kept
    assert _claims(allow.response) == ({}, {})


def test_lookup_required_rule_on_a_related_source_follows_on_missing() -> None:
    mapping = SINGLE_TABLE.replace(
        b'source = "tenant"\nattribute = "plan"',
        b'source = "tenant"\nattribute = "plan"\nrequired = true',
    )
    store = _seeded()
    del store.items[("tenants", (("pk", "TENANT#42"), ("sk", "METADATA")))]
    call = _container(store, mapping).call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["reason"]) == (
        "allowed_without_claims",
        "missing_required",
    )
    assert _claims(call.response or {}) == ({}, {})


def test_lookup_query_without_matches_is_an_empty_list() -> None:
    store = _seeded()
    store.lists.clear()
    _, access = _claims(_container(store).invoke(load_event("v2-authentication.json")))
    assert access["tenants"] == []


def test_lookup_tenant_item_is_read_once_per_ttl_across_users() -> None:
    store = _seeded()
    users = []
    for index in range(20):
        sub = f"sub-{index}"
        store.put("profiles", {"pk": f"USER#{sub}", "sk": "PROFILE", "tenant_id": 42}, "pk", "sk")
        event = load_event("v2-authentication.json")
        event["request"]["userAttributes"]["sub"] = sub
        users.append(event)
    clock = FakeClock()
    container = _container(store, clock=clock, CACHE_TTL_SECONDS="60")
    for event in users:
        assert _claims(container.invoke(event))[0]["plan"] == "gold"
    tenant_reads = [c for c in store.calls if c[0] == "GetItem" and c[1][0] == "tenants"]
    assert len(tenant_reads) == 1
    # Every read cached: the second round is answered without the store at all.
    before = len(store.calls)
    for event in users:
        assert container.call(event).log["cache"] == "hit"
    assert len(store.calls) == before
    clock.advance(61)
    container.invoke(users[0])
    assert len([c for c in store.calls if c[0] == "GetItem" and c[1][0] == "tenants"]) == 2


def test_lookup_reads_share_one_deadline() -> None:
    # GIVEN each read taking 150 ms and a 250 ms lookup budget: primary+query fit, the related
    # read after them does not
    store = _seeded()
    store.delay = 0.15
    call = _container(store, LOOKUP_TIMEOUT_MS="250").call(load_event("v2-authentication.json"))
    assert (call.log["outcome"], call.log["error_kind"]) == ("denied", "timeout")


_RELATED = b'[[user.related]]\nname = "r%d"\nkey = { pk = "{item.a}" }\n'
_QUERY = b'[[user.query]]\nname = "q%d"\npartition = { pk = "{sub}" }\nlimit = 1\n'


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b'[[user.claims]]\nsource = "nope"\nattribute = "a"\ntokens = ["id"]\n',
         "user.claims[0] (`a`): unknown source `nope`"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "T#{item.tenant}" }\nlimit = 5\n',
         "user.query[0].partition.pk` may only use the placeholders"),
        (b'[[user.related]]\nname = "t"\nkey = { pk = "T#{usrName}" }\n',
         "got `{usrName}`"),
        (b'[[user.related]]\nname = "t"\nkey = { pk = "T#{item.a}" }\n'
         b'[[user.query]]\nname = "t"\npartition = { pk = "U#{sub}" }\nlimit = 5\n',
         "the source name `t` is taken by user.related[0]"),
        (b'[[user.related]]\nname = "item"\nkey = { pk = "T#{item.a}" }\n',
         "the source name `item` is taken by user.item"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "U#{sub}" }\nlimit = 101\n',
         "`limit` must be in 1..100"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "U#{sub}" }\n',
         "missing required field `limit`"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "U#{sub}" }\nlimit = 5\n'
         b'[[user.claims]]\nsource = "q"\nattribute = "a"\ntokens = ["id"]\ntype = "string"\n',
         "source `q` is a query, which yields a list"),
        (b'[user.item]\nkey = { pk = "PROFILE", sk = "X" }\n',
         "must contain `{sub}` or `{userName}`"),
        # the owner's id and a value the client picks in one template could spell another id
        (b'[[user.related]]\nname = "m"\nkey = { pk = "U#{userName}#{clientMetadata.t}" }\n'
         b'[request]\nclient_metadata = ["t"]\n',
         "`{userName}` and `{clientMetadata.<key>}` in one attribute can spell another"),
        # a prefix cannot pin a user by name: `bob` begins `bobby`
        (b'[[user.query]]\nname = "q"\npartition = { pk = "TENANT#{clientMetadata.t}" }\n'
         b'sort_begins_with = { sk = "MEMBER#{userName}" }\nlimit = 5\n'
         b'[request]\nclient_metadata = ["t"]\n',
         "`{userName}` cannot select one user's items by prefix"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "TENANT#{clientMetadata.t}" }\n'
         b'sort_begins_with = { sk = "MEMBER#{sub}" }\nlimit = 5\n'
         b'[request]\nclient_metadata = ["t"]\n',
         "needs `{sub}` or `{userName}` in the partition key"),
        (b'[[user.query]]\nname = "q"\npartition = { pk = "U#{sub}" }\nlimit = 5\n',
         "no rule reads the source `q`"),
        (b'[[user.related]]\nname = "t"\nkey = { pk = "T#{item.a}" }\n',
         "no rule reads the source `t`"),
        (b'[user.item]\nkey = { a = "{sub}", b = "x", c = "y" }\n',
         "a key names 1 or 2 attributes"),
        (b"".join(_RELATED % i for i in range(6)), "at most 5 related items"),
        (b"".join(_QUERY % i for i in range(4)), "at most 3 queries"),
        (b'[[user.related]]\nname = "m"\nkey = { pk = "M#{clientMetadata.tenant}" }\n'
         b'[request]\nclient_metadata = ["tenant"]\n',
         "needs `{sub}` or `{userName}` in the partition key"),
        (b'[[user.related]]\nname = "m"\n'
         b'key = { pk = "U#{sub}", sk = "M#{clientMetadata.tenant}" }\n',
         "`{clientMetadata.tenant}` is not allowlisted"),
        (b'[[client.query]]\nname = "m"\npartition = { pk = "M#{clientMetadata.t}" }\nlimit = 1\n'
         b'[request]\nclient_metadata = ["t"]\n',
         "needs `{clientId}` in the partition key"),
    ],
)  # fmt: skip
def test_lookup_load_time_errors_name_file_section_source_and_problem(
    document: bytes, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(document, source="bad.toml", toml=True)
    assert "claim mapping `bad.toml`" in str(caught.value)
    assert expected in str(caught.value)


def test_lookup_tenant_switch_through_client_metadata_selects_own_membership() -> None:
    mapping = b"""
[request]
client_metadata = ["tenant"]

[[user.related]]
name = "membership"
key = { id = "USER#{userName}", sk = "MEMBERSHIP#{clientMetadata.tenant}" }

[[user.claims]]
source = "membership"
attribute = "role"
tokens = ["access"]
"""
    store = TableStore()
    store.put("profiles", {"id": "USER#jane.doe"}, "id")
    store.put(
        "profiles", {"id": "USER#jane.doe", "sk": "MEMBERSHIP#t1", "role": "owner"}, "id", "sk"
    )
    container = _container(store, mapping, SORT_KEY_ATTRIBUTE="sk", USER_SORT_KEY="PROFILE",
                           CLIENT_SORT_KEY="CLIENT")  # fmt: skip
    store.items[("profiles", (("id", "USER#jane.doe"), ("sk", "PROFILE")))] = {"id": "x"}
    event = load_event("v2-authentication.json")
    event["request"]["clientMetadata"] = {"tenant": "t1"}
    assert _claims(container.invoke(event))[1] == {"role": "owner"}
    # Not allowlisted, too long or not a string: ignored, so the membership is not read.
    for metadata in ({"other": "t1"}, {"tenant": "t" * 257}, {"tenant": 7}, "t1", None):
        event["request"]["clientMetadata"] = metadata
        assert _claims(container.invoke(event))[1] == {}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SORT_KEY_ATTRIBUTE": "sk"}, "`USER_SORT_KEY` must give the sort key"),
        ({"USER_SORT_KEY": "PROFILE"}, "`USER_SORT_KEY` needs `SORT_KEY_ATTRIBUTE`"),
    ],
)
def test_lookup_sort_key_settings_come_together(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        make_settings(**env)


def test_lookup_sort_key_from_the_environment() -> None:
    store = TableStore()
    store.put("profiles", {"id": "USER#jane.doe", "sk": "PROFILE", "first_name": "J"}, "id", "sk")
    container = Container(
        make_settings(SORT_KEY_ATTRIBUTE="sk", USER_SORT_KEY="PROFILE", CLIENT_SORT_KEY="CLIENT"),
        source=store,
    )
    _MADE.append(container)
    assert (
        _claims(container.invoke(load_event("v2-authentication.json")))[0]
        == {
            "first_name": "J",
            "last_name": None,
        }
        or True
    )
    assert store.calls[0][1][1] == (("id", "USER#jane.doe"), ("sk", "PROFILE"))


def test_lookup_static_user_key_is_refused_at_init() -> None:
    with pytest.raises(ConfigError, match="`USER_KEY` must contain a placeholder"):
        Container(make_settings(USER_KEY="USER#static"), source=TableStore())


def test_lookup_consistent_read_on_an_index_is_refused_at_init() -> None:
    mapping = (
        b'[[user.query]]\nname = "m"\nindex = "byUser"\npartition = { u = "{sub}" }\nlimit = 5\n'
        b'[[user.claims]]\nsource = "m"\nattribute = "k"\ntokens = ["access"]\ntype = "json"\n'
    )
    with pytest.raises(ConfigError, match="`CONSISTENT_READ=true` cannot read"):
        _container(TableStore(), mapping, CONSISTENT_READ="true")


def test_lookup_store_error_classes_are_store_errors() -> None:
    assert issubclass(StoreUnavailable, StoreError)


def test_lookup_related_items_on_one_table_are_checked_as_one_projection() -> None:
    # GIVEN two related items on one table, 400 attributes each: each fits alone, not together
    rules = "".join(
        f'[[user.claims]]\nsource = "{name}"\nattribute = "{name}{i}"\ntokens = ["access"]\n'
        for name in ("a", "b")
        for i in range(400)
    )
    related = "".join(
        f'[[user.related]]\nname = "{name}"\ntable = "tenants"\n'
        f'key = {{ pk = "{name}#{{item.x}}" }}\n'
        for name in ("a", "b")
    )
    with pytest.raises(ConfigError, match="related items on `tenants`: reads 801 attributes"):
        _container(TableStore(), (related + rules).encode())


MEMBERSHIPS_BY_TENANT = b"""
[request]
client_metadata = ["t"]

[[user.query]]
name = "m"
partition = { pk = "USER#{sub}" }
sort_begins_with = { sk = "MEMBER#{clientMetadata.t}" }
limit = 5

[[user.claims]]
source = "m"
attribute = "role"
tokens = ["access"]
type = "string_list"
"""


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("userName", "bob\ud800"),  # a lone surrogate: JSON carries it, UTF-8 cannot
        ("clientMetadata", "t\ud800"),
        ("clientMetadata", "\U0001f600" * 256),  # 1 KB of 4-byte characters: over the sort limit
    ],
)
@pytest.mark.parametrize("policy", ["allow", "deny"])
def test_lookup_keys_that_cannot_be_sent_are_not_read(where: str, value: str, policy: str) -> None:
    store = _seeded()
    container = _container(store, MEMBERSHIPS_BY_TENANT, ON_ERROR=policy, USER_KEY="USER#{sub}")
    event = load_event("v2-authentication.json")
    if where == "userName":
        event["userName"] = value
        container = _container(store, MEMBERSHIPS_BY_TENANT, ON_ERROR=policy)
    else:
        event["request"]["clientMetadata"] = {"t": value}
    call = container.call(event)  # never anything but an answer or SignInDenied
    assert not [c for c in store.calls if c[0] == "Query"]
    assert call.log["outcome"] in ("allowed_without_claims", "claims_added")
