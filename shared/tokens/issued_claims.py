"""What an answer was issued with after the token budgets: its claims, each token's size.

`IssuedClaims` is what the trigger keeps of an answer besides its `response`: what a `Fitted`
answer carries (with no budget set, the claims alone), and what `shared.answer_memo`
remembers. Pure data.
"""

from typing import NamedTuple, TypeAlias

from shared.claims import ClaimSet, Token

__all__ = ("IssuedClaims", "TokenSizes")

TokenSizes: TypeAlias = tuple[tuple[Token, int], ...]
"""Each budgeted token's estimated size, in order: `(("id", 1834), ("access", 1201))`."""


class IssuedClaims(NamedTuple):
    """The claims an answer was issued with, after the token budgets (what `Fitted` holds
    besides the response, and what `shared.answer_memo` remembers).

    Parameters
    ----------
    claims
        The claim set less what was shed (`dropped` names each).
    token_bytes
        Each budgeted token's estimated size; None with the budgets off.
    over_budget
        The budgeted tokens that do not fit even with every sheddable claim shed.
    """

    claims: ClaimSet
    token_bytes: TokenSizes | None = None
    over_budget: tuple[str, ...] = ()
