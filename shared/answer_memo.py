"""Each user's last answer, given again when the same sign-in comes back on the same items.

What the mapping and the token budgets decide (`shared.claims.apply`, then `shared.tokens`
fitting it) is a pure function of the event, of the items the lookup read and of the
container's mapping and settings: the same event on the same items is the same answer.
`AnswerMemo` remembers, per user pool, app client, user name and trigger source (a sign-in and
a refresh each keep theirs), the last answer (its `response` and its `IssuedClaims`) with what
it was made from, and gives it again only when all of it is the same:

- every event field `shared.event` decodes, written by `marshal`, which writes each value with
  its exact type (`True`, `1` and `1.0`, `0.0` and `-0.0`, NaN and None, a tuple and a list are
  all different bytes), so the same bytes are the same values, type for type. Only an event of
  plain JSON values is remembered (orjson must write it: no subclass, `Decimal`, bytes-like
  value, which `marshal` writes alike whatever its type, or integer past 64 bits), and an event
  whose bytes equal a remembered one's holds the same types, so it is plain too;
- the mapping's section and the items themselves, compared by identity: the cache hands out the
  object it holds, and a profile read again from the store is a new object, so a refreshed
  item is a new answer (objects held here are never reused for another).

Each recall reads the remembered `response` back from its JSON text, so every answer is new
objects; an answer orjson cannot write exactly (a `Decimal`, an integer past 64 bits) is not
remembered (`shared.response` makes every answer's lists plain JSON ones). The log line and its
metrics are written as for any other. The least recently used answer is forgotten first. Pure
but for that memory: no I/O.
"""

import marshal
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson

from shared.claims import Section
from shared.event import Event
from shared.lookup import Profile
from shared.tokens import IssuedClaims
from shared.values import JSONValue

__all__ = ("EVENT_FIELDS", "REMEMBERED_ANSWERS", "AnswerInputs", "AnswerMemo")

REMEMBERED_ANSWERS: Final = 4096
"""`AnswerMemo`'s most answers: each holds its event's bytes (about 1 KB for a published event),
its response's text and its claims, and keeps its items alive after the cache drops them."""

EVENT_FIELDS: Final = (
    "version",
    "triggerSource",
    "userPoolId",
    "userName",
    "callerContext",
    "request",
)
"""The event's fields an answer is made from: every one `shared.event.Event` decodes (the rest
are passed through as they come, never read)."""


class AnswerInputs(NamedTuple):
    """What one answer is made from, as `AnswerMemo` compares it (`recall` gives it)."""

    user: tuple[str | None, str | None, str | None, str | None]
    """The user pool, the app client, the user name and the trigger source: the entry."""
    written: bytes
    """The event's fields as `marshal` writes them."""
    fields: list[object]
    """The event's fields themselves (`EVENT_FIELDS`, in order)."""
    section: Section
    """The mapping's section the claims came from."""
    profile: Profile
    """What was read: the items compared by identity."""


class _Entry(NamedTuple):
    written: bytes
    section: Section
    primary: object
    sources: tuple[tuple[str, object], ...]
    response: bytes
    """The answer's `response`, as orjson writes it: read back afresh for each recall."""
    issued: IssuedClaims


class AnswerMemo:
    """Each user's last answer (`response` text and `IssuedClaims`), and what it was made from.

    Parameters
    ----------
    capacity
        Answers remembered (one per user pool, app client, user name and trigger source); past
        it the least recently used is forgotten. 0 remembers none.
    """

    __slots__ = ("_capacity", "_entries", "recalled")

    def __init__(self, capacity: int = REMEMBERED_ANSWERS) -> None:
        self._capacity = capacity
        self._entries: dict[tuple[str | None, str | None, str | None, str | None], _Entry] = {}
        self.recalled = 0
        """Answers given again (the mapping and the estimates skipped)."""

    def __len__(self) -> int:
        """Answers remembered."""
        return len(self._entries)

    def recall(
        self, event: Mapping[str, Any], decoded: Event, section: Section, profile: Profile
    ) -> tuple[tuple[dict[str, JSONValue], IssuedClaims] | None, AnswerInputs | None]:
        """`((response, claims), None)`: the answer remembered for this very sign-in (its
        `response` new objects, read back from its text); `(None, made)`: none, and what this
        one is made from, to `remember`; `(None, None)`: this event is never remembered."""
        if not self._capacity or type(event) is not dict:
            return None, None
        fields = [event.get(name) for name in EVENT_FIELDS]
        try:
            written = marshal.dumps(fields)
        except ValueError:  # a type marshal does not write: never remembered
            return None, None
        user = (decoded.user_pool_id, decoded.client_id, decoded.user_name, decoded.trigger_source)
        entries = self._entries
        entry = entries.get(user)
        if (
            entry is None
            or entry.written != written
            or entry.section is not section
            or entry.primary is not profile.primary
            or not _same(entry.sources, profile.sources)
        ):
            return None, AnswerInputs(user, written, fields, section, profile)
        del entries[user]  # the most recently used goes last: the least is forgotten first
        entries[user] = entry
        self.recalled += 1
        return (orjson.loads(entry.response), entry.issued), None

    def remember(
        self, made: AnswerInputs, response: dict[str, JSONValue], issued: IssuedClaims
    ) -> None:
        """Remember `response` and `issued` as this user's answer, made from `made` (unless its
        event or its response holds anything but plain JSON values)."""
        if not _plain(made.fields):
            return
        try:
            text = orjson.dumps(response, option=_PLAIN_ONLY)
        except TypeError:  # a Decimal, an integer past 64 bits: only its own objects will do
            return
        entries = self._entries
        if entries.pop(made.user, None) is None and len(entries) >= self._capacity:
            del entries[next(iter(entries))]
        profile = made.profile
        sources = tuple(profile.sources.items())
        entries[made.user] = _Entry(
            made.written, made.section, profile.primary, sources, text, issued
        )


_PLAIN_ONLY: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def _plain(fields: list[object]) -> bool:
    """Whether `fields` holds plain JSON values (and tuples) only: orjson writes those natively
    and refuses, with these options and no `default`, every other type (bytes, sets, subclasses,
    dataclasses, dates, integers past 64 bits)."""
    try:
        orjson.dumps(fields, option=_PLAIN_ONLY)
    except TypeError:  # orjson.JSONEncodeError
        return False
    return True


def _same(held: tuple[tuple[str, object], ...], sources: Mapping[str, object]) -> bool:
    """Whether `sources` holds the very objects `held` names, and no other."""
    if len(held) != len(sources):
        return False
    return all(name in sources and sources[name] is value for name, value in held)
