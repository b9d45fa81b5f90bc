"""What each cold-start contender imports (its libraries) and where its handler lives."""

from typing import NamedTuple

__all__ = ("VARIANTS", "Variant")


class Variant(NamedTuple):
    """A handler to start cold: the libraries it imports, then its module (which inits)."""

    libraries: tuple[str, ...]
    module: str
    label: str


VARIANTS = {
    "ours": Variant(("shared.deps", "shared.trigger"), "handler.app", "cognito-pretoken (ours)"),
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
