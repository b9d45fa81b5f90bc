"""Tokens that fit their transport: each token's encoded size, estimated, and fitted to a budget.

The curated surface of the sub-package. `fit_tokens` builds the answer with each token that has
a budget (`ID_TOKEN_MAX_BYTES`, `ACCESS_TOKEN_MAX_BYTES`) estimated as Cognito will issue it and,
past its budget, the claims the rules take from the data shed lowest `priority` first;
`Fitter` is the same for one container's budgets, remembering each user's last answer (an
answer whose text did not change is fitted from memory); `IssuedClaims` is what an answer was
issued with after the budgets; `token_sizes` sizes the tokens of a finished answer (`make invoke`,
`make size`).

Modules: `writers` (bytes of JSON as each writer Cognito may use writes it), `cognito` (Cognito's
own claims, the header and the signature), `size` (a token's estimate in every form, each
claim's share), `longest` (only the longest form: the invocation's way), `issued` (what Cognito
reads from the event and our response), `shed` (the shedding order), `fit` (the one place a
budget decides anything), `issued_claims` (what an answer was issued with).
"""

from shared.tokens.fit import OVER_TOKEN_BUDGET, REMEMBERED_USERS, Fitted, Fitter, fit_tokens
from shared.tokens.issued import token_sizes
from shared.tokens.issued_claims import IssuedClaims, TokenSizes

__all__ = (
    "OVER_TOKEN_BUDGET",
    "REMEMBERED_USERS",
    "Fitted",
    "Fitter",
    "IssuedClaims",
    "TokenSizes",
    "fit_tokens",
    "token_sizes",
)
