"""Cognito's rules for what a trigger may change, checked at load time and again at run time.

The loader refuses a mapping that breaks them (a reserved claim, a `cognito:` or `dev:` claim, a
scope with whitespace, a value with no JSON form); at run time, whatever the data would smuggle
past them (a reserved name in a suppression list, a forged `aud`, an object for
`email_verified`) is dropped and counted by `place_claim` and the callers of the `*_reason`
checks. Pure: no I/O, no logging.
"""

import datetime
import math
from decimal import Decimal
from typing import Any, Final, Literal

from shared.values import JSONValue

__all__ = (
    "GUARDED_CLAIMS",
    "NO_OBJECT_ID_CLAIMS",
    "RESERVED_CLAIMS",
    "TRIGGER_SOURCES",
    "ClaimType",
    "ListParse",
    "Token",
    "fits_type",
    "place_claim",
    "plain_problem",
    "reserved_reason",
    "scope_reason",
    "suppress_reason",
)

Token = Literal["id", "access"]
ClaimType = Literal["string", "number", "integer", "boolean", "string_list", "json", "any"]
ListParse = Literal["json_list", "csv", "bracket_list"]
"""How a user attribute (a string) is read as a list of strings."""

RESERVED_CLAIMS: Final = frozenset(
    {
        "sub", "username", "cognito:username", "identities", "aud", "client_id", "event_id",
        "version", "device_key", "acr", "amr", "at_hash", "auth_time", "azp", "exp", "iat",
        "iss", "jti", "nbf", "nonce", "origin_jti", "token_use", "scope",
    }
)  # fmt: skip
"""Claims Cognito never lets a trigger set (`scope` changes only through scopesToAdd/Suppress;
`aud` only in the access token, and only equal to the app client id)."""

NO_OBJECT_ID_CLAIMS: Final = frozenset(
    {"phone_number_verified", "email_verified", "updated_at", "address"}
)
"""ID-token claims Cognito does not let take an object or array value."""

GUARDED_CLAIMS: Final = NO_OBJECT_ID_CLAIMS | {"aud"}
"""Claim names whose value `place_claim` must check; every other name is placed directly."""

TRIGGER_SOURCES: Final = frozenset(
    {
        "TokenGeneration_HostedAuth",
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
        "TokenGeneration_ClientCredentials",
    }
)
"""The `triggerSource` values Cognito sends to a pre token generation trigger."""


def reserved_reason(claim: str, token: Token = "id") -> str | None:
    """Say why `claim` may not be added or overridden in `token`, or None when it may.

    `aud` passes in the access token; its value must then equal the client id (checked when
    the claim is applied).
    """
    if not claim or claim != claim.strip():
        return "claim names must be non-empty and have no surrounding whitespace"
    if claim == "aud" and token == "access":
        return None
    if claim in RESERVED_CLAIMS:
        return f"`{claim}` is reserved by Cognito"
    if claim.startswith("cognito:"):
        return "`cognito:` claims change only through the group override"
    if claim.startswith("dev:"):
        return "`dev:` claims may only be suppressed"
    return None


def suppress_reason(claim: str) -> str | None:
    """Say why `claim` may not be suppressed, or None when it may (`dev:` claims may)."""
    if claim.startswith("dev:") and claim != "dev:":
        return None
    if claim == "aud":
        return "`aud` is reserved by Cognito"
    return reserved_reason(claim)


def scope_reason(scope: str) -> str | None:
    """Say why `scope` is not a valid scope value, or None when it is."""
    if not scope or any(ch.isspace() for ch in scope):
        return "scopes must be non-empty and contain no whitespace"
    return None


def fits_type(value: JSONValue, claim_type: ClaimType) -> bool:
    """Whether a plain JSON `value` is of `claim_type` (null never is)."""
    if value is None:
        return False
    if claim_type == "any":
        return True
    if claim_type == "string":
        return isinstance(value, str)
    if claim_type == "boolean":
        return isinstance(value, bool)
    if claim_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if claim_type == "number":
        return isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    if claim_type == "string_list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict | list)  # json: an object or an array


def plain_problem(value: Any) -> str | None:
    """Why a value from the mapping file, or anything nested in it, cannot be a claim value.

    Refused: TOML dates and times, `inf`, `-inf` and `nan` (no JSON form: V2 would send
    `Infinity`, invalid on the wire) and null (a claim of null is no claim: leave it out).
    """
    if value is None:
        return "null is not a claim value: leave the claim out instead"
    if isinstance(value, datetime.date | datetime.time):
        return "dates and times are not JSON values: write them as strings"
    if isinstance(value, float) and not math.isfinite(value):
        return "`inf`, `-inf` and `nan` are not JSON values"
    if isinstance(value, dict):
        return next((p for v in value.values() if (p := plain_problem(v))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := plain_problem(v))), None)
    return None


def place_claim(
    claims: dict[str, JSONValue],
    token: Token,
    name: str,
    value: JSONValue,
    *,
    client_id: str | None,
    dropped: list[tuple[str, str]],
) -> None:
    """Set `name` in `claims` unless the run-time guard refuses the value (dropped and counted).

    The guard: `aud` in the access token only equal to `client_id`; no object or array in the
    ID-token claims Cognito refuses them for.
    """
    if name == "aud" and token == "access" and value != client_id:
        dropped.append((name, "reserved"))
        return
    if token == "id" and name in NO_OBJECT_ID_CLAIMS and isinstance(value, dict | list):
        dropped.append((name, "object_not_allowed"))
        return
    claims[name] = value
