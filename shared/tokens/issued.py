"""Each token of an answer, as Cognito reads it from the event and our `response`, and its size.

`Issued` reads the raw event (the user attributes as it carries them, the requested scopes) and
the `response` object (`claimsOverrideDetails` in V1, `claimsAndScopeOverrideDetails` in V2/V3):
our additions as sent (V1's strings), the suppressions, the final groups, roles and preferred
role (`groupOverrideDetails`, or the request's when it is absent), the final scopes (requested,
then added, less the suppressed). `id_inputs` / `access_inputs` give them as Cognito's claims
(`shared.tokens.cognito`) and the full estimate (`shared.tokens.size`) take them: the long way,
every form, for shedding. `id_bytes` / `access_bytes` give the same size as that estimate, the
invocation's way (`shared.tokens.longest`: only the longest form). `token_sizes` sizes the
tokens of a finished answer (`make invoke`, `make size`). Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from shared.event import Event, decode_event
from shared.tokens.cognito import access_token_claims, id_token_claims
from shared.tokens.longest import access_chars, final_scopes, id_chars, preferred_role
from shared.tokens.size import estimate_token
from shared.values import JSONValue

__all__ = ("AccessInputs", "IdInputs", "Issued", "token_sizes")

_EMPTY: Final[Mapping[str, Any]] = {}
_NO_NAMES: Final[list[str]] = []


class IdInputs(NamedTuple):
    """The ID token's inputs, as `id_token_claims` and `estimate_token` take them."""

    attributes: Mapping[str, JSONValue]
    added: Mapping[str, JSONValue]
    suppressed: list[str]
    groups: list[str] | None
    roles: list[str] | None
    preferred_role: str | None


class AccessInputs(NamedTuple):
    """The access token's inputs, as `access_token_claims` and `estimate_token` take them."""

    added: Mapping[str, JSONValue]
    suppressed: list[str]
    scopes: list[str]
    groups: list[str] | None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if type(value) is dict else _EMPTY


def _names(value: object) -> list[str]:
    """A list of names as sent; anything else is none (Cognito would refuse it)."""
    return value if type(value) is list else _NO_NAMES


class Issued:
    """One answer as Cognito reads it, to size its tokens.

    Parameters
    ----------
    event
        The raw event.
    decoded
        The decoded event.
    response
        The `response` object (ours, or any).
    floats
        Whether a claim of ours may hold a float; false when the mapping has no float
        constant (items' numbers are exact): only Decimals are then sized both ways.
    """

    __slots__ = ("decoded", "details", "floats", "groups", "request", "response", "v2")

    def __init__(
        self,
        event: Mapping[str, Any],
        decoded: Event,
        response: dict[str, Any],
        *,
        floats: bool = True,
    ) -> None:
        request = _mapping(event.get("request"))
        v2 = response.get("claimsAndScopeOverrideDetails")
        self.v2 = type(v2) is dict
        """Whether the answer is V2/V3's (both tokens), else V1's (the ID token only)."""
        details = _mapping(v2 if self.v2 else response.get("claimsOverrideDetails"))
        groups = details.get("groupOverrideDetails")
        self.groups: Mapping[str, Any] = (
            groups if type(groups) is dict else _mapping(request.get("groupConfiguration"))
        )
        """The final groups, roles and preferred role: the override, else the request's."""
        self.request = request
        self.details = details
        self.decoded = decoded
        self.response = response
        self.floats = floats

    def _generation(self, token: str) -> Mapping[str, Any]:
        if not self.v2:
            return self.details if token == "idTokenGeneration" else _EMPTY
        return _mapping(self.details.get(token))

    def id_inputs(self) -> IdInputs:
        """What the ID token is issued from: the user's attributes, ours, the final groups."""
        generation = self._generation("idTokenGeneration")
        return IdInputs(
            _mapping(self.request.get("userAttributes")),
            _mapping(generation.get("claimsToAddOrOverride")),
            _names(generation.get("claimsToSuppress")),
            self.groups.get("groupsToOverride") or None,
            self.groups.get("iamRolesToOverride") or None,
            preferred_role(self.groups),
        )

    def access_inputs(self) -> AccessInputs:
        """What the access token is issued from (V2/V3): ours, the final scopes and groups."""
        generation = self._generation("accessTokenGeneration")
        return AccessInputs(
            _mapping(generation.get("claimsToAddOrOverride")),
            _names(generation.get("claimsToSuppress")),
            final_scopes(_names(self.request.get("scopes")), generation),
            self.groups.get("groupsToOverride") or None,
        )

    def id_bytes(self) -> int:
        """The ID token's estimated size: `estimate_token(...)` of `id_inputs`, the fast way."""
        size = id_chars(
            self.decoded,
            _mapping(self.request.get("userAttributes")),
            self._generation("idTokenGeneration"),
            self.groups,
            floats=self.floats and self.v2,  # V1 sends strings
        )
        if size < 0:
            attributes, added, suppressed, groups, roles, preferred = self.id_inputs()
            claims = id_token_claims(
                self.decoded, attributes, groups=groups, roles=roles, preferred_role=preferred
            )
            return estimate_token(claims, added, suppressed).token_bytes
        return size

    def access_bytes(self) -> int:
        """The access token's estimated size (V2/V3), as `id_bytes` gives the ID token's."""
        size = access_chars(
            self.decoded,
            self._generation("accessTokenGeneration"),
            _names(self.request.get("scopes")),
            self.groups,
            floats=self.floats,
        )
        if size < 0:
            added, suppressed, scopes, groups = self.access_inputs()
            claims = access_token_claims(self.decoded, scopes=scopes, groups=groups)
            return estimate_token(claims, added, suppressed).token_bytes
        return size


def token_sizes(
    event: Mapping[str, Any], response: dict[str, Any], decoded: Event | None = None
) -> dict[str, int]:
    """The estimated size of each token our answer shapes: `id` (users), `access` (V2/V3).

    Parameters
    ----------
    event
        The raw event.
    response
        Our `response` object for it.
    decoded
        The decoded event, when the caller has it.

    Raises
    ------
    EventError
        `event` cannot be decoded (when `decoded` is not given).
    """
    issued = Issued(event, decoded if decoded is not None else decode_event(event), response)
    sizes: dict[str, int] = {}
    if not issued.decoded.is_machine_client:
        sizes["id"] = issued.id_bytes()
    if issued.v2:
        sizes["access"] = issued.access_bytes()
    return sizes
