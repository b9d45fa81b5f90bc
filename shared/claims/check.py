"""Load-time checks of a mapping file: `Checker` collects every problem, each naming where.

The compiler (`shared.claims.compile`, `shared.claims.reads`) runs each part of the file past
these checks and raises one `ConfigError` listing everything found, so an operator fixes a file
in one round. A `when` is checked and compiled here too (`Checker.condition`), and every user
attribute the file reads is checked against its trust list (`Checker.trusted`).
"""

import math
from typing import Any, Final, Literal

import msgspec

from shared.claims.conditions import Condition, compile_condition
from shared.claims.file import WhenFile
from shared.claims.from_event import IDENTITIES, UserCondition
from shared.claims.guard import (
    NO_OBJECT_ID_CLAIMS,
    TRIGGER_SOURCES,
    Token,
    plain_problem,
    reserved_reason,
    scope_reason,
)
from shared.lookup import MAX_METADATA_CHARS
from shared.values import encode_json

__all__ = ("STATIC_CLAIMS_MAX_BYTES", "Checker", "SectionName", "listed", "metadata_alone")

STATIC_CLAIMS_MAX_BYTES: Final = 262_144
"""Most bytes of compact JSON the static claims of one token may take (256 KB)."""

SectionName = Literal["user", "client"]
"""Which section of the file: users, or machine clients."""

_MEMBERSHIP_FIELDS: Final = (
    "clients",
    "trigger_sources",
    "groups_any",
    "groups_all",
    "groups_none",
    "scopes_any",
    "providers_any",
)
_GROUP_FIELDS: Final = ("groups_any", "groups_all", "groups_none")
_USER_FIELDS: Final = ("providers_any", "federated", "user_attribute_equals")


def _user_condition(when: WhenFile) -> UserCondition | None:
    if when.providers_any is None and when.federated is None and not when.user_attribute_equals:
        return None
    return UserCondition(
        attributes=tuple((when.user_attribute_equals or {}).items()),
        federated=when.federated,
        providers=frozenset(when.providers_any) if when.providers_any is not None else None,
    )


def metadata_alone(when: WhenFile) -> bool:
    """Whether `when` reads `clientMetadata` without a fact of the principal beside it: an
    item's (`attribute_equals`) or a trusted user attribute's (`user_attribute_equals`, which
    the loader only accepts from `[request] user_attributes`)."""
    return bool(when.metadata_equals) and not (when.attribute_equals or when.user_attribute_equals)


def listed(names: list[str]) -> str:
    """`a`, `b`: names for a message."""
    return ", ".join(f"`{name}`" for name in names)


class Checker:
    """Collects every problem in a file, each naming where it is."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.user_attributes: frozenset[str] = frozenset()
        """The user attributes the file trusts (`[request] user_attributes`)."""

    def trusted(self, where: str, attribute: str) -> None:
        """A user attribute the file reads at `where`: it must be in the trust list."""
        if attribute not in self.user_attributes:
            self.problems.append(
                f"{where}: reads `{attribute}`, which is not listed in `[request] "
                "user_attributes` (list it once no app client can write it: `make audit-pool`)"
            )

    def claim(self, where: str, name: str, token: Token, value: Any = msgspec.UNSET) -> None:
        """A claim the file sets in `token`, with its value when the file gives one."""
        reason = reserved_reason(name, token)
        if reason:
            self.problems.append(f"{where}: claim `{name}` in the {token} token: {reason}")
        if token == "id" and name in NO_OBJECT_ID_CLAIMS and isinstance(value, dict | list):
            self.problems.append(f"{where}: `{name}` may not hold an object or array")
        if value is not msgspec.UNSET and (problem := plain_problem(value)):
            self.problems.append(f"{where}: `{name}`: {problem}")

    def static_size(self, where: str, static: dict[str, Any]) -> None:
        """Static claims of one token: at most `STATIC_CLAIMS_MAX_BYTES` of JSON."""
        try:
            size = len(encode_json(static))
        except TypeError:
            return  # a value that is no JSON at all: `claim` reports it
        if size > STATIC_CLAIMS_MAX_BYTES:
            self.problems.append(
                f"{where}: static claims take {size} bytes of JSON, more than the "
                f"{STATIC_CLAIMS_MAX_BYTES} allowed per token"
            )

    def granted_size(
        self, where: str, token: Token, static: dict[str, Any], grants: list[dict[str, Any]]
    ) -> None:
        """Static claims and every grant's claims of one token, together, at most
        `STATIC_CLAIMS_MAX_BYTES` of JSON: the worst case, where every grant holds (a claim
        set twice counts at its largest)."""
        entries: dict[str, int] = {}
        try:
            for claims in (static, *grants):
                for name, value in claims.items():
                    size = len(encode_json(name)) + 1 + len(encode_json(value))
                    entries[name] = max(entries.get(name, 0), size)
        except TypeError:
            return  # a value that is no JSON at all: `claim` reports it
        size = sum(entries.values()) + max(len(entries) - 1, 0) + 2
        if size > STATIC_CLAIMS_MAX_BYTES:
            self.problems.append(
                f"{where}: static and grant claims of the {token} token take up to {size} bytes "
                f"of JSON when every grant holds, more than the {STATIC_CLAIMS_MAX_BYTES} "
                "allowed per token"
            )

    def attribute(self, where: str, name: str | None) -> None:
        """An attribute name: non-empty, no surrounding whitespace."""
        if name is not None and (not name or name != name.strip()):
            self.problems.append(f"{where}: attribute names must be non-empty, got `{name!r}`")

    def names(self, where: str, field: str, names: list[str] | None) -> None:
        """A list of group, client, scope or trigger-source names: non-empty, each trimmed."""
        if names is None:
            return
        if not names:
            self.problems.append(f"{where}: `{field}` must not be empty (leave it out instead)")
        for name in names:
            if not name or name != name.strip():
                self.problems.append(f"{where}: `{field}` holds a blank or padded name `{name!r}`")

    def condition(
        self, where: str, when: WhenFile | None, section: SectionName, allowed: frozenset[str]
    ) -> Condition | None:
        """Check one `when` and compile it; None when absent or invalid.

        `allowed` holds the `clientMetadata` keys `[request] client_metadata` lists.
        """
        if when is None:
            return None
        where = f"{where}.when"
        before = len(self.problems)
        for field in _MEMBERSHIP_FIELDS:
            self.names(where, field, getattr(when, field))
        for field in ("attribute_equals", "metadata_equals", "user_attribute_equals"):
            values = getattr(when, field)
            if values is not None and not values:
                self.problems.append(f"{where}: `{field}` must not be empty (leave it out instead)")
        if all(value is None for value in msgspec.structs.astuple(when)):
            self.problems.append(f"{where}: a condition needs at least one key")
        self._memberships(where, when, section)
        self._values(where, when, allowed)
        self._user(where, when, section)
        if len(self.problems) > before:
            return None
        return compile_condition(
            clients=when.clients,
            trigger_sources=when.trigger_sources,
            groups_any=when.groups_any,
            groups_all=when.groups_all,
            groups_none=when.groups_none,
            scopes_any=when.scopes_any,
            attribute_equals=when.attribute_equals,
            metadata_equals=when.metadata_equals,
            user=_user_condition(when),
        )

    def _user(self, where: str, when: WhenFile, section: SectionName) -> None:
        """`providers_any`, `federated`, `user_attribute_equals`: trusted attributes only."""
        if section == "client":
            for field in _USER_FIELDS:
                if getattr(when, field) is not None:
                    self.problems.append(
                        f"{where}: `{field}`: machine clients have no user attributes"
                    )
            return
        for name in when.user_attribute_equals or ():
            self.attribute(f"{where}.user_attribute_equals", name)
            self.trusted(f"{where}.user_attribute_equals", name)
        for field in ("providers_any", "federated"):
            if getattr(when, field) is not None:
                self.trusted(f"{where}.{field}", IDENTITIES)

    def _memberships(self, where: str, when: WhenFile, section: SectionName) -> None:
        if section == "client":
            for field in _GROUP_FIELDS:
                if getattr(when, field) is not None:
                    self.problems.append(f"{where}: `{field}`: machine clients have no groups")
        for source in when.trigger_sources or ():
            if source not in TRIGGER_SOURCES:
                self.problems.append(
                    f"{where}: `trigger_sources`: unknown trigger source `{source}` (expected "
                    f"{listed(sorted(TRIGGER_SOURCES))})"
                )
        none = set(when.groups_none or ())
        for field in ("groups_any", "groups_all"):
            if both := sorted(none.intersection(getattr(when, field) or ())):
                self.problems.append(
                    f"{where}: `{field}` and `groups_none` both name {listed(both)}: "
                    "the condition can never hold"
                )
        for scope in when.scopes_any or ():
            if reason := scope_reason(scope):
                self.problems.append(f"{where}: `scopes_any`: `{scope!r}`: {reason}")

    def _values(self, where: str, when: WhenFile, allowed: frozenset[str]) -> None:
        for path, value in (when.attribute_equals or {}).items():
            if not all(path.split(".")):
                self.problems.append(
                    f"{where}: `attribute_equals`: `{path}` must be a name or a dotted path"
                )
            if isinstance(value, float) and not math.isfinite(value):
                self.problems.append(
                    f"{where}: `attribute_equals`: `{path}` must be a finite number"
                )
        for key, value in (when.metadata_equals or {}).items():
            if key not in allowed:
                self.problems.append(
                    f"{where}: `metadata_equals`: `{key}` is not listed in "
                    "`[request] client_metadata`"
                )
            if len(value) > MAX_METADATA_CHARS:
                self.problems.append(
                    f"{where}: `metadata_equals`: `{key}`: values longer than "
                    f"{MAX_METADATA_CHARS} characters are never read, so this never holds"
                )
