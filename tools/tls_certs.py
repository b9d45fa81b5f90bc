"""A throwaway certificate authority and a loopback server certificate it signs, for TLS tests and
the bench's TLS mode.

`throwaway_ca(folder)` writes `ca.pem` (the authority: what a client is told to trust, e.g. with
`AWS_CA_BUNDLE`), `server.pem` (the server's certificate then the authority's, a chain) and
`server.key`, valid for an hour for `127.0.0.1` and `localhost` (or the names given). Keys are
ECDSA P-256, made afresh each call and never reused. Dev and bench only (`cryptography` is in
the dev lock, not shipped).
"""

import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ("Authority", "server_context", "throwaway_ca")


class Authority(NamedTuple):
    """Where the files are."""

    ca: Path
    """The authority's certificate (PEM): the trust root a client is given."""
    chain: Path
    """The server's certificate, then the authority's (PEM)."""
    key: Path
    """The server's private key (PEM, PKCS#8, unencrypted)."""


_CA_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alternative(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def throwaway_ca(
    folder: Path,
    name: str = "cognito-pretoken throwaway CA",
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
) -> Authority:
    """Write a new authority and a server certificate for `hosts` into `folder`."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([_alternative(host) for host in hosts]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    authority = Authority(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    authority.ca.write_bytes(ca_pem)
    authority.chain.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    authority.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return authority


def server_context(authority: Authority) -> ssl.SSLContext:
    """A TLS server context presenting the authority's server certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(authority.chain, authority.key)
    return context
