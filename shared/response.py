"""Claim set + event -> the `response` object Cognito reads, in the V1 or the V2/V3 shape.

V1 (`claimsOverrideDetails`) reaches the ID token only and takes string values only: numbers and
booleans become their JSON text, arrays and objects compact JSON. V2/V3
(`claimsAndScopeOverrideDetails`) reaches both tokens with plain JSON values. Either way the
request's groups are copied into `groupOverrideDetails`, because Cognito removes a user's groups
when that field is empty or null; it is left out only when the request has no group configuration
(machine clients). Pure: no I/O, no logging.
"""

import json
from typing import Final, Literal

import orjson

from shared.claims import ClaimSet
from shared.models import Event, GroupConfiguration, JSONValue

__all__ = ("Shape", "build_response", "choose_shape")

Shape = Literal["v1", "v2"]

_V2_FIRST_VERSION: Final = 2


def choose_shape(event: Event, forced: Literal["auto", "v1", "v2"]) -> Shape:
    """Pick the response shape: V2/V3 when the version says 2+ or the request carries scopes.

    Published V2 events say `"version": "1"` and emulators send `"0"`, so `request.scopes`
    (present only in V2/V3 events) decides as much as the version does.
    """
    if forced != "auto":
        return forced
    if event.version_number >= _V2_FIRST_VERSION or event.has_scopes or event.is_machine_client:
        return "v2"
    return "v1"


def _groups(configuration: GroupConfiguration) -> dict[str, JSONValue]:
    preferred = configuration.preferred_role
    if isinstance(preferred, list):
        # The AWS docs' test event sends a list; the response field is a single ARN.
        preferred = preferred[0] if len(preferred) == 1 else None
    return {
        "groupsToOverride": list(configuration.groups_to_override or ()),
        "iamRolesToOverride": list(configuration.iam_roles_to_override or ()),
        "preferredRole": preferred,
    }


def _as_string(value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # orjson stops at 64-bit integers; DynamoDB numbers carry up to 38 digits.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def build_response(event: Event, claims: ClaimSet, shape: Shape) -> dict[str, JSONValue]:
    """Build the `response` object for `event`.

    Parameters
    ----------
    event
        The decoded event; its group configuration is preserved.
    claims
        Claims for each token; machine clients never get ID-token claims.
    shape
        `v1` or `v2` (also used for V3 events).
    """
    configuration = event.request.group_configuration if event.request else None
    details: dict[str, JSONValue] = {}
    id_claims = {} if event.is_machine_client else claims.id_claims
    if shape == "v1":
        if id_claims:
            details["claimsToAddOrOverride"] = {k: _as_string(v) for k, v in id_claims.items()}
        if configuration is not None:
            details["groupOverrideDetails"] = _groups(configuration)
        return {"claimsOverrideDetails": details}
    if id_claims:
        details["idTokenGeneration"] = {"claimsToAddOrOverride": dict(id_claims)}
    if claims.access_claims:
        details["accessTokenGeneration"] = {"claimsToAddOrOverride": dict(claims.access_claims)}
    if configuration is not None:
        details["groupOverrideDetails"] = _groups(configuration)
    return {"claimsAndScopeOverrideDetails": details}
