"""What each cold-start contender imports (its libraries), where its handler lives, and its label.

No contender gets a variable of its own: every one runs on the common environment of its mode
(`bench.coldstart.child_environment`), which has no `SSL_*` variable (none of this machine's
leaks in), and in the TLS mode `AWS_CA_BUNDLE` naming the bench's throwaway CA, which ours and
every AWS SDK read (the physical limit builds its context from it too).
"""

from typing import NamedTuple

__all__ = ("VARIANTS", "Variant")


class Variant(NamedTuple):
    """A handler to start cold: the libraries it imports, then its module (which inits)."""

    libraries: tuple[str, ...]
    module: str
    label: str


VARIANTS = {
    "ours": Variant(
        ("shared.deps", "shared.trigger"), "handler.app", "cognito-pretoken (ours, llhttp)"
    ),
    "ours_h11": Variant(
        ("h11", "shared.deps", "shared.trigger"), "bench.peers.ours_h11", "ours, h11 parsing"
    ),
    "ours_aiohttp": Variant(
        ("aiohttp", "shared.deps", "shared.trigger"),
        "bench.peers.ours_aiohttp",
        "ours on aiohttp (before)",
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
        ("hashlib", "hmac", "http.client", "json", "ssl"),
        "bench.peers.sigv4_http",
        "physical limit: SigV4 by hand over http.client",
    ),
}
