"""What each cold-start contender imports (its libraries), where its handler lives, and the
environment Lambda would give it beyond the common one.

Ours gets what `template.yaml` sets for the function: `SSL_CERT_FILE` and `SSL_CERT_DIR`, read
from the template (its `/var/task` is the repository here), so the small CA bundle is measured as
deployed. The peers get none: a plain boto3 function is deployed without them.
"""

import re
from pathlib import Path
from typing import NamedTuple

__all__ = ("TLS_VARIABLES", "VARIANTS", "Variant", "lambda_tls_environment")

ROOT = Path(__file__).resolve().parents[1]
TLS_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def lambda_tls_environment(template: Path = ROOT / "template.yaml") -> dict[str, str]:
    """`SSL_CERT_FILE` and `SSL_CERT_DIR` as the template sets them, `/var/task` made `ROOT`.

    Raises
    ------
    ValueError
        The template no longer sets one of them (the bench would measure something else).
    """
    text = template.read_text()
    found = {}
    for name in TLS_VARIABLES:
        match = re.search(rf"^\s*{name}:\s*(\S+)\s*$", text, re.MULTILINE)
        if match is None:
            raise ValueError(f"{template.name} no longer sets {name}")
        found[name] = match[1].strip("'\"").replace("/var/task", str(ROOT), 1)
    return found


class Variant(NamedTuple):
    """A handler to start cold: the libraries it imports, then its module (which inits)."""

    libraries: tuple[str, ...]
    module: str
    label: str
    env: dict[str, str] | None = None
    """Variables set for this contender only (None: the common environment alone)."""


VARIANTS = {
    "ours": Variant(
        ("shared.deps", "shared.trigger"),
        "handler.app",
        "cognito-pretoken (ours)",
        lambda_tls_environment(),
    ),
    "tuned": Variant(
        ("aiobotocore.session", "shared.deps", "shared.trigger"),
        "bench.peers.aiobotocore_tuned",
        "ours on tuned aiobotocore",
    ),
    "boto3": Variant(("json", "boto3"), "bench.peers.boto3_plain", "plain boto3"),
    "powertools": Variant(
        (
            "boto3",
            "aws_lambda_powertools.utilities.data_classes",
            "aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event",
        ),
        "bench.peers.powertools_plain",
        "Powertools data class + boto3",
    ),
    "aioboto3": Variant(
        ("asyncio", "aioboto3"), "bench.peers.aioboto3_naive", "aioboto3, asyncio.run per call"
    ),
    "physical": Variant(
        ("hashlib", "hmac", "http.client", "json"),
        "bench.peers.sigv4_http",
        "physical limit: SigV4 by hand over http.client",
    ),
}
