"""Each token fitted to its budget: the answer built, each budgeted token estimated, and shed.

`fit_tokens` is the one place the token budgets (`ID_TOKEN_MAX_BYTES`, `ACCESS_TOKEN_MAX_BYTES`)
decide anything. It builds the `response`, estimates each budgeted token as Cognito will issue it
from the event and that response (`shared.tokens.issued`: V1's strings, the final groups and
scopes), and only for a token past its budget sizes each claim of ours exactly and sheds
(`shared.tokens.shed`): the claims the rules take from the data, lowest `priority` first (ties:
the largest first). Never shed: a `required` rule's claim, a static claim, a grant's claim (the
mapping's own statics; a rule's claim a grant holding the same value may have set counts as the
grant's). Suppression comes first: a suppressed claim takes no budget and is no candidate. A
token that still does not fit with every candidate shed is issued so (as small as its rules let
it be) and named in `over_budget`. Each shed claim is named in `dropped` with reason
`over_token_budget`.

`Fitter` is `fit_tokens` for one container's budgets that remembers, per user and app client,
the last answer it fitted: what the fit decided is a pure function of the event's parts it reads
and of the answer, so it is keyed by their exact JSON text (orjson), and an answer whose text
did not change (the same user again, the same attributes, items read anew) pays for that text
instead of the estimates. (The same sign-in on the same cached items does not reach it:
`shared.answer_memo` gives its claims again.) Pure but for that memory: no I/O.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, Literal, NamedTuple

import msgspec
import orjson

from shared.claims import ClaimSet, Section, Token
from shared.event import Event
from shared.response import Shape, build_response
from shared.tokens.cognito import access_token_claims, id_token_claims, token_length
from shared.tokens.issued import Issued
from shared.tokens.issued_claims import TokenSizes
from shared.tokens.shed import Candidate, plan_shedding
from shared.tokens.size import TokenEstimate, estimate_token
from shared.values import JSONValue

__all__ = ("OVER_TOKEN_BUDGET", "REMEMBERED_USERS", "Fitted", "Fitter", "fit_tokens")

OVER_TOKEN_BUDGET: Final = "over_token_budget"
"""The reason a shed claim is dropped with."""


REMEMBERED_USERS: Final = 4096
"""`Fitter`'s most users: a user costs the JSON text of its answer (1.2 KB for the reference
mapping's), so about 5 MB for answers of that size."""


class Fitted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer with each budgeted token fitted.

    Parameters
    ----------
    response
        The `response` object, built from `claims`.
    claims
        The claim set less what was shed; its `dropped` names each shed claim.
    token_bytes
        Each budgeted token's estimated size after shedding, in order: `(("id", 1834),
        ("access", 1201))` (immutable: a `Fitter` hands each answer it remembers the same).
    over_budget
        The budgeted tokens that do not fit even with every sheddable claim shed (issued so).
    """

    response: dict[str, JSONValue]
    claims: ClaimSet
    token_bytes: TokenSizes
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
    return _fit(answer, claims, section, answer.response(claims), budgets)[0]


class Fitter:
    """`fit_tokens` with one container's budgets, remembering each user's last fitted answer.

    Parameters
    ----------
    budgets
        `ID_TOKEN_MAX_BYTES` and `ACCESS_TOKEN_MAX_BYTES`; 0 is off.
    capacity
        Users (per app client) remembered; past it the oldest is forgotten. 0 remembers none.

    The key is the exact JSON text of what the fit reads besides the section and the budgets:
    the trigger source, whether a machine client's, the request's user attributes and scopes
    (and groups, where the answer has none of its own), the `response` built for the claims
    and, for V1 (whose response holds strings), the ID token's claims as the rules gave them;
    the pool, the app client and the user name pick the entry. The same text is the same fit,
    so a remembered answer is never stale: a changed attribute, group or claim is a new key.
    An answer orjson cannot write (an integer past 64 bits, anything but plain JSON values) is
    fitted every time; an exact Decimal is written as its text after a `d`, which no other
    value's text is. The oldest remembered user is forgotten first, however often it was used.
    """

    __slots__ = ("_budgets", "_capacity", "_memo")

    def __init__(self, budgets: tuple[int, int], *, capacity: int = REMEMBERED_USERS) -> None:
        self._budgets = budgets
        self._capacity = capacity
        self._memo: dict[tuple[str | None, str | None, str | None], _Remembered] = {}

    def __len__(self) -> int:
        """Answers remembered."""
        return len(self._memo)

    def fit(
        self,
        event: Mapping[str, Any],
        decoded: Event,
        claims: ClaimSet,
        section: Section,
        *,
        shape: Shape,
        machine: bool,
    ) -> Fitted:
        """What `fit_tokens` gives with this fitter's budgets, from memory when it can."""
        response = build_response(decoded, claims, shape, machine=machine)
        key = None
        if self._capacity:
            key = _key(event, decoded, claims, response, shape=shape, machine=machine)
        memo = self._memo
        user = (decoded.user_pool_id, decoded.client_id, decoded.user_name)
        remembered = memo.get(user) if key is not None else None
        if remembered is not None and remembered.key == key and remembered.section is section:
            decision = remembered.decision
            if decision.shed:  # shed as it was
                claims = _without(claims, dict(decision.shed))
                response = build_response(decoded, claims, shape, machine=machine)
            return Fitted(
                response=response,
                claims=claims,
                token_bytes=decision.sizes,
                over_budget=decision.over,
            )
        answer = _Answer(event, decoded, shape, machine, section.holds_floats)
        fitted, decision = _fit(answer, claims, section, response, self._budgets)
        if key is not None:
            if remembered is not None:
                del memo[user]  # the newest goes last: the oldest is forgotten first
            elif len(memo) >= self._capacity:
                del memo[next(iter(memo))]
            memo[user] = _Remembered(key, section, decision)
        return fitted


def _key(
    event: Mapping[str, Any],
    decoded: Event,
    claims: ClaimSet,
    response: dict[str, JSONValue],
    *,
    shape: Shape,
    machine: bool,
) -> bytes | None:
    """The exact text of what a fit reads from the event and the answer; None: not writable.

    Only plain JSON values have a key, as an event decoded from JSON holds: a subclass of one
    (an `OrderedDict`, a `str` subclass) or a tuple of scopes has none, since the fit tells
    them apart by type where orjson would write them alike.
    """
    request = event.get("request")
    if type(request) is not dict:
        request = _NO_REQUEST
    scopes = request.get("scopes")
    if scopes is not None and type(scopes) is not list:
        return None
    # The request's groups count only where the answer has none of its own (as `Issued` reads
    # it): a user's answer always has them (`build_response` copies them in).
    (details,) = response.values()
    override = details.get("groupOverrideDetails") if type(details) is dict else None
    groups = None if type(override) is dict else request.get("groupConfiguration")
    try:
        return orjson.dumps(
            (
                decoded.trigger_source,
                machine,
                request.get("userAttributes"),
                scopes,
                groups,
                response,
                claims.id_claims if shape == "v1" else None,
            ),
            default=_decimal,
            option=orjson.OPT_PASSTHROUGH_SUBCLASS,
        )
    except TypeError:  # orjson.JSONEncodeError: an integer past 64 bits, a key not a string
        return None


def _decimal(value: object) -> orjson.Fragment:
    """An exact number as `d<its text>`: no JSON value is written so, so no other value's key
    is the same (`1.5` is a float's)."""
    if type(value) is Decimal:
        return orjson.Fragment(b"d" + str(value).encode())
    raise TypeError  # anything else (a subclass of a JSON type): no key


_NO_REQUEST: Final[Mapping[str, Any]] = {}


class _Decision(NamedTuple):
    """What fitting one answer decided, to fit the same answer again without estimating."""

    sizes: TokenSizes
    shed: tuple[tuple[Token, tuple[str, ...]], ...]
    over: tuple[Token, ...]


class _Remembered(NamedTuple):
    key: bytes
    section: Section
    decision: _Decision


class _Answer(NamedTuple):
    """What the `response` is built from, besides the claims."""

    event: Mapping[str, Any]
    decoded: Event
    shape: Shape
    machine: bool
    floats: bool

    def response(self, claims: ClaimSet) -> dict[str, JSONValue]:
        """The `response` object for `claims`."""
        return build_response(self.decoded, claims, self.shape, machine=self.machine)

    def issued(self, response: dict[str, JSONValue]) -> Issued:
        """The answer `response`, as Cognito reads it."""
        return Issued(self.event, self.decoded, response, floats=self.floats)


def _fit(
    answer: _Answer,
    claims: ClaimSet,
    section: Section,
    response: dict[str, JSONValue],
    budgets: tuple[int, int],
) -> tuple[Fitted, _Decision]:
    """Size each budgeted token of `response` (the answer for `claims`); shed past a budget."""
    issued = answer.issued(response)
    id_budget, access_budget = budgets
    sizes: dict[Token, int] = {}
    # V1 reaches the ID token only; a machine client gets an access token only.
    if id_budget and not answer.machine:
        sizes["id"] = issued.id_bytes()
    if access_budget and answer.shape == "v2":
        sizes["access"] = issued.access_bytes()
    if sizes.get("id", 0) <= id_budget and sizes.get("access", 0) <= access_budget:
        fitted = Fitted(response=response, claims=claims, token_bytes=tuple(sizes.items()))
        return fitted, _Decision(fitted.token_bytes, (), ())
    return _shed(answer, claims, section, issued, sizes, budgets=budgets)


def _shed(
    answer: _Answer,
    claims: ClaimSet,
    section: Section,
    issued: Issued,
    sizes: dict[Token, int],
    *,
    budgets: tuple[int, int],
) -> tuple[Fitted, _Decision]:
    """Past a budget: shed what fits the token to it, or all there is and name it over budget."""
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
        if plan.shed:
            shed[token] = plan.shed
        if not plan.fits:
            over.append(token)
    response = issued.response
    if shed:
        claims = _without(claims, shed)
        response = answer.response(claims)
        issued = answer.issued(response)
        if "id" in shed:
            sizes["id"] = issued.id_bytes()
        if "access" in shed:
            sizes["access"] = issued.access_bytes()
    fitted = Fitted(
        response=response,
        claims=claims,
        token_bytes=tuple(sizes.items()),
        over_budget=tuple(over),
    )
    return fitted, _Decision(fitted.token_bytes, tuple(shed.items()), fitted.over_budget)


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
