"""Peer 3: the common aioboto3 mistake: `asyncio.run` and a new client on every invocation."""

import asyncio
import os
from typing import Any

import aioboto3

TABLE_NAME = os.environ["TABLE_NAME"]
session = aioboto3.Session()


async def _handle(event: dict[str, Any]) -> dict[str, Any]:
    async with session.client("dynamodb") as dynamodb:
        response = await dynamodb.get_item(
            TableName=TABLE_NAME, Key={"id": {"S": f"USER#{event['userName']}"}}
        )
    item = response.get("Item", {})
    event["response"] = {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {
                "claimsToAddOrOverride": {
                    k: item[k]["S"] for k in ("first_name", "last_name") if k in item
                }
            },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {
                    k: next(iter(item[k].values())) for k in ("interesting_value",) if k in item
                }
            },
            "groupOverrideDetails": event["request"]["groupConfiguration"],
        }
    }
    return event


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asyncio.run(_handle(event))
