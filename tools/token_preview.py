"""What Cognito would put in the ID and access tokens, given an event and the trigger's response.

For `make invoke` and tests: it applies a response the way the Cognito docs describe (add or
override, then suppress, which wins; scopes added then suppressed; groups replaced by
`groupOverrideDetails`, removed when that is empty or null). `cognito:groups` goes to both
tokens; `cognito:roles` and `cognito:preferred_role` to the ID token only, as Cognito issues
them. Times, issuer and ids are placeholders: no token is signed.
"""

from typing import Any

__all__ = ("preview_tokens",)

_TIMES = {"auth_time": 1_700_000_000, "iat": 1_700_000_000, "exp": 1_700_003_600}
_ID_TOKEN_ONLY = ("cognito:roles", "cognito:preferred_role")


def _group_claims(groups: Any) -> dict[str, Any]:
    if not isinstance(groups, dict):
        return {}
    claims: dict[str, Any] = {}
    if groups.get("groupsToOverride"):
        claims["cognito:groups"] = list(groups["groupsToOverride"])
    if groups.get("iamRolesToOverride"):
        claims["cognito:roles"] = list(groups["iamRolesToOverride"])
    if groups.get("preferredRole"):
        claims["cognito:preferred_role"] = groups["preferredRole"]
    return claims


def _apply(token: dict[str, Any], generation: Any) -> None:
    if not isinstance(generation, dict):
        return
    token.update(generation.get("claimsToAddOrOverride") or {})
    for claim in generation.get("claimsToSuppress") or ():
        token.pop(claim, None)


def preview_tokens(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Return `{"id_token": claims or None, "access_token": claims}` as Cognito would issue them."""
    request = event.get("request") or {}
    attributes = request.get("userAttributes") or {}
    client_id = (event.get("callerContext") or {}).get("clientId")
    pool = event.get("userPoolId")
    issuer = f"https://cognito-idp.{event.get('region')}.amazonaws.com/{pool}"
    machine = event.get("triggerSource") == "TokenGeneration_ClientCredentials"
    groups = _group_claims(request.get("groupConfiguration"))
    scopes = list(request.get("scopes") or ())

    v1 = response.get("claimsOverrideDetails")
    v2 = response.get("claimsAndScopeOverrideDetails")
    details = v2 if isinstance(v2, dict) else v1 if isinstance(v1, dict) else None
    if details is not None and not machine:
        # An empty or null override removes the user's groups.
        groups = _group_claims(details.get("groupOverrideDetails"))

    access: dict[str, Any] = {
        "sub": client_id if machine else attributes.get("sub"),
        # The access token carries the groups, never the IAM roles.
        **({} if machine else {k: v for k, v in groups.items() if k not in _ID_TOKEN_ONLY}),
        "iss": issuer,
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        **_TIMES,
        "jti": "00000000-0000-0000-0000-000000000000",
    }
    if not machine:
        access["username"] = event.get("userName")
    id_token: dict[str, Any] | None = None
    if not machine:
        id_token = {
            **{k: v for k, v in attributes.items() if not k.startswith("cognito:")},
            **groups,
            "iss": issuer,
            "cognito:username": event.get("userName"),
            "aud": client_id,
            "token_use": "id",
            **_TIMES,
        }
    if isinstance(v2, dict):
        if id_token is not None:
            _apply(id_token, v2.get("idTokenGeneration"))
        generation = v2.get("accessTokenGeneration")
        _apply(access, generation)
        if isinstance(generation, dict):
            for scope in generation.get("scopesToAdd") or ():
                if scope not in scopes:
                    scopes.append(scope)
            suppressed = set(generation.get("scopesToSuppress") or ())
            access["scope"] = " ".join(s for s in scopes if s not in suppressed)
    elif isinstance(v1, dict) and id_token is not None:
        _apply(id_token, v1)
    return {"id_token": id_token, "access_token": access}
