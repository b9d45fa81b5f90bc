"""What `make attach` and `make audit-pool` share: a pool id's region and a Cognito client.

The client's endpoint and credentials come from boto3 as usual (profiles, `AWS_ENDPOINT_URL`,
and boto3's per-service `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`), plus
`AWS_ENDPOINT_URL_COGNITO_IDP` (the service's short name, as the CLI and this project's docs
spell it); the region is the pool id's.
"""

import os
import re
from typing import Any, Final

import boto3

__all__ = ("ENDPOINT_VARIABLE", "PoolToolError", "cognito_client", "pool_region")

ENDPOINT_VARIABLE: Final = "AWS_ENDPOINT_URL_COGNITO_IDP"
_BOTO3_ENDPOINT_VARIABLE: Final = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"
_POOL_ID: Final = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+")


class PoolToolError(Exception):
    """A refusal or failure, with the message for the operator; nothing was changed."""


def pool_region(pool_id: str) -> str:
    """The region of a user pool id (`eu-west-1_AbC123` -> `eu-west-1`).

    Raises
    ------
    PoolToolError
        `pool_id` is not a user pool id.
    """
    match = _POOL_ID.fullmatch(pool_id)
    if match is None:
        raise PoolToolError(
            f"`POOL_ID` must be a user pool id such as `eu-west-1_AbC123`, got `{pool_id!r}`"
        )
    return match.group(1)


def cognito_client(region: str) -> Any:
    """A boto3 `cognito-idp` client for `region`, at the endpoint the environment names."""
    # boto3 reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER (from the
    # service id) itself; the service's short name is honoured too, below boto3's own.
    endpoint = None
    if not os.environ.get(_BOTO3_ENDPOINT_VARIABLE):
        endpoint = os.environ.get(ENDPOINT_VARIABLE) or None
    return boto3.client("cognito-idp", region_name=region, endpoint_url=endpoint)
