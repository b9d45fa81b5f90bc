"""Each token fitted to its budget: the answer built, each budgeted token estimated, and shed.

`fit_tokens` is the one place the token budgets (`ID_TOKEN_MAX_BYTES`, `ACCESS_TOKEN_MAX_BYTES`)
decide anything. It builds the `response`, estimates each budgeted token as Cognito will issue it
from the event and that response (`shared.tokens.issued`: V1's strings, the final groups and
scopes), and only for a token past its budget sizes each claim of ours exactly and sheds
(`shared.tokens.shed`): the claims the rules take from the data, lowest `priority` first (ties:
the largest first). Never shed: a `required` rule's claim, a static claim, a grant's claim (the
mapping's own statics; a rule's claim a grant holding the same value may have set counts as the
grant's). Suppression comes first: a suppressed claim takes no budget and is no candidate. A
token that cannot fit even with every candidate shed is issued as it is (nothing shed) and
named in `over_budget`. Each shed claim is named in `dropped` with reason `over_token_budget`.
Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

import msgspec

from shared.claims import ClaimSet, Section, Token
from shared.event import Event
from shared.response import Shape, build_response
from shared.tokens.cognito import access_token_claims, id_token_claims, token_length
from shared.tokens.issued import Issued
from shared.tokens.shed import Candidate, plan_shedding
from shared.tokens.size import TokenEstimate, estimate_token
from shared.values import JSONValue

__all__ = ("OVER_TOKEN_BUDGET", "Fitted", "fit_tokens")

OVER_TOKEN_BUDGET: Final = "over_token_budget"
"""The reason a shed claim is dropped with."""


class Fitted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer with each budgeted token fitted.

    Parameters
    ----------
    response
        The `response` object, built from `claims`.
    claims
        The claim set less what was shed; its `dropped` names each shed claim.
    token_bytes
        Each budgeted token's estimated size after shedding: `{"id": 1834, "access": 1201}`.
    over_budget
        The budgeted tokens that do not fit even so (issued as they are).
    """

    response: dict[str, JSONValue]
    claims: ClaimSet
    token_bytes: dict[str, int]
    over_budget: tuple[Token, ...] = ()


def _estimate(token: Token, issued: Issued) -> TokenEstimate:
    """The token's estimate in every form, with each claim of ours sized (the slow path)."""
    if token == "id":
        inputs = issued.id_inputs()
        cognito = id_token_claims(
            issued.decoded,
            inputs.attributes,
            groups=inputs.groups,
            roles=inputs.roles,
            preferred_role=inputs.preferred_role,
        )
        return estimate_token(cognito, inputs.added, inputs.suppressed)
    access = issued.access_inputs()
    cognito = access_token_claims(issued.decoded, scopes=access.scopes, groups=access.groups)
    return estimate_token(cognito, access.added, access.suppressed)


def _granted(section: Section, token: Token, name: str, value: JSONValue) -> bool:
    """Whether a grant of `section` sets claim `name` of `token` to `value`."""
    for grant in section.grants:
        for granted_name, granted_value in (
            grant.id_claims if token == "id" else grant.access_claims
        ):
            if granted_name == name and granted_value == value:
                return True
    return False


def _candidates(
    section: Section, token: Token, claims: Mapping[str, JSONValue], estimate: TokenEstimate
) -> list[Candidate]:
    """Our claims in the token as the shedder sees them (suppressed ones take no room)."""
    rules = {rule.claim: rule for rule in section.rules if token in rule.tokens}
    candidates = []
    for name in estimate.added:
        if name in estimate.suppressed:
            continue
        rule = rules.get(name)
        sheddable = (
            rule is not None
            and not rule.required
            and name in claims
            and not _granted(section, token, name, claims[name])
        )
        priority = rule.priority if rule is not None else 0
        candidates.append(Candidate(name, estimate.saving(name), priority, sheddable))
    return candidates


def fit_tokens(
    event: Mapping[str, Any],
    decoded: Event,
    claims: ClaimSet,
    section: Section,
    *,
    shape: Shape,
    machine: bool,
    budgets: tuple[int, int],
) -> Fitted:
    """Build the `response` for `claims`, each budgeted token fitted to its budget.

    Parameters
    ----------
    event
        The raw event (the user attributes and scopes as Cognito holds them).
    decoded
        The decoded event.
    claims
        What the mapping applied (grants included).
    section
        The mapping's section that gave `claims`: which rule each claim came from.
    shape, machine
        As `shared.response.build_response` takes them.
    budgets
        `ID_TOKEN_MAX_BYTES` and `ACCESS_TOKEN_MAX_BYTES`; 0 is off (that token is not sized).
    """
    answer = _Answer(event, decoded, shape, machine, section.holds_floats)
    issued = answer.issued(claims)
    id_budget, access_budget = budgets
    sizes: dict[str, int] = {}
    # V1 reaches the ID token only; a machine client gets an access token only.
    if id_budget and not machine:
        sizes["id"] = issued.id_bytes()
    if access_budget and shape == "v2":
        sizes["access"] = issued.access_bytes()
    if sizes.get("id", 0) <= id_budget and sizes.get("access", 0) <= access_budget:
        return Fitted(response=issued.response, claims=claims, token_bytes=sizes)
    return _shed(answer, claims, section, issued, sizes, budgets=budgets)


class _Answer(NamedTuple):
    """What the `response` is built from, besides the claims."""

    event: Mapping[str, Any]
    decoded: Event
    shape: Shape
    machine: bool
    floats: bool

    def issued(self, claims: ClaimSet) -> Issued:
        """The answer for `claims`, as Cognito reads it."""
        response = build_response(self.decoded, claims, self.shape, machine=self.machine)
        return Issued(self.event, self.decoded, response, floats=self.floats)


def _shed(
    answer: _Answer,
    claims: ClaimSet,
    section: Section,
    issued: Issued,
    sizes: dict[str, int],
    *,
    budgets: tuple[int, int],
) -> Fitted:
    """Past a budget: shed what fits the token to it, or name the token as over budget."""
    shed: dict[Token, tuple[str, ...]] = {}
    over: list[Token] = []
    tokens: tuple[tuple[Token, int], ...] = (("id", budgets[0]), ("access", budgets[1]))
    for token, budget in tokens:
        if sizes.get(token, 0) <= budget:
            continue
        estimate = _estimate(token, issued)
        own = claims.id_claims if token == "id" else claims.access_claims
        candidates = _candidates(section, token, own, estimate)
        plan = plan_shedding(estimate.payload, budget, candidates, token_length)
        if plan.fits:
            shed[token] = plan.shed
        else:
            over.append(token)
    if shed:
        claims = _without(claims, shed)
        issued = answer.issued(claims)
        if "id" in shed:
            sizes["id"] = issued.id_bytes()
        if "access" in shed:
            sizes["access"] = issued.access_bytes()
    return Fitted(
        response=issued.response, claims=claims, token_bytes=sizes, over_budget=tuple(over)
    )


def _without(claims: ClaimSet, shed: Mapping[Literal["id", "access"], tuple[str, ...]]) -> ClaimSet:
    """`claims` less the shed claims, each named in `dropped`."""
    id_shed = shed.get("id", ())
    access_shed = shed.get("access", ())
    return msgspec.structs.replace(
        claims,
        id_claims={k: v for k, v in claims.id_claims.items() if k not in id_shed},
        access_claims={k: v for k, v in claims.access_claims.items() if k not in access_shed},
        dropped=(
            *claims.dropped,
            *((name, OVER_TOKEN_BUDGET) for name in (*id_shed, *access_shed)),
        ),
    )
