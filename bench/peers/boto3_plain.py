"""Peer 1: a plain synchronous boto3 handler, client at module level, stdlib `json`."""

import json
import os
from typing import Any

import boto3

TABLE_NAME = os.environ["TABLE_NAME"]
dynamodb = boto3.client("dynamodb")


def _value(attribute: dict[str, Any]) -> Any:
    if "N" in attribute:
        return float(attribute["N"])
    return next(iter(attribute.values()))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = dynamodb.get_item(
        TableName=TABLE_NAME, Key={"id": {"S": f"USER#{event['userName']}"}}
    )
    item = response.get("Item", {})
    id_claims = {k: _value(item[k]) for k in ("first_name", "last_name") if k in item}
    access_claims = {k: _value(item[k]) for k in ("interesting_value",) if k in item}
    event["response"] = {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": id_claims},
            "accessTokenGeneration": {"claimsToAddOrOverride": access_claims},
            "groupOverrideDetails": event["request"]["groupConfiguration"],
        }
    }
    print(json.dumps({"message": "claims added", "found": bool(item)}))
    return event
