"""Which claims to shed so that a token fits its budget: lowest priority first, the largest first.

One token at a time. Sizes are `shared.tokens.writers.Forms` vectors (the payload's bytes in
each form a writer may give it), shed exactly: `TokenEstimate.payload` less each candidate's
`TokenEstimate.saving`, measured by `token_length`, is the estimate of the token without those
claims. Suppression comes first: a suppressed claim takes no bytes and is no candidate.
`required` rules and static claims are candidates that may not be shed. A token that still does
not fit with every sheddable claim shed keeps them shed (`fits` false: as small as its rules let
it be): the caller issues it and counts it (`TokenOverBudget`), since denying a sign-in over a
size is worse than a big token.
Pure: no I/O.
"""

from collections.abc import Callable, Iterable, Sequence

import msgspec

__all__ = ("Candidate", "Shedding", "plan_shedding")


class Candidate(msgspec.Struct, frozen=True):
    """A claim the token carries, as the shedder sees it."""

    name: str
    saving: Sequence[int]
    """What leaving it out takes off the payload in each form (`TokenEstimate.saving`)."""
    priority: int = 0
    """The rule's `priority`: the lowest is shed first."""
    sheddable: bool = True
    """False for a `required` rule's claim and for a static claim: never shed."""


class Shedding(msgspec.Struct, frozen=True):
    """What to shed, in order, and the token's size after it."""

    shed: tuple[str, ...]
    """Names to leave out of the token, in the order they were picked; empty when it fits as
    it is; every sheddable one when it cannot fit."""
    size: int
    """The token's size after shedding (as it is when nothing is shed)."""
    fits: bool
    """Whether `size` is within the budget; false: over budget even with every candidate shed."""


def _order(candidate: Candidate) -> tuple[int, int, str]:
    return candidate.priority, -max(candidate.saving), candidate.name


def plan_shedding(
    payload: Sequence[int],
    budget: int,
    candidates: Iterable[Candidate],
    length: Callable[[tuple[int, ...]], int],
) -> Shedding:
    """Pick the claims to shed until the token's `length` fits `budget`, or none is left.

    Sheddable candidates that save bytes in every form are taken lowest `priority` first,
    ties the largest (its saving in its wordiest form) first, then by name, so the choice
    never depends on the order given, until the token fits. A claim whose shedding would save
    nothing somewhere (an override shorter than Cognito's own value) is never shed.

    Parameters
    ----------
    payload
        The payload's size in each form now (`TokenEstimate.payload`).
    budget
        The most the token may be, in the unit `length` gives (`ID_TOKEN_MAX_BYTES`).
    candidates
        The claims that could be shed: our additions, suppressed ones left out.
    length
        The token's size for a payload vector (`shared.tokens.cognito.token_length`).

    Raises
    ------
    ValueError
        Two candidates with one name (a token holds a claim once), or a saving with another
        number of forms than `payload`.
    """
    current = tuple(payload)
    size = length(current)
    if size <= budget:
        return Shedding((), size, True)
    pool = list(candidates)
    names = [candidate.name for candidate in pool]
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"claims named more than once: {duplicated}")
    if any(len(candidate.saving) != len(current) for candidate in pool):
        raise ValueError(f"every saving must have {len(current)} forms, as the payload has")
    shed: list[str] = []
    for candidate in sorted(
        (c for c in pool if c.sheddable and min(c.saving) > 0),
        key=_order,
    ):
        shed.append(candidate.name)
        current = tuple(a - b for a, b in zip(current, candidate.saving, strict=True))
        after = length(current)
        if after <= budget:
            return Shedding(tuple(shed), after, True)
    return Shedding(tuple(shed), length(current), False)
