"""Peer 2: Powertools for AWS Lambda's `PreTokenGenerationV2TriggerEvent` data class plus boto3."""

import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PreTokenGenerationV2TriggerEvent,
)

TABLE_NAME = os.environ["TABLE_NAME"]
dynamodb = boto3.client("dynamodb")


def _value(attribute: dict[str, Any]) -> Any:
    if "N" in attribute:
        return float(attribute["N"])
    return next(iter(attribute.values()))


@event_source(data_class=PreTokenGenerationV2TriggerEvent)
def handler(event: PreTokenGenerationV2TriggerEvent, context: Any) -> dict[str, Any]:
    response = dynamodb.get_item(TableName=TABLE_NAME, Key={"id": {"S": f"USER#{event.user_name}"}})
    item = response.get("Item", {})
    details = event.response.claims_scope_override_details
    details.id_token_generation.claims_to_add_or_override = {
        k: _value(item[k]) for k in ("first_name", "last_name") if k in item
    }
    details.access_token_generation.claims_to_add_or_override = {
        k: _value(item[k]) for k in ("interesting_value",) if k in item
    }
    groups = event.request.group_configuration
    details.group_configuration = {
        "groupsToOverride": groups.groups_to_override,
        "iamRolesToOverride": groups.iam_roles_to_override,
        "preferredRole": groups.preferred_role,
    }
    return event.raw_event
