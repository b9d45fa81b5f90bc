"""Claim set + event -> the `response` object Cognito reads, in the V1 or the V2/V3 shape.

V1 (`claimsOverrideDetails`) reaches the ID token only and takes string values only: numbers and
booleans become their JSON text, arrays and objects compact JSON; access-token claims and scopes
are not sent. V2/V3 (`claimsAndScopeOverrideDetails`) reaches both tokens with plain JSON values,
suppressions and scopes. Either way `groupOverrideDetails` is the request's groups, overridden
field by field by what the item holds, because Cognito removes a user's groups when that field is
empty or null; it is left out only when the request has no group configuration (machine
clients). Every list and dict in an answer is its own (claim values are copied, a tuple as a
list), so a caller that changes an answer changes no cached item, mapping or remembered
answer. Pure: no I/O, no logging.
"""

from decimal import Decimal
from typing import Final, Literal

from shared.claims import ClaimSet, GroupOverride
from shared.event import CLIENT_CREDENTIALS, Event, GroupConfiguration, version_number
from shared.values import JSONValue, encode_json

__all__ = ("Shape", "blank_response", "build_response", "choose_shape")

Shape = Literal["v1", "v2"]

_V2_FIRST_VERSION: Final = 2


def choose_shape(event: Event, forced: Literal["auto", "v1", "v2"]) -> Shape:
    """Pick the response shape: V2/V3 when the version says 2+ or the request carries scopes.

    Published V2 events say `"version": "1"` and emulators send `"0"`, so `request.scopes`
    (present only in V2/V3 events) decides as much as the version does.
    """
    if forced != "auto":
        return forced
    # Scopes first: every V2/V3 sign-in carries them, and they are cheaper to see than a version.
    if event.has_scopes or event.version_number >= _V2_FIRST_VERSION or event.is_machine_client:
        return "v2"
    return "v1"


def blank_response(
    event: dict[str, JSONValue], forced: Literal["auto", "v1", "v2"]
) -> dict[str, JSONValue]:
    """The answer that changes nothing, for an event too malformed to decode.

    Its shape is guessed from the raw event the way `choose_shape` decides it; the details are
    null, which Cognito reads as "issue the tokens as they are" (groups included).
    """
    shape = forced
    if shape == "auto":
        request = event.get("request")
        scopes = request.get("scopes") if isinstance(request, dict) else None
        v2 = (
            version_number(event.get("version")) >= _V2_FIRST_VERSION
            or isinstance(scopes, list)
            or event.get("triggerSource") == CLIENT_CREDENTIALS
        )
        shape = "v2" if v2 else "v1"
    return {"claimsAndScopeOverrideDetails" if shape == "v2" else "claimsOverrideDetails": None}


def _groups(
    configuration: GroupConfiguration, override: GroupOverride | None
) -> dict[str, JSONValue]:
    preferred = configuration.preferred_role
    if isinstance(preferred, list):
        # The AWS docs' test event sends a list; the response field is a single ARN.
        preferred = preferred[0] if len(preferred) == 1 else None
    groups = list(configuration.groups_to_override or ())
    roles = list(configuration.iam_roles_to_override or ())
    if override is not None:
        groups = list(override.groups) if override.groups is not None else groups
        roles = list(override.iam_roles) if override.iam_roles is not None else roles
        preferred = override.preferred_role if override.preferred_role is not None else preferred
    return {"groupsToOverride": groups, "iamRolesToOverride": roles, "preferredRole": preferred}


def _as_string(value: JSONValue) -> str:
    if isinstance(value, str):
        return value
    # Exact: a 38-digit integer or a Decimal, alone or nested, keeps every digit.
    return encode_json(value).decode()


_CONTAINERS: Final = (list, tuple, dict)
"""What a JSON value may be made of besides immutable scalars."""
_SCALARS: Final = frozenset({str, int, float, bool, type(None), Decimal})


def _copied(value: JSONValue) -> JSONValue:
    """A list, tuple or dict (or a subclass of one) copied all the way down as plain lists and
    dicts (a tuple is a list in JSON); only those are ever given to it. The exact scalar types
    are tried first: most values are strings and numbers."""
    if isinstance(value, dict):
        return {
            k: v if type(v) in _SCALARS or not isinstance(v, _CONTAINERS) else _copied(v)
            for k, v in value.items()
        }
    return [
        v if type(v) in _SCALARS or not isinstance(v, _CONTAINERS) else _copied(v) for v in value
    ]


def _owned(claims: dict[str, JSONValue]) -> dict[str, JSONValue]:
    """`claims` for one answer alone: a claim's list or dict is the cached item's, the
    mapping's or a remembered answer's too, so the answer gets a copy of it (a caller that
    changes its answer changes nothing else)."""
    owned = dict(claims)
    if _SCALARS.issuperset(map(type, owned.values())):  # nothing to copy (most claims)
        return owned
    for name, value in claims.items():
        if type(value) not in _SCALARS and isinstance(value, _CONTAINERS):
            owned[name] = _copied(value)
    return owned


def _generation(claims: dict[str, JSONValue], suppress: tuple[str, ...]) -> dict[str, JSONValue]:
    generation: dict[str, JSONValue] = {}
    if claims:
        generation["claimsToAddOrOverride"] = _owned(claims)
    if suppress:
        generation["claimsToSuppress"] = list(suppress)
    return generation


def build_response(
    event: Event, claims: ClaimSet, shape: Shape, *, machine: bool
) -> dict[str, JSONValue]:
    """Build the `response` object for `event`.

    Parameters
    ----------
    event
        The decoded event; its group configuration is preserved unless `claims` overrides it.
    claims
        What to add, suppress and override; machine clients never get ID-token changes.
    shape
        `v1` (ID token only, string values, no scopes) or `v2` (also used for V3 events).
    machine
        A machine client (V3 client credentials): access token only, groups never overridden.
    """
    configuration = event.request.group_configuration if event.request else None
    details: dict[str, JSONValue] = {}
    id_claims = {} if machine else claims.id_claims
    id_suppress = () if machine else claims.id_suppress
    # Machine clients have no groups: nothing to keep, nothing to override.
    groups = None
    if configuration is not None and not machine:
        groups = _groups(configuration, claims.groups)
    if shape == "v1":
        if id_claims:
            details["claimsToAddOrOverride"] = {k: _as_string(v) for k, v in id_claims.items()}
        if id_suppress:
            details["claimsToSuppress"] = list(id_suppress)
        if groups is not None:
            details["groupOverrideDetails"] = groups
        return {"claimsOverrideDetails": details}
    if id_generation := _generation(id_claims, id_suppress):
        details["idTokenGeneration"] = id_generation
    access = _generation(claims.access_claims, claims.access_suppress)
    if claims.scopes_add:
        access["scopesToAdd"] = list(claims.scopes_add)
    if claims.scopes_suppress:
        access["scopesToSuppress"] = list(claims.scopes_suppress)
    if access:
        details["accessTokenGeneration"] = access
    if groups is not None:
        details["groupOverrideDetails"] = groups
    return {"claimsAndScopeOverrideDetails": details}
