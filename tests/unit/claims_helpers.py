"""Test helpers: the claim mapping applied the way the older unit tests call it.

`apply_mapping` runs `shared.claims.engine` (the one entry) on a section without its grants, for
an event that carries only the app client id, and insists on a claim set.
"""

import msgspec

from shared.claims import ClaimSet, Section, apply
from shared.config import DEFAULT_CLAIMS_BUDGET_BYTES
from shared.event import CallerContext, Event
from shared.values import Item

__all__ = ("apply_mapping", "event_for")


def event_for(client_id: str | None = None) -> Event:
    """A decoded event carrying only the app client id."""
    return Event(caller_context=CallerContext(client_id=client_id))


def apply_mapping(
    section: Section,
    item: Item,
    client_id: str | None = None,
    *,
    sources: dict[str, Item | list[Item] | None] | None = None,
    budget: int = DEFAULT_CLAIMS_BUDGET_BYTES,
) -> ClaimSet:
    """The section's own claims (no grant) for `item`, as the app client `client_id` gets them."""
    result = apply(
        msgspec.structs.replace(section, grants=()),
        event_for(client_id),
        item,
        sources=sources,
        budget=budget,
    )
    assert isinstance(result, ClaimSet)
    return result
