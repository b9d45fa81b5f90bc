"""Issue 17's classes of defect, each held by a table: grants, clientMetadata, keys, numbers.

Every test goes through the container (`tools.container.Container`, as the handler runs) with the
mapping given as a `CLAIMS_CONFIG` file, so it reads exactly what an operator writes.
"""

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.errors import ConfigError, StoreUnavailable
from tests.conftest import load_event, make_settings
from tests.unit.test_lookup import TableStore
from tools.container import Container

SUB = "a1b2c3d4-0000-4000-8000-00000000cafe"
BIG = 240_000


@pytest.fixture
def made() -> Iterator[list[Container]]:
    containers: list[Container] = []
    yield containers
    for container in containers:
        container.close()


def _write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _container(
    made: list[Container], tmp_path: Path, document: dict[str, Any], store: Any, **env: str
) -> Container:
    env.setdefault("METRICS", "false")
    container = Container(
        make_settings(CLAIMS_CONFIG=_write(tmp_path, document), **env), source=store
    )
    made.append(container)
    return container


def _refusal(tmp_path: Path, document: dict[str, Any], **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        Container(
            make_settings(CLAIMS_CONFIG=_write(tmp_path, document), **env), source=TableStore()
        )
    return str(caught.value)


def _loads(made: list[Container], tmp_path: Path, document: dict[str, Any], **env: str) -> None:
    _container(made, tmp_path, document, TableStore(), **env)


def _event(**request: Any) -> dict[str, Any]:
    event = load_event("v2-authentication.json")
    event["request"]["userAttributes"]["sub"] = SUB
    event["request"].update(request)
    return event


# ---- 1.1: grant claims are bounded with the static claims, per token ---------------------------


def _grant(claims: dict[str, Any], client: str = "app") -> dict[str, Any]:
    return {"when": {"clients": [client]}, "claims": claims}


@pytest.mark.parametrize(
    ("section", "refused"),
    [
        ({"grants": [_grant({"access": {"big": "x" * 300_000}})]}, True),
        ({"grants": [_grant({"id": {f"c{i}": "x" * BIG}}, f"a{i}") for i in range(17)]}, True),
        (
            {
                "static": {"access": {"s": "x" * 200_000}},
                "grants": [_grant({"access": {"g": "x" * 100_000}})],
            },
            True,
        ),
        # one claim set by two grants is at most its larger value
        ({"grants": [_grant({"id": {"c": "x" * BIG}}, c) for c in ("a", "b")]}, False),
        ({"grants": [_grant({"id": {"c": "x" * 1000}}, f"a{i}") for i in range(17)]}, False),
    ],
)
def test_grant_claims_count_against_the_per_token_bound(
    made: list[Container], tmp_path: Path, section: dict[str, Any], refused: bool
) -> None:
    document = {"user": section}
    if refused:
        assert "static and grant claims of the" in _refusal(tmp_path, document)
    else:
        _loads(made, tmp_path, document)


# ---- 1.2: a condition on clientMetadata alone never grants -------------------------------------

_META = {"metadata_equals": {"tenant": "x"}}
_FACT = {"attribute_equals": {"tenants.x": "member"}}


@pytest.mark.parametrize(
    ("section", "action", "when", "refused"),
    [
        ("user", {"scopes_add": ["admin/all"]}, _META, True),
        ("user", {"groups_add": ["admins"]}, _META, True),
        ("user", {"claims": {"access": {"role": "admin"}}}, _META, True),
        ("client", {"scopes_add": ["admin/all"]}, _META, True),
        ("client", {"claims": {"access": {"role": "admin"}}}, _META, True),
        ("user", {"scopes_add": ["admin/all"]}, {**_META, **_FACT}, False),
        ("user", {"deny": True}, _META, False),
        ("user", {"scopes_suppress": ["orders/write"]}, _META, False),
        ("user", {"groups_remove": ["admins"]}, _META, False),
        ("client", {"scopes_suppress": ["orders/write"]}, _META, False),
    ],
)
def test_grants_on_client_metadata_alone_add_nothing(
    made: list[Container],
    tmp_path: Path,
    section: str,
    action: dict[str, Any],
    when: dict[str, Any],
    refused: bool,
) -> None:
    document = {
        "request": {"client_metadata": ["tenant"]},
        section: {"grants": [{"when": when, **action}]},
    }
    if refused:
        assert "`clientMetadata` alone may not grant" in _refusal(tmp_path, document)
    else:
        _loads(made, tmp_path, document)


_TENANT_ITEM = {"name": "t", "key": {"id": "MEMBER#{sub}#{clientMetadata.tenant}"}}


@pytest.mark.parametrize(
    ("rule", "related", "refused"),
    [
        ({"attribute": "pin", "tokens": ["id"], "when": _META}, [], True),
        ({"attribute": "pin", "tokens": ["id"], "when": {**_META, **_FACT}}, [], False),
        (
            {"source": "t", "attribute": "role", "tokens": ["id"], "when": _META},
            [_TENANT_ITEM],
            False,
        ),
    ],
)
def test_rules_on_client_metadata_alone_need_an_item_fact(
    made: list[Container],
    tmp_path: Path,
    rule: dict[str, Any],
    related: list[dict[str, Any]],
    refused: bool,
) -> None:
    document = {
        "request": {"client_metadata": ["tenant"]},
        "user": {"claims": [rule], "related": related},
    }
    if refused:
        assert "`clientMetadata` alone may not decide" in _refusal(tmp_path, document)
    else:
        _loads(made, tmp_path, document)


# ---- 1.3: a deny rule reads the primary item even when another read failed ----------------------


class _FailingTable(TableStore):
    """Fails every read of one table (GetItem, BatchGetItem, Query)."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    def _check(self, tables: Sequence[str]) -> None:
        if self.failing in tables:
            raise StoreUnavailable(f"{self.failing} is down")

    async def get_item(self, read: Any, *, consistent: bool, timeout: float) -> Any:
        self._check([read.source.table])
        return await super().get_item(read, consistent=consistent, timeout=timeout)

    async def batch_get(self, reads: Any, *, consistent: bool, timeout: float) -> Any:
        self._check([read.source.table for read in reads])
        return await super().batch_get(reads, consistent=consistent, timeout=timeout)

    async def query(self, read: Any, *, consistent: bool, timeout: float) -> Any:
        self._check([read.source.table])
        return await super().query(read, consistent=consistent, timeout=timeout)


_SUSPENSION = {
    "claims": [
        {"source": "tenant", "attribute": "plan", "tokens": ["id"]},
        {"source": "members", "attribute": "m", "tokens": ["id"], "type": "json"},
    ],
    "related": [{"name": "tenant", "table": "tenants", "key": {"id": "T#{item.tenant_id}"}}],
    "query": [
        {"name": "members", "table": "members", "partition": {"id": "M#{sub}"}, "limit": 5},
    ],
    "grants": [{"when": {"attribute_equals": {"status": "suspended"}}, "deny": True}],
}


@pytest.mark.parametrize("failing", ["tenants", "members"])
@pytest.mark.parametrize(("status", "outcome"), [("suspended", "denied"), ("active", "allowed")])
def test_a_deny_rule_holds_on_the_primary_item_when_another_read_fails(
    made: list[Container], tmp_path: Path, failing: str, status: str, outcome: str
) -> None:
    store = _FailingTable(failing)
    store.put("profiles", {"id": "USER#jane.doe", "status": status, "tenant_id": "t1"}, "id")
    container = _container(made, tmp_path, {"user": _SUSPENSION}, store, ON_ERROR="allow")
    call = container.call(load_event("v2-authentication.json"))
    if outcome == "denied":
        assert call.denied is not None
        assert (call.log["outcome"], call.log["reason"]) == ("denied", "grant_denied")
        assert call.log["denied_by"] == "user.grants[0]"
    else:
        assert call.denied is None
        assert (call.log["outcome"], call.log["reason"]) == (
            "allowed_without_claims",
            "store_error",
        )


# ---- 1.4: numbers keep DynamoDB's decimal text in keys and V1 strings -------------------------

NUMBERS = [
    Decimal("0.0000001"),
    Decimal("-0.00000123"),
    Decimal("1E-10"),
    Decimal("123.45"),
    Decimal("0.5"),
    42,
    2**70,
]


@pytest.mark.parametrize("number", NUMBERS, ids=str)
def test_a_related_key_from_a_number_is_its_decimal_text(
    made: list[Container], tmp_path: Path, number: int | Decimal
) -> None:
    text = format(number, "f") if isinstance(number, Decimal) else str(number)
    assert "E" not in text
    store = TableStore()
    store.put("profiles", {"id": "USER#jane.doe", "tenant": number}, "id")
    store.put("profiles", {"id": f"TENANT#{text}", "plan": "gold"}, "id")
    document = {
        "user": {
            "related": [{"name": "t", "key": {"id": "TENANT#{item.tenant}"}}],
            "claims": [{"source": "t", "attribute": "plan", "tokens": ["access"]}],
        }
    }
    answer = _container(made, tmp_path, document, store).invoke(_event())
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["accessTokenGeneration"]["claimsToAddOrOverride"] == {"plan": "gold"}


@pytest.mark.parametrize("number", NUMBERS, ids=str)
def test_a_v1_number_claim_is_its_decimal_text(
    made: list[Container], tmp_path: Path, number: int | Decimal
) -> None:
    store = TableStore()
    store.put("profiles", {"id": "USER#jane.doe", "n": number, "l": [number]}, "id")
    document = {
        "user": {
            "claims": [{"attribute": "n", "tokens": ["id"]}, {"attribute": "l", "tokens": ["id"]}]
        }
    }
    answer = _container(made, tmp_path, document, store).invoke(
        load_event("v1-authentication.json")
    )
    claims = answer["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]
    text = format(number, "f") if isinstance(number, Decimal) else str(number)
    assert claims == {"n": text, "l": f"[{text}]"}


# ---- 1.5: ignored clientMetadata is counted on every path ---------------------------------------


@pytest.mark.parametrize(
    ("metadata", "ignored"),
    [({"tenant": "t" * 257}, 1), ({"tenant": 7}, 1), ("t1", 1), ({"tenant": "t1"}, 0)],
)
@pytest.mark.parametrize("profile", [True, False])
def test_ignored_client_metadata_reaches_the_log_line_without_any_condition(
    made: list[Container],
    tmp_path: Path,
    metadata: Any,
    ignored: int,
    profile: bool,
) -> None:
    store = TableStore()
    if profile:
        store.put("profiles", {"id": "USER#jane.doe", "first_name": "J"}, "id")
    document = {
        "request": {"client_metadata": ["tenant"]},
        "user": {
            "claims": [
                {"attribute": "first_name", "tokens": ["id"]},
                {"source": "m", "attribute": "role", "tokens": ["id"]},
            ],
            "related": [{"name": "m", "key": {"id": "MEMBER#{sub}#{clientMetadata.tenant}"}}],
        },
    }
    container = _container(made, tmp_path, document, store, METRICS="true")
    call = container.call(_event(clientMetadata=metadata))
    assert call.log.get("metadata_ignored", 0) == ignored
    assert call.log.get("MetadataIgnored", 0) == ignored


# ---- 2: key templates name the principal's own partition, decided soundly ----------------------


def _keyed(key: dict[str, str], **extra: Any) -> dict[str, Any]:
    related = {"name": "m", "key": key, **extra}
    return {
        "request": {"client_metadata": ["tenant", "t"]},
        "user": {
            "related": [related],
            "claims": [{"source": "m", "attribute": "role", "tokens": ["id"]}],
        },
    }


_PK_SK = {"KEY_ATTRIBUTE": "pk", "SORT_KEY_ATTRIBUTE": "sk", "USER_SORT_KEY": "PROFILE"}


@pytest.mark.parametrize(
    ("document", "env", "expected"),
    [
        # {sub} is a fixed-format id: a client-chosen value after it reaches no other user
        (_keyed({"id": "MEMBER#{sub}#{clientMetadata.tenant}"}), {}, None),
        (_keyed({"id": "{sub}{clientMetadata.tenant}"}), {}, None),
        (_keyed({"id": "M#{clientMetadata.tenant}#{sub}"}), {}, "may follow `{sub}`"),
        # user names may hold `#`: `bob` + `x#y` and `bob#x` + `y` are one key
        (_keyed({"id": "MEMBER#{userName}#{clientMetadata.tenant}"}), {}, "use `{sub}`"),
        # a bare {userName} partition: a user signing up as `TENANT#x` reads that item
        (_keyed({"pk": "{userName}", "sk": "{clientMetadata.t}"}), _PK_SK, "bare `{userName}`"),
        (_keyed({"pk": "USER#{userName}", "sk": "{clientMetadata.t}"}), _PK_SK, None),
        (_keyed({"pk": "{sub}", "sk": "{clientMetadata.t}"}), _PK_SK, None),
        # the partition is the table's partition key, whatever order the file writes
        (
            _keyed({"sk": "MEMBER#{sub}", "pk": "TENANT#{clientMetadata.tenant}"}),
            _PK_SK,
            "needs `{sub}` or `{userName}` in the partition key",
        ),
        (
            {
                **_keyed(
                    {"sk": "MEMBER#{sub}", "pk": "TENANT#{clientMetadata.tenant}"},
                    table="members",
                ),
                "tables": {"members": {"key_attributes": ["pk", "sk"]}},
            },
            {},
            "needs `{sub}` or `{userName}` in the partition key",
        ),
        (
            _keyed({"sk": "TENANT#{clientMetadata.tenant}", "pk": "MEMBER#{sub}"}),
            _PK_SK,
            None,
        ),
        # an unknown table: which attribute is the partition cannot be told
        (
            _keyed({"a": "MEMBER#{sub}", "b": "T#{clientMetadata.tenant}"}, table="members"),
            {},
            "must say which attribute is the partition key",
        ),
    ],
)
def test_client_metadata_only_within_the_principal_s_own_partition(
    made: list[Container],
    tmp_path: Path,
    document: dict[str, Any],
    env: dict[str, str],
    expected: str | None,
) -> None:
    if expected is None:
        _loads(made, tmp_path, document, **env)
    else:
        assert expected in _refusal(tmp_path, document, **env)


def test_the_tenant_switch_reads_the_member_item_of_the_caller_s_own_sub(
    made: list[Container], tmp_path: Path
) -> None:
    store = TableStore()
    store.put("profiles", {"id": "USER#jane.doe"}, "id")
    store.put("profiles", {"id": f"MEMBER#{SUB}#acme", "role": "owner"}, "id")
    document = _keyed({"id": "MEMBER#{sub}#{clientMetadata.tenant}"})
    answer = _container(made, tmp_path, document, store).invoke(
        _event(clientMetadata={"tenant": "acme"})
    )
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    assert details["idTokenGeneration"]["claimsToAddOrOverride"] == {"role": "owner"}


@pytest.mark.parametrize(
    ("document", "env", "expected"),
    [
        ({"user": {"item": {"key": {"id": "POOL#{userPoolId}"}}}}, {}, "must contain `{sub}`"),
        ({"client": {"item": {"key": {"id": "POOL#{userPoolId}"}}}}, {}, "`{clientId}`"),
        ({}, {"USER_KEY": "POOL#{userPoolId}"}, "`USER_KEY` must contain a placeholder naming"),
        ({}, {"CLIENT_KEY": "POOL#{userPoolId}"}, "`CLIENT_KEY` must contain a placeholder"),
    ],
)
def test_the_pool_id_names_no_principal(
    tmp_path: Path, document: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    assert expected in _refusal(tmp_path, document, **env)


_TENANT_RULE = {"source": "t", "attribute": "plan", "tokens": ["id"]}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"item": {"table": "tenants table!", "key": {"id": "U#{sub}"}}}, "`tenants table!`"),
        (
            {
                "related": [{"name": "t", "table": "", "key": {"id": "T#{item.x}"}}],
                "claims": [_TENANT_RULE],
            },
            "`table` `` is not a name",
        ),
        (
            {
                "query": [
                    {"name": "t", "index": "byOwner-{sub}", "partition": {"o": "{sub}"}, "limit": 1}
                ],
                "claims": [{**_TENANT_RULE, "type": "json"}],
            },
            "`index` `byOwner-{sub}`",
        ),
        (
            {
                "related": [{"name": "", "key": {"id": "T#{item.x}"}}],
                "claims": [{**_TENANT_RULE, "source": ""}],
            },
            "must be an identifier",
        ),
        (
            {
                "related": [{"name": " tenant ", "key": {"id": "T#{item.x}"}}],
                "claims": [{**_TENANT_RULE, "source": " tenant "}],
            },
            "must be an identifier",
        ),
    ],
)
def test_names_dynamodb_would_refuse_are_refused_at_load(
    tmp_path: Path, section: dict[str, Any], expected: str
) -> None:
    assert expected in _refusal(tmp_path, {"user": section})


@pytest.mark.parametrize("on_missing", ["allow", "deny"])
def test_a_sort_key_without_client_sort_key_leaves_machine_clients_without_a_key(
    made: list[Container], on_missing: str
) -> None:
    env = {
        "SORT_KEY_ATTRIBUTE": "sk",
        "USER_KEY": "USER#{sub}",
        "USER_SORT_KEY": "PROFILE",
        "ON_MISSING": on_missing,
        "METRICS": "false",
    }
    store = TableStore()
    container = Container(make_settings(**env), source=store)
    made.append(container)
    call = container.call(load_event("v3-client-credentials.json"))
    assert call.log["reason"] == "no_key"
    assert (call.denied is None) == (on_missing == "allow")
    assert store.calls == []


@pytest.mark.parametrize(("trusted", "refused"), [(True, False), (False, True)])
def test_a_trusted_user_attribute_is_a_fact_beside_client_metadata(
    made: list[Container], tmp_path: Path, trusted: bool, refused: bool
) -> None:
    when: dict[str, Any] = {**_META}
    if trusted:
        when["user_attribute_equals"] = {"custom:tenant": "x"}
    document = {
        "request": {"client_metadata": ["tenant"], "user_attributes": ["custom:tenant"]},
        "user": {"grants": [{"when": when, "scopes_add": ["admin/all"]}]},
    }
    if refused:
        assert "`clientMetadata` alone may not grant" in _refusal(tmp_path, document)
    else:
        _loads(made, tmp_path, document)
