"""Trust roots owned by the package: the store verifies TLS against the Amazon Trust Services roots
it ships (`shared/certs/amazon-trust.pem`) by itself, with no `SSL_*` variable anywhere; another
CA file only by `AWS_CA_BUNDLE`; verification always on.

Each check runs the store in a fresh interpreter whose environment is given whole (none of this
machine's `SSL_*` variables leak in). A TLS server on 127.0.0.1 (free port) presents a
certificate from a throwaway CA made here: refused under the bundle (and no request reaches it),
refused too when OpenSSL's own variables name that CA (the package's roots decide, not
OpenSSL's defaults), accepted when `AWS_CA_BUNDLE` names it (so the refusals are the trust
decision, not a broken server).
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.scripted_http import ScriptedServer
from tools.tls_certs import Authority, server_context, throwaway_ca

pytestmark = pytest.mark.integration

ATS_ROOTS = {
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
}
ITEM = b'{"Item": {"id": {"S": "USER#jane.doe"}, "first_name": {"S": "Jane"}}}'

_GET = """
import asyncio, json, os, ssl, sys
from contextlib import AsyncExitStack
from shared.config import load_settings
from shared.errors import StoreError
from shared.lookup import Store
from shared.lookup.dynamodb import open_connection
from shared.lookup.keys import KeyTemplate
from shared.lookup.sources import ItemRead, ItemSource

SOURCE = ItemSource(name="item", table="profiles", key=(("id", KeyTemplate("t", "x")),),
                    attributes=("first_name",))

async def main():
    settings = load_settings(os.environ)
    async with AsyncExitStack() as stack:
        connection = await open_connection(settings, stack)
        roots = sorted(dict(n[0] for n in c["subject"]).get("commonName", "?")
                       for c in connection.tls.get_ca_certs())
        verifying = [connection.tls.verify_mode == ssl.CERT_REQUIRED, connection.tls.check_hostname]
        read = ItemRead(source=SOURCE, key=(("id", "USER#jane.doe"),))
        try:
            item = await Store(connection).get_item(read, consistent=False, timeout=3)
        except StoreError as exc:
            return {"roots": roots, "verifying": verifying, "error": type(exc).__name__,
                    "detail": str(exc)}
        return {"roots": roots, "verifying": verifying, "item": item}

print(json.dumps({"aiohttp": "aiohttp" in sys.modules, **asyncio.run(main())}))
"""


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return throwaway_ca(tmp_path / "ca")


@pytest.fixture
def tls_server(authority: Authority) -> Iterator[ScriptedServer]:
    server = ScriptedServer([(200, ITEM)], tls=server_context(authority))
    yield server
    server.close()


def _get(endpoint: str, **extra: str) -> dict[str, Any]:
    """The store's GetItem in a fresh interpreter, with exactly these variables."""
    result = subprocess.run(
        [sys.executable, "-c", _GET],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "TABLE_NAME": "profiles",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "STORE_MAX_ATTEMPTS": "1",
            **extra,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_tls_without_any_ssl_variable_the_store_trusts_the_bundle_only(
    tls_server: ScriptedServer,
) -> None:
    report = _get(tls_server.endpoint)
    assert set(report["roots"]) == ATS_ROOTS
    assert report["verifying"] == [True, True]
    assert report["aiohttp"] is False  # production imports no aiohttp


def test_tls_server_outside_the_bundle_is_refused(tls_server: ScriptedServer) -> None:
    report = _get(tls_server.endpoint)
    assert report["error"] == "StoreUnavailable"
    assert "certificate" in str(report["detail"]).lower()
    assert tls_server.requests == []  # no request was sent over the untrusted connection


def test_tls_openssl_variables_do_not_change_the_roots(
    tls_server: ScriptedServer, authority: Authority
) -> None:
    # OpenSSL's defaults naming the throwaway CA change nothing: the roots are the package's.
    report = _get(
        tls_server.endpoint,
        SSL_CERT_FILE=str(authority.ca),
        SSL_CERT_DIR=str(authority.ca.parent),
    )
    assert set(report["roots"]) == ATS_ROOTS
    assert report["error"] == "StoreUnavailable"
    assert tls_server.requests == []


def test_tls_aws_ca_bundle_trusts_its_authority(
    tls_server: ScriptedServer, authority: Authority
) -> None:
    # The control: the same server, its authority named by AWS_CA_BUNDLE, answers.
    report = _get(tls_server.endpoint, AWS_CA_BUNDLE=str(authority.ca))
    assert report["roots"] == ["cognito-pretoken throwaway CA"]
    assert report["verifying"] == [True, True]
    assert report.get("item") == {"id": "USER#jane.doe", "first_name": "Jane"}
    assert len(tls_server.requests) == 1


def test_tls_aws_ca_bundle_still_checks_the_host_name(tmp_path: Path) -> None:
    # A trusted authority, but a certificate for another name than the one connected to.
    other = throwaway_ca(tmp_path / "other", hosts=("localhost",))
    server = ScriptedServer([(200, ITEM)], tls=server_context(other))
    try:
        report = _get(server.endpoint, AWS_CA_BUNDLE=str(other.ca))
    finally:
        server.close()
    assert report["error"] == "StoreUnavailable"
    assert "mismatch" in report["detail"]  # OpenSSL: IP address mismatch, not valid for 127.0.0.1
    assert server.requests == []
