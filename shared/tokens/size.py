"""How many bytes a token will take once Cognito has issued it, estimated in every form.

`estimate_token` sizes a payload (Cognito's claims, `shared.tokens.cognito`, with ours added and
the suppressions applied) in each form a writer may give it (`shared.tokens.writers.FORMS`), and
`TokenEstimate.saving` gives what leaving one of our claims out takes off each form, exactly, for
the shedder (`shared.tokens.shed`). It is the reference: the invocation's path sizes only the
longest form, faster, to the same byte (`shared.tokens.issued`). Pure: no I/O.

The estimate is never below the token Cognito issues, and equal to the longest form for the
worst `kid` (`tests/unit/test_token_size.py` signs real RS256 tokens to show it); where it errs,
and by how much, is in the docstrings of `writers` and `cognito` and in the README.
"""

from collections.abc import Collection, Mapping
from typing import Final

import msgspec

from shared.tokens.cognito import token_chars
from shared.tokens.writers import (
    FORMS,
    Forms,
    claim_forms,
    encode,
    escapes,
    has_inexact,
    numbers_in,
    spread,
)
from shared.values import JSONValue

__all__ = ("TokenEstimate", "estimate_token")

_ZEROS: Final = (0,) * len(FORMS)


class TokenEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """One token's estimated size, with what it was built from (for `saving`)."""

    token_bytes: int
    """The encoded token's length (header, payload, signature, two dots): the longest of the
    forms, with the worst `kid`."""
    payload: Forms
    """The payload's bytes in each form (`FORMS`)."""
    cognito: Mapping[str, JSONValue]
    """Cognito's claims ours may override."""
    added: Mapping[str, JSONValue]
    suppressed: Collection[str]

    def saving(self, name: str) -> Forms:
        """What the payload loses in each form when our claim `name` is not added: exact.

        Zeros for a name we do not add or that is suppressed (it takes no bytes). Not adding a
        claim that overrides one of Cognito's brings Cognito's value back, so a saving may be
        negative. `token_length(payload less the savings of the claims left out)` is exactly
        the estimate of the token without them.
        """
        if name not in self.added or name in self.suppressed:
            return _ZEROS
        ours = claim_forms(name, self.added[name])
        if name not in self.cognito:
            return ours
        theirs = claim_forms(name, self.cognito[name])
        return tuple(a - b for a, b in zip(ours, theirs, strict=True))


def estimate_token(
    cognito: Mapping[str, JSONValue],
    added: Mapping[str, JSONValue],
    suppressed: Collection[str] = (),
) -> TokenEstimate:
    """Estimate a token: Cognito's claims, ours added or overriding, then the suppressions.

    Parameters
    ----------
    cognito
        Cognito's own claims (`id_token_claims`, `access_token_claims`): no float or Decimal
        in them, so only `added` is searched for numbers a writer may change.
    added
        Our claims for this token as they will reach it (`claimsToAddOrOverride`): plain JSON
        values; in V1, the strings the response sends.
    suppressed
        Claims suppressed (`claimsToSuppress`): suppression wins over an addition, and a
        suppressed claim takes no bytes.

    Raises
    ------
    TypeError
        A value that is not a plain JSON value.
    """
    payload = {**cognito, **added}
    for name in suppressed:
        payload.pop(name, None)
    text = encode(payload)
    size = len(text)
    smart, ascii_only, html_safe = escapes(text)
    ours = [added[name] for name in added if name in payload]  # ours that reach the token
    numbers = numbers_in(ours) if has_inexact(ours) else (0, 0)
    writers = (size + smart, size + ascii_only, size + html_safe)
    return TokenEstimate(
        token_bytes=token_chars(writers, max(numbers)),
        payload=spread(writers, numbers),
        cognito=cognito,
        added=added,
        suppressed=suppressed,
    )
