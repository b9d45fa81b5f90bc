"""`make audit-pool` and the audit in `make attach`, against moto's Cognito server over HTTP.

Each test makes its own pool and app clients on the session's moto server and runs the exact
`make` interface in a subprocess (`tests.support.make`). make exits 2 whenever a recipe fails
and reports the recipe's own status as `Error N`: that is the tool's status the tests read
(`_status`); `main`'s return value is checked directly too.

What moto does with `WriteAttributes`, checked below so the tests cannot go stale: a client
created without the field is described without it (neither an empty list nor every
attribute), one created with `[]` is described with `[]`, and a list is kept as sent, names
unchecked (it takes `identities` and undeclared custom attributes alike). Cognito reports the
list only when one was set, which is the case both the absent and the empty answer are read
as. And moto's `UpdateUserPoolClient` merges into the stored client, where Cognito resets
every setting the call leaves out; the tests send the new write list, which either resets.
"""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import EVENTS
from tests.support.make import run_make
from tools.audit_pool import (
    PAGE_SIZE,
    Audit,
    Finding,
    audit_pool,
    check_client,
    main,
    report_lines,
    trusted_attributes,
)
from tools.cognito_idp import PoolToolError
from tools.local_dynamodb import FAKE_CREDENTIALS

pytestmark = pytest.mark.integration

REGION = "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:123456789012:function:adopt-pretoken:live"
CUSTOM = ("tier", "department", "idp_groups")
TRUSTED = ("custom:tier", "custom:department", "identities")
SAFE_WRITES = ["email", "given_name", "family_name", "custom:department_note"]


@pytest.fixture
def cognito(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name=REGION, **FAKE_CREDENTIALS
    )


@pytest.fixture
def pool_id(cognito: Any) -> str:
    schema = [{"Name": name, "AttributeDataType": "String", "Mutable": True} for name in CUSTOM]
    pool: str = cognito.create_user_pool(PoolName="audited", Schema=schema)["UserPool"]["Id"]
    return pool


@pytest.fixture
def mapping(tmp_path: Path) -> str:
    """A mapping file trusting `TRUSTED` (only the key the audit reads)."""
    path = tmp_path / "trusting.toml"
    path.write_text(f"[request]\nuser_attributes = {json.dumps(list(TRUSTED))}\n")
    return str(path)


def _client(cognito: Any, pool_id: str, name: str, write: list[str] | None) -> str:
    extra = {} if write is None else {"WriteAttributes": write}
    answer = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName=name, **extra)
    client_id: str = answer["UserPoolClient"]["ClientId"]
    return client_id


def _audit(endpoint: str, pool_id: str, mapping: str | None) -> subprocess.CompletedProcess[str]:
    extra = {"CLAIMS_CONFIG": mapping} if mapping is not None else {}
    return run_make(endpoint, "audit-pool", POOL_ID=pool_id, **extra)


def _status(result: subprocess.CompletedProcess[str]) -> int:
    """The recipe's exit status, as make reports it (`make: *** [...] Error N`)."""
    if result.returncode == 0:
        return 0
    assert result.returncode == 2, result.stderr  # make's own status for a failed recipe
    reported = re.findall(r"^make: \*\*\* \[.*\] Error (\d+)$", result.stderr, re.MULTILINE)
    assert len(reported) == 1, result.stderr
    return int(reported[0])


# --- what moto says, which the audit must read right ------------------------------------------


def test_moto_reports_write_attributes_as_set(cognito: Any, pool_id: str) -> None:
    unset = _client(cognito, pool_id, "unset", None)
    empty = _client(cognito, pool_id, "empty", [])
    listed = _client(cognito, pool_id, "listed", ["email", "identities", "custom:undeclared"])

    def described(client_id: str) -> dict[str, Any]:
        answer = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
        client: dict[str, Any] = answer["UserPoolClient"]
        return client

    assert "WriteAttributes" not in described(unset)
    assert described(empty)["WriteAttributes"] == []
    assert described(listed)["WriteAttributes"] == ["email", "identities", "custom:undeclared"]


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (None, ("custom:tier", "custom:department", "identities")),  # absent: Cognito's default
        ([], ("custom:tier", "custom:department", "identities")),  # empty: the same
        (["email", "custom:tier"], ("custom:tier",)),
        (["identities"], ("identities",)),  # not writable in Cognito; reported all the same
        (["custom:Tier", "custom:tier_note", "tier"], None),  # names match exactly
        (SAFE_WRITES, None),
    ],
)
def test_check_client_reads_the_write_list(
    write: list[str] | None, expected: tuple[str, ...] | None
) -> None:
    client: dict[str, Any] = {"ClientId": "c1", "ClientName": "web"}
    if write is not None:
        client["WriteAttributes"] = write

    finding = check_client(client, TRUSTED)

    if expected is None:
        assert finding is None
    else:
        assert finding == Finding("c1", "web", expected, listed=bool(write))


def test_check_client_with_nothing_trusted_finds_nothing() -> None:
    assert check_client({"ClientId": "c1"}, ()) is None


# --- make audit-pool --------------------------------------------------------------------------


def test_a_writable_trusted_attribute_fails_until_the_write_list_excludes_it(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    web = _client(cognito, pool_id, "web", ["email", "custom:tier"])
    _client(cognito, pool_id, "admin-console", SAFE_WRITES)

    found = _audit(endpoint, pool_id, mapping)

    assert _status(found) == 1, found.stderr + found.stdout
    lines = found.stdout.splitlines()
    assert lines[0] == (
        f"audit of pool {pool_id}: the mapping `{mapping}` trusts the user attributes"
        " custom:tier, custom:department, identities"
    )
    assert lines[1] == f"  app client {web} (web) can write custom:tier"
    assert "1 of 2 app clients let a signed-in user change a trusted attribute" in lines[2]
    assert "admin-console" not in found.stdout

    cognito.update_user_pool_client(UserPoolId=pool_id, ClientId=web, WriteAttributes=["email"])
    passed = _audit(endpoint, pool_id, mapping)

    assert _status(passed) == 0, passed.stderr + passed.stdout
    assert passed.stdout.splitlines()[1:] == [
        "  none of its 2 app clients can write a trusted attribute"
    ]
    assert passed.stderr == ""


def test_a_client_without_a_write_list_is_flagged_for_every_trusted_attribute(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    legacy = _client(cognito, pool_id, "legacy", None)
    empty = _client(cognito, pool_id, "empty-list", [])
    _client(cognito, pool_id, "web", SAFE_WRITES)

    found = _audit(endpoint, pool_id, mapping)

    assert _status(found) == 1, found.stderr + found.stdout
    for client_id, name in ((legacy, "legacy"), (empty, "empty-list")):
        assert (
            f"  app client {client_id} ({name}) has no WriteAttributes list: Cognito then lets"
            " it write every standard attribute, and has been seen to allow all, so it counts"
            " as writing every trusted attribute"
        ) in found.stdout.splitlines()
    assert "2 of 3 app clients" in found.stdout


def test_identities_in_a_write_list_is_flagged(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    client = _client(cognito, pool_id, "odd", ["email", "identities"])

    found = _audit(endpoint, pool_id, mapping)

    assert _status(found) == 1
    assert f"  app client {client} (odd) can write identities" in found.stdout


def test_every_page_of_clients_is_read(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    # One more client than ListUserPoolClients' largest page: the last is on the second page.
    first = _client(cognito, pool_id, "first", ["custom:department"])
    for number in range(PAGE_SIZE - 1):
        _client(cognito, pool_id, f"safe-{number}", SAFE_WRITES)
    last = _client(cognito, pool_id, "last", ["custom:tier", "identities"])

    found = _audit(endpoint, pool_id, mapping)

    assert _status(found) == 1, found.stderr + found.stdout
    assert f"  app client {first} (first) can write custom:department" in found.stdout
    assert f"  app client {last} (last) can write custom:tier, identities" in found.stdout
    assert f"2 of {PAGE_SIZE + 1} app clients" in found.stdout


def test_small_pages_read_every_client_once(cognito: Any, pool_id: str) -> None:
    made = [_client(cognito, pool_id, f"c{number}", None) for number in range(7)]

    audit = audit_pool(cognito, pool_id, TRUSTED, page_size=2)

    assert audit.clients == 7
    assert [finding.client_id for finding in audit.findings] == made


def test_the_example_mapping_trusts_what_it_reads(
    endpoint: str, cognito: Any, pool_id: str
) -> None:
    example = str(EVENTS / "federated.toml")
    web = _client(cognito, pool_id, "web", ["email", "custom:idp_groups", "custom:tier"])

    found = _audit(endpoint, pool_id, example)

    assert _status(found) == 1, found.stderr + found.stdout
    assert f"  app client {web} (web) can write email, custom:idp_groups, custom:tier" in (
        found.stdout
    )


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_mapping_trusting_nothing_reads_no_client(
    endpoint: str, cognito: Any, pool_id: str, tmp_path: Path, suffix: str
) -> None:
    _client(cognito, pool_id, "legacy", None)
    path = tmp_path / f"items-only{suffix}"
    items_only = '[[user.claims]]\nattribute = "plan"\ntokens = ["id"]\n'
    path.write_text(items_only if suffix == ".toml" else "{}")

    for mapping in (None, str(path)):
        result = _audit(endpoint, pool_id, mapping)

        assert _status(result) == 0, result.stderr + result.stdout
        assert "trusts no user attribute" in result.stdout
        assert "no app client was read" in result.stdout


def test_a_json_mapping_is_read_like_toml(
    endpoint: str, cognito: Any, pool_id: str, tmp_path: Path
) -> None:
    client = _client(cognito, pool_id, "web", ["custom:tier"])
    path = tmp_path / "mapping.json"
    # A byte-order mark is ignored, as the loader ignores it.
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"request": {"user_attributes": TRUSTED}}).encode()
    )

    found = _audit(endpoint, pool_id, str(path))

    assert _status(found) == 1
    assert f"  app client {client} (web) can write custom:tier" in found.stdout


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
        "AWS_ENDPOINT_URL_COGNITO_IDP",
    ],
)
def test_audit_honours_each_endpoint_variable(
    endpoint: str, cognito: Any, pool_id: str, mapping: str, variable: str
) -> None:
    _client(cognito, pool_id, "legacy", None)

    found = run_make(
        endpoint, "audit-pool", variable=variable, POOL_ID=pool_id, CLAIMS_CONFIG=mapping
    )

    assert _status(found) == 1, found.stderr + found.stdout


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("pool", "config", "message"),
    [
        ("", None, "`POOL_ID` must be a user pool id"),
        ("us-east-1_missing", "trusting", "ListUserPoolClients on `us-east-1_missing` failed"),
        (None, "missing.toml", "cannot read"),
        (None, "mapping.yaml", "must name a .toml or .json file"),
        # The loader's own messages: the audit reads the mapping as the function does.
        (None, "bad.toml", "Expected ']' at the end of a table declaration"),
        (None, "bad.json", "Input data was truncated"),
        (None, "list.json", "Expected `object`, got `array`"),
        (None, "request.toml", "Expected `object`, got `str` - at `$.request`"),
        (None, "names.toml", "Expected `str`, got `int` - at `$.request.user_attributes[0]`"),
        (None, "blank.toml", "request.user_attributes: attribute names must be non-empty"),
        (None, "untrusted.toml", "reads `custom:tier`, which is not listed"),
    ],
)
def test_an_audit_that_cannot_be_made_exits_2_with_a_message(
    endpoint: str,
    pool_id: str,
    mapping: str,
    tmp_path: Path,
    pool: str | None,
    config: str | None,
    message: str,
) -> None:
    files = {
        "trusting": mapping,
        "missing.toml": str(tmp_path / "missing.toml"),
        "mapping.yaml": _write(tmp_path, "mapping.yaml", "request: {}\n"),
        "bad.toml": _write(tmp_path, "bad.toml", "[request\n"),
        "bad.json": _write(tmp_path, "bad.json", "{"),
        "list.json": _write(tmp_path, "list.json", "[]"),
        "request.toml": _write(tmp_path, "request.toml", 'request = "x"\n'),
        "names.toml": _write(tmp_path, "names.toml", "[request]\nuser_attributes = [1]\n"),
        "blank.toml": _write(tmp_path, "blank.toml", '[request]\nuser_attributes = [" a"]\n'),
        "untrusted.toml": _write(
            tmp_path,
            "untrusted.toml",
            '[[user.claims]]\nsource = "event"\nattribute = "custom:tier"\ntokens = ["id"]\n',
        ),
    }

    result = _audit(endpoint, pool_id if pool is None else pool, files.get(config or ""))

    assert _status(result) == 2, result.stderr + result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_trusted_attributes_keep_the_files_order_once() -> None:
    assert trusted_attributes(None) == ()
    assert trusted_attributes("") == ()
    assert trusted_attributes(str(EVENTS / "federated.toml"))[-1] == "identities"


def test_trusted_attributes_refuse_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "mapping.toml"
    folder.mkdir()

    with pytest.raises(PoolToolError, match="cannot read"):
        trusted_attributes(str(folder))


def test_report_names_a_client_without_a_name() -> None:
    finding = Finding("c1", "", ("custom:tier",), listed=True)

    lines = report_lines(Audit("us-east-1_x", None, ("custom:tier",), 1, (finding,)))

    assert lines[0].startswith("audit of pool us-east-1_x: the built-in mapping trusts")
    assert lines[1] == "  app client c1 (no name) can write custom:tier"


def test_main_returns_the_status(
    endpoint: str,
    cognito: Any,
    pool_id: str,
    mapping: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDP", endpoint)
    web = _client(cognito, pool_id, "web", ["custom:tier"])
    arguments = ["--pool-id", pool_id, "--claims-config", mapping]

    assert main(arguments) == 1
    cognito.update_user_pool_client(UserPoolId=pool_id, ClientId=web, WriteAttributes=["email"])
    assert main(arguments) == 0
    assert main(["--pool-id", pool_id, "--claims-config", mapping + ".missing"]) == 2
    assert main(["--pool-id", "nope"]) == 2
    assert "audit-pool: `POOL_ID` must be a user pool id" in capsys.readouterr().err


# --- make attach ------------------------------------------------------------------------------


def _trigger(cognito: Any, pool_id: str) -> Any:
    config = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("LambdaConfig", {})
    return config.get("PreTokenGenerationConfig")


def test_attach_shows_the_findings_beside_the_change(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    web = _client(cognito, pool_id, "web", ["custom:tier"])

    shown = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, CLAIMS_CONFIG=mapping
    )

    assert shown.returncode == 0, shown.stderr + shown.stdout
    lines = shown.stdout.splitlines()
    assert f"  app client {web} (web) can write custom:tier" in lines
    assert "  LambdaConfig.PreTokenGenerationConfig" in lines
    assert (
        "  note: 1 app client(s) can write a trusted user attribute (audit above): APPLY=1"
        " refuses until their WriteAttributes exclude it, or with ALLOW_WRITABLE=1"
    ) in lines
    assert lines[-1] == "dry run: nothing was changed; run again with APPLY=1 to apply"
    assert _trigger(cognito, pool_id) is None


def test_attach_refuses_to_apply_while_a_trusted_attribute_is_writable(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    _client(cognito, pool_id, "legacy", None)
    before = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]

    refused = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, CLAIMS_CONFIG=mapping, APPLY="1"
    )

    assert _status(refused) == 2, refused.stderr + refused.stdout
    assert "1 app client(s) of" in refused.stderr
    assert "Nothing was changed" in refused.stderr
    assert "ALLOW_WRITABLE=1" in refused.stderr
    assert "legacy" in refused.stdout  # the audit, printed before the refusal
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"] == before

    allowed = run_make(
        endpoint,
        "attach",
        POOL_ID=pool_id,
        FUNCTION_ARN=FUNCTION,
        CLAIMS_CONFIG=mapping,
        APPLY="1",
        ALLOW_WRITABLE="1",
    )

    assert allowed.returncode == 0, allowed.stderr + allowed.stdout
    assert "applying anyway, as ALLOW_WRITABLE=1 asks" in allowed.stdout
    assert "applied; DescribeUserPool shows every other setting unchanged" in allowed.stdout
    assert _trigger(cognito, pool_id) == {"LambdaArn": FUNCTION, "LambdaVersion": "V2_0"}


def test_attach_applies_once_no_client_can_write_a_trusted_attribute(
    endpoint: str, cognito: Any, pool_id: str, mapping: str
) -> None:
    _client(cognito, pool_id, "web", SAFE_WRITES)

    applied = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, CLAIMS_CONFIG=mapping, APPLY="1"
    )

    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert "  none of its 1 app clients can write a trusted attribute" in applied.stdout
    assert _trigger(cognito, pool_id) == {"LambdaArn": FUNCTION, "LambdaVersion": "V2_0"}


def test_attach_refuses_a_bad_allow_writable(endpoint: str, pool_id: str) -> None:
    refused = run_make(
        endpoint, "attach", POOL_ID=pool_id, FUNCTION_ARN=FUNCTION, ALLOW_WRITABLE="yes"
    )

    assert _status(refused) == 2
    assert "`ALLOW_WRITABLE` must be 1" in refused.stdout + refused.stderr


def test_attach_stops_on_an_unreadable_mapping(
    endpoint: str, cognito: Any, pool_id: str, tmp_path: Path
) -> None:
    refused = run_make(
        endpoint,
        "attach",
        POOL_ID=pool_id,
        FUNCTION_ARN=FUNCTION,
        CLAIMS_CONFIG=str(tmp_path / "gone.toml"),
        APPLY="1",
    )

    assert _status(refused) == 2
    assert "attach: `CLAIMS_CONFIG`: cannot read" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _trigger(cognito, pool_id) is None
