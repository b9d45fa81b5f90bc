"""Key templates: `USER#{userName}`, `CLIENT#{clientId}`, `TENANT#{item.tenant_id}`, `PROFILE`.

A template is parsed once at init into literal and placeholder parts, so rendering a key per
invocation is a join. The placeholders a template may use depend on where it sits (`KeyUse`):

- event values, anywhere: `{userName}`, `{sub}`, `{clientId}`, `{userPoolId}`;
- `{item.<dotted.path>}`, a string or number attribute of the primary item: related keys only;
- `{clientMetadata.<key>}`, an allowlisted `clientMetadata` value: related and query keys only
  (and, checked by the mapping loader, only beside the principal's own id in the same key).

Which template applies to an event is the plan's decision (the principal, chosen once). Pure:
no I/O, no logging.
"""

import string
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Final, Literal

from shared.errors import ConfigError
from shared.event import Event
from shared.values import JSONValue, lookup_path, number_text

__all__ = ("MAX_METADATA_CHARS", "PLACEHOLDERS", "KeyTemplate", "KeyUse", "read_metadata")

KeyUse = Literal["primary", "related", "query"]
"""Where a template sits: the primary item's key, a related item's key, or a query's key."""

MAX_METADATA_CHARS: Final = 256
"""A `clientMetadata` value longer than this is ignored (never an error)."""


def _user_name(event: Event) -> str | None:
    return event.user_name


def _sub(event: Event) -> str | None:
    return event.sub


def _client_id(event: Event) -> str | None:
    return event.client_id


def _user_pool_id(event: Event) -> str | None:
    return event.user_pool_id


PLACEHOLDERS: Final[dict[str, Callable[[Event], str | None]]] = {
    "userName": _user_name,
    "sub": _sub,
    "clientId": _client_id,
    "userPoolId": _user_pool_id,
}
"""Event placeholders a key template may use, each with how it is read from the event."""

_ITEM: Final = "item."
_METADATA: Final = "clientMetadata."
_Part = str | tuple[Literal["event", "item", "metadata"], str | tuple[str, ...]]


class KeyTemplate:
    """A key template parsed once, for one place (`use`).

    Attributes
    ----------
    template
        The template as written.
    event_names
        The event placeholders it uses.
    metadata_keys
        The `clientMetadata` keys it reads.
    item_attributes
        The top-level primary-item attributes it reads (they must be projected).
    literal_prefix
        The literal text before its first placeholder (`USER#` in `USER#{userName}`).
    """

    __slots__ = (
        "_event_only",
        "_parts",
        "event_names",
        "item_attributes",
        "literal_prefix",
        "metadata_keys",
        "template",
    )

    def __init__(self, where: str, template: str, *, use: KeyUse = "primary") -> None:
        """Parse `template`; `where` names it in errors (`USER_KEY`, `file: user.item.key.pk`).

        Raises
        ------
        ConfigError
            A placeholder is unknown, malformed, or not allowed in this place.
        """
        self.template = template
        allowed = [f"`{{{name}}}`" for name in PLACEHOLDERS]
        if use == "related":
            allowed.append("`{item.<attribute>}`")
        if use != "primary":
            allowed.append("`{clientMetadata.<key>}`")
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ConfigError(
                f"`{where}` is not a valid key template ({exc}): `{template}`"
            ) from exc
        parts: list[_Part] = []
        for literal, field, spec, conversion in parsed:
            if literal:
                parts.append(literal)
            if field is None:
                continue
            part = _placeholder(field, use) if not (spec or conversion) else None
            if part is None:
                raise ConfigError(
                    f"`{where}` may only use the placeholders {', '.join(allowed)}, "
                    f"got `{{{field}}}` in `{template}`"
                )
            parts.append(part)
        self._parts = tuple(parts)
        self.event_names = frozenset(
            p[1] for p in parts if p[0] == "event" and isinstance(p, tuple)
        )
        self.metadata_keys = frozenset(
            p[1] for p in parts if isinstance(p, tuple) and p[0] == "metadata"
        )
        self.item_attributes = tuple(
            dict.fromkeys(p[1][0] for p in parts if isinstance(p, tuple) and p[0] == "item")
        )
        self.literal_prefix = parts[0] if parts and isinstance(parts[0], str) else ""
        # The common shape, `USER#{userName}`: literals around one event placeholder.
        placeholders = [p for p in parts if isinstance(p, tuple)]
        self._event_only: tuple[str, Callable[[Event], str | None], str] | None = None
        if len(placeholders) == 1 and placeholders[0][0] == "event":
            at = parts.index(placeholders[0])
            name = placeholders[0][1]
            if isinstance(name, str):
                before = "".join(p for p in parts[:at] if isinstance(p, str))
                after = "".join(p for p in parts[at + 1 :] if isinstance(p, str))
                self._event_only = (before, PLACEHOLDERS[name], after)

    def placeholders(self) -> tuple[str, ...]:
        """Its placeholders in order: `sub`, `userName`, ..., `clientMetadata.<key>`,
        `item.<path>`."""
        names: list[str] = []
        for part in self._parts:
            if isinstance(part, tuple):
                kind, name = part
                if kind == "event" and isinstance(name, str):
                    names.append(name)
                elif kind == "metadata" and isinstance(name, str):
                    names.append(_METADATA + name)
                elif isinstance(name, tuple):
                    names.append(_ITEM + ".".join(name))
        return tuple(names)

    def render(
        self,
        event: Event,
        item: Mapping[str, JSONValue] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Fill the template; None when a value is absent, empty, or of a type keys cannot hold."""
        if self._event_only is not None:
            before, read, after = self._event_only
            found = read(event)
            return before + found + after if found else None
        pieces: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            kind, name = part
            value: str | None
            if kind == "event" and isinstance(name, str):
                value = PLACEHOLDERS[name](event)
            elif kind == "item" and isinstance(name, tuple):
                value = _key_text(item, name)
            elif isinstance(name, str):
                value = metadata.get(name) if metadata is not None else None
            else:  # pragma: no cover - the parts are built above
                value = None
            if not value:
                return None
            pieces.append(value)
        return "".join(pieces)


def _placeholder(field: str, use: KeyUse) -> _Part | None:
    if field in PLACEHOLDERS:
        return ("event", field)
    if use == "related" and field.startswith(_ITEM):
        path = tuple(field.removeprefix(_ITEM).split("."))
        return ("item", path) if all(path) else None
    if use != "primary" and field.startswith(_METADATA) and field.removeprefix(_METADATA):
        return ("metadata", field.removeprefix(_METADATA))
    return None


def _key_text(item: Mapping[str, JSONValue] | None, path: tuple[str, ...]) -> str | None:
    """A string attribute as is, a number as its DynamoDB decimal text; anything else None."""
    value = lookup_path(item, path)
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return number_text(value)
    return None


def read_metadata(event: Event, allowed: Collection[str]) -> tuple[dict[str, str], int]:
    """The allowlisted `clientMetadata` values a key or condition may read, and how many were
    ignored (not a string, or longer than `MAX_METADATA_CHARS`; a `clientMetadata` that is not an
    object counts once). The client chooses these values: nothing else of them is ever read.
    """
    raw = event.request.client_metadata if event.request is not None else None
    if not allowed or raw is None:
        return {}, 0
    if not isinstance(raw, dict):
        return {}, 1
    values: dict[str, str] = {}
    ignored = 0
    for key in allowed:
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, str) and len(value) <= MAX_METADATA_CHARS:
            values[key] = value
        else:
            ignored += 1
    return values, ignored
