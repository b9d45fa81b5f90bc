"""Conditions: the compiled `when` of rules and grants, evaluated per event.

A `Condition` is one closure made at load over precomputed frozensets and key tuples, reading a
`Context`, which is built once per invocation from the decoded event and the primary item (app
client, trigger source, groups after the mapping's own `[user.groups]` override, requested
scopes, allowlisted `clientMetadata`, the user's attributes and identity). Pure: no I/O, no
logging; what a condition could get wrong is refused at load (`shared.claims.check`), and
`Condition` trusts what it is given.
"""

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Final

import msgspec

from shared.claims.from_event import UserCondition, UserFacts
from shared.event import Event
from shared.lookup import read_metadata
from shared.values import ABSENT, Item, lookup_path

__all__ = (
    "CONTEXT_PARTS",
    "EMPTY_CONTEXT",
    "Condition",
    "Context",
    "build_context",
    "compile_condition",
)

# Membership check kinds, in the order a condition evaluates them (clients first: cheapest).
_CLIENTS: Final = 0
_TRIGGER_SOURCES: Final = 1
_SCOPES_ANY: Final = 2
_GROUPS_ANY: Final = 3
_GROUPS_ALL: Final = 4
_GROUPS_NONE: Final = 5

_GROUP_KINDS: Final = frozenset({_GROUPS_ANY, _GROUPS_ALL, _GROUPS_NONE})

CONTEXT_PARTS: Final = frozenset({"groups", "scopes", "metadata", "item"})
"""Every part of a `Context` that takes work to gather (client and trigger source take none)."""

# How an `attribute_equals` value compares: strings to strings only, booleans to booleans only,
# numbers to numbers only (exactly, as decimals: never through a float's rounding).
_STRING: Final = 0
_BOOLEAN: Final = 1
_NUMBER: Final = 2


Expected = str | int | float | bool
"""A value `attribute_equals` may expect."""


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What conditions read, built once per invocation by `build_context`.

    Parameters
    ----------
    client_id
        The app client id (`callerContext.clientId`).
    trigger_source
        `triggerSource`, e.g. `TokenGeneration_RefreshTokens`.
    groups, group_list
        The user's groups after the mapping's `[user.groups]` override (never after a grant),
        as a set for conditions and in order for group edits.
    scopes
        The requested scopes (`request.scopes`; V2/V3 events only).
    item
        The primary item, or None when there is none.
    metadata
        Allowlisted `clientMetadata` keys holding a string of at most 256 characters.
    metadata_ignored
        Allowlisted `clientMetadata` values ignored (not a string, or too long).
    user
        The user's attributes and identity, parsed when first read (`UserCondition`).
    """

    client_id: str | None = None
    trigger_source: str | None = None
    groups: frozenset[str] = frozenset()
    group_list: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    item: Item | None = None
    metadata: dict[str, str] = {}
    metadata_ignored: int = 0
    user: UserFacts = UserFacts({})


class _Number(msgspec.Struct, frozen=True):
    """An expected number, precomputed in each form an item may hold it in."""

    exact: Decimal
    integer: int | None
    binary: float


def _number(value: int | float) -> _Number:
    exact = Decimal(repr(value))  # a TOML float by its shortest text: 0.1 is 0.1
    integer = int(exact) if exact == exact.to_integral_value() else None
    return _Number(exact, integer, float(value))


def _number_equals(expected: _Number, value: object) -> bool:
    # `type(...) is`, not isinstance: True and False are ints to Python, never numbers here.
    kind = type(value)
    if kind is int:
        return expected.integer is not None and value == expected.integer
    if kind is float:
        return value == expected.binary
    if kind is Decimal:
        return value == expected.exact
    return False


_Check = Callable[[Context], bool]
"""One compiled test over a `Context`."""


def _membership(kind: int, names: frozenset[str]) -> _Check:
    """A test of one membership key, bound to its set (no dispatch left for the event)."""
    disjoint = names.isdisjoint
    if kind == _CLIENTS:
        return lambda context: context.client_id in names
    if kind == _TRIGGER_SOURCES:
        return lambda context: context.trigger_source in names
    if kind == _SCOPES_ANY:
        return lambda context: not disjoint(context.scopes)
    if kind == _GROUPS_ANY:
        return lambda context: not disjoint(context.groups)
    if kind == _GROUPS_ALL:
        return lambda context: names.issubset(context.groups)
    return lambda context: disjoint(context.groups)  # _GROUPS_NONE


def _metadata(pairs: tuple[tuple[str, str], ...]) -> _Check:
    if len(pairs) == 1:
        ((key, wanted),) = pairs
        return lambda context: context.metadata.get(key) == wanted

    def check(context: Context) -> bool:
        metadata = context.metadata
        return all(metadata.get(key) == wanted for key, wanted in pairs)

    return check


def _getter(path: tuple[str, ...]) -> Callable[[Item], object]:
    """A read of one dotted path, unrolled for the common depths (one or two names)."""
    if len(path) == 1:
        (key,) = path
        return lambda item: item.get(key, ABSENT)
    if len(path) == 2:
        outer, inner = path

        def two(item: Item) -> object:
            value = item.get(outer)
            return value.get(inner, ABSENT) if isinstance(value, dict) else ABSENT

        return two
    return lambda item: lookup_path(item, path)


def _one_attribute(path: tuple[str, ...], how: int, expected: object) -> _Check:
    """One `attribute_equals` entry, bound to its path and expected value."""
    get = _getter(path)
    if how == _STRING:

        def string(context: Context) -> bool:
            item = context.item
            if item is None:
                return False
            value = get(item)
            return type(value) is str and value == expected

        return string
    if how == _BOOLEAN:
        return lambda context: context.item is not None and get(context.item) is expected
    number: _Number = expected  # type: ignore[assignment]  # the compiler made it one
    return lambda context: context.item is not None and _number_equals(number, get(context.item))


def _attributes(checks: tuple[tuple[tuple[str, ...], int, object], ...]) -> _Check:
    return _all([_one_attribute(path, how, expected) for path, how, expected in checks])


def _all(checks: list[_Check]) -> _Check:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:  # the common pair, without a loop
        first, second = checks
        return lambda context: first(context) and second(context)
    chain = tuple(checks)

    def check(context: Context) -> bool:
        return all(test(context) for test in chain)

    return check


class Condition:
    """A compiled `when`: every check must hold (built by `compile_condition`).

    `holds(context)` is one closure made at load from the checks below, which stay for
    comparison and introspection.

    Parameters
    ----------
    sets
        `(kind, names)` membership checks (clients, trigger sources, scopes, groups), cheapest
        first.
    metadata
        `(key, value)` pairs `clientMetadata` must hold.
    attribute_checks
        `(path, kind, expected)` triples the primary item must hold.
    user
        What the user's attributes and identity must hold, or None.
    """

    __slots__ = ("attribute_checks", "holds", "metadata", "sets", "user")

    def __init__(
        self,
        sets: tuple[tuple[int, frozenset[str]], ...] = (),
        metadata: tuple[tuple[str, str], ...] = (),
        attribute_checks: tuple[tuple[tuple[str, ...], int, object], ...] = (),
        user: UserCondition | None = None,
    ) -> None:
        checks = [_membership(kind, names) for kind, names in sets]
        if metadata:
            checks.append(_metadata(metadata))
        if user is not None:
            checks.append(lambda context: user.holds(context.user))
        if attribute_checks:
            checks.append(_attributes(attribute_checks))
        if not checks:
            raise ValueError("a condition needs at least one key")
        self.sets = sets
        self.metadata = metadata
        self.attribute_checks = attribute_checks
        self.user = user
        self.holds: _Check = _all(checks)
        """Whether every check holds for a `Context`."""

    def _key(self) -> tuple[object, ...]:
        return (self.sets, self.metadata, self.attribute_checks, self.user)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Condition(sets={self.sets!r}, metadata={self.metadata!r}, "
            f"attribute_checks={self.attribute_checks!r}, user={self.user!r})"
        )

    @property
    def attributes(self) -> tuple[str, ...]:
        """Top-level item attributes the condition reads (for the GetItem projection)."""
        return tuple(dict.fromkeys(path[0] for path, _, _ in self.attribute_checks))

    @property
    def parts(self) -> frozenset[str]:
        """The parts of the `Context` it reads: `groups`, `scopes`, `metadata`, `item`."""
        kinds = {kind for kind, _ in self.sets}
        parts = {"groups"} if kinds & _GROUP_KINDS else set()
        if _SCOPES_ANY in kinds:
            parts.add("scopes")
        if self.metadata:
            parts.add("metadata")
        if self.attribute_checks:
            parts.add("item")
        return frozenset(parts)

    @property
    def reads_item(self) -> bool:
        """Whether the condition reads the primary item (`attribute_equals`)."""
        return bool(self.attribute_checks)


def _expected(value: Expected) -> tuple[int, object]:
    if isinstance(value, bool):
        return _BOOLEAN, value
    if isinstance(value, str):
        return _STRING, value
    return _NUMBER, _number(value)


def compile_condition(
    *,
    clients: list[str] | None = None,
    trigger_sources: list[str] | None = None,
    groups_any: list[str] | None = None,
    groups_all: list[str] | None = None,
    groups_none: list[str] | None = None,
    scopes_any: list[str] | None = None,
    attribute_equals: dict[str, Expected] | None = None,
    metadata_equals: dict[str, str] | None = None,
    user: UserCondition | None = None,
) -> Condition:
    """Compile one `when` into precomputed checks (the loader has already validated it).

    Raises
    ------
    ValueError
        No condition key is given: a condition that always holds cannot be written.
    """
    sets: list[tuple[int, frozenset[str]]] = []
    for kind, names in (
        (_CLIENTS, clients),
        (_TRIGGER_SOURCES, trigger_sources),
        (_SCOPES_ANY, scopes_any),
        (_GROUPS_ANY, groups_any),
        (_GROUPS_ALL, groups_all),
        (_GROUPS_NONE, groups_none),
    ):
        if names is not None:
            sets.append((kind, frozenset(names)))
    metadata = tuple(metadata_equals.items()) if metadata_equals is not None else ()
    checks = tuple(
        (tuple(path.split(".")), *_expected(value))
        for path, value in (attribute_equals or {}).items()
    )
    return Condition(tuple(sets), metadata, checks, user)


EMPTY_CONTEXT: Final = Context()
"""An empty context: no client, no groups, no scopes, no item, no metadata."""


def build_context(
    event: Event,
    item: Item | None,
    *,
    group_override: list[str] | None = None,
    metadata_keys: Collection[str] = (),
    metadata: tuple[dict[str, str], int] | None = None,
    parts: frozenset[str] = CONTEXT_PARTS,
    user: UserFacts | None = None,
) -> Context:
    """Gather what conditions read from the decoded event and the primary item.

    Parameters
    ----------
    event
        The decoded event.
    item
        The primary item, or None.
    group_override
        The groups the mapping's `[user.groups]` override sets, or None to keep the request's.
    metadata_keys
        The allowlisted `clientMetadata` keys (`[request] client_metadata`); no other is read.
    metadata
        Those values already read (`shared.lookup.read_metadata`), so an invocation reads them
        once.
    parts
        The parts some condition (or group edit) reads (`Section.context_parts`); the others
        are left empty, never gathered.
    user
        The invocation's user facts, when the engine made them (one identity parse for rules
        and conditions); by default the event's own (nothing is parsed until read).
    """
    request = event.request
    groups: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    if "groups" not in parts:
        pass
    elif group_override is not None:
        groups = tuple(group_override)
    elif request is not None and request.group_configuration is not None:
        groups = tuple(request.group_configuration.groups_to_override or ())
    if "scopes" in parts and request is not None and request.scopes:
        scopes = frozenset(request.scopes)
    if metadata is None:
        metadata = read_metadata(event, metadata_keys)
    return Context(
        client_id=event.client_id,
        trigger_source=event.trigger_source,
        groups=frozenset(groups),
        group_list=groups,
        scopes=scopes,
        item=item,
        metadata=metadata[0],
        metadata_ignored=metadata[1],
        user=user if user is not None else UserFacts.of(event),
    )
