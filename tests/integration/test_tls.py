"""The shipped CA bundle: pointed to by `SSL_CERT_FILE`/`SSL_CERT_DIR` (as `template.yaml` does),
the store trusts the Amazon Trust Services roots and nothing else, and verification stays on.

Each check runs in a fresh interpreter, since aiohttp builds its SSL contexts at import. A TLS
server on 127.0.0.1 (free port) presents a self-signed certificate made here: refused under the
bundle, accepted when that certificate itself is the trusted file (so the refusal is the trust
decision, not a broken server).
"""

import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import ROOT
from tests.support.scripted_http import ScriptedServer

pytestmark = pytest.mark.integration

BUNDLE = ROOT / "shared" / "certs" / "amazon-trust.pem"
ATS_ROOTS = {
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
}
ITEM = b'{"Item": {"id": {"S": "USER#jane.doe"}, "first_name": {"S": "Jane"}}}'

_GET = """
import asyncio, json, ssl
from contextlib import AsyncExitStack
from shared.config import load_settings
from shared.errors import StoreError
from shared.lookup.keys import KeyTemplate
from shared.lookup.sources import ItemRead, ItemSource
from shared.lookup import Store
from shared.lookup.dynamodb import open_connection
import os

SOURCE = ItemSource(name="item", table="profiles", key=(("id", KeyTemplate("t", "x")),),
                    attributes=("first_name",))

async def main():
    settings = load_settings(os.environ)
    async with AsyncExitStack() as stack:
        store = Store(await open_connection(settings, stack))
        read = ItemRead(source=SOURCE, key=(("id", "USER#jane.doe"),))
        try:
            item = await store.get_item(read, consistent=False, timeout=3)
        except StoreError as exc:
            return {"error": type(exc).__name__, "detail": str(exc)}
        return {"item": item}

roots = sorted(dict(n[0] for n in c["subject"]).get("commonName", "?")
               for c in ssl.create_default_context().get_ca_certs())
print(json.dumps({"roots": roots, **asyncio.run(main())}))
"""


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-an-aws-endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[ScriptedServer, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ScriptedServer([(200, ITEM)], tls=context)
    yield server, cert
    server.close()


def _get(endpoint: str, cert_file: Path, cert_dir: Path) -> dict[str, Any]:
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
            "SSL_CERT_FILE": str(cert_file),
            "SSL_CERT_DIR": str(cert_dir),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_tls_bundle_holds_the_amazon_trust_roots_only(
    tls_server: tuple[ScriptedServer, Path],
) -> None:
    server, _ = tls_server
    report = _get(server.endpoint, BUNDLE, BUNDLE.parent)
    assert set(report["roots"]) == ATS_ROOTS


def test_tls_server_outside_the_bundle_is_refused(tls_server: tuple[ScriptedServer, Path]) -> None:
    server, _ = tls_server
    report = _get(server.endpoint, BUNDLE, BUNDLE.parent)
    assert report["error"] == "StoreUnavailable"
    assert "certificate" in str(report["detail"]).lower()
    assert server.requests == []  # no request was sent over the untrusted connection


def test_tls_server_trusted_by_configuration_is_accepted(
    tls_server: tuple[ScriptedServer, Path], tmp_path: Path
) -> None:
    # The control: the same server, its certificate the trusted file, answers.
    server, cert = tls_server
    empty = tmp_path / "no-hashed-certs"
    empty.mkdir()
    report = _get(server.endpoint, cert, empty)
    assert report.get("item") == {"id": "USER#jane.doe", "first_name": "Jane"}
