"""Key templates: `USER#{userName}` for users, `CLIENT#{clientId}` for machine clients.

Templates are parsed once at init into literal and placeholder parts, so rendering a key per
invocation is a join. Which template applies is the plan's decision (`shared.deps.Principal`).
Pure: no I/O, no logging.
"""

import string
from collections.abc import Callable
from typing import Final

from shared.errors import ConfigError
from shared.models import Event

__all__ = ("PLACEHOLDERS", "KeyTemplate")

_MAX_KEY_BYTES: Final = 2048
"""DynamoDB's limit on a partition key value; a longer key can never match an item."""


def _user_name(event: Event) -> str | None:
    return event.user_name


def _sub(event: Event) -> str | None:
    attributes = event.request.user_attributes if event.request else None
    return attributes.sub if attributes else None


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
"""Placeholders a key template may use, each with how it is read from the event."""


class KeyTemplate:
    """A key template such as `USER#{userName}`, parsed once."""

    __slots__ = ("_parts", "template")

    def __init__(self, variable: str, template: str) -> None:
        """Parse `template`.

        Raises
        ------
        ConfigError
            A placeholder is unknown or malformed; the message names `variable`.
        """
        self.template = template
        accepted = ", ".join(f"`{{{name}}}`" for name in PLACEHOLDERS)
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ConfigError(
                f"`{variable}` is not a valid key template ({exc}): `{template}`"
            ) from exc
        parts: list[str | Callable[[Event], str | None]] = []
        for literal, field, spec, conversion in parsed:
            if literal:
                parts.append(literal)
            if field is None:
                continue
            if field not in PLACEHOLDERS or spec or conversion:
                raise ConfigError(
                    f"`{variable}` may only use the placeholders {accepted}, got `{{{field}}}` "
                    f"in `{template}`"
                )
            parts.append(PLACEHOLDERS[field])
        if not any(callable(part) for part in parts):
            raise ConfigError(
                f"`{variable}` must contain a placeholder ({accepted}), got `{template}`: "
                "every user would share one item"
            )
        self._parts = tuple(parts)

    def render(self, event: Event) -> str | None:
        """Fill the template from `event`; None when a placeholder's value is absent or empty."""
        pieces: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                pieces.append(part)
                continue
            value = part(event)
            if not value:
                return None
            pieces.append(value)
        key = "".join(pieces)
        if len(key.encode()) > _MAX_KEY_BYTES:
            return None
        return key
