"""What a mapping reads from the event itself: user attributes, the federated identity, groups.

Cognito sends every user attribute (`request.userAttributes`) as a string, and a federated
user's `identities` attribute as a JSON array of the provider identities linked to the user.
Everything here reads them strictly and never raises, whatever the event holds: a value that is
not a string, a number or boolean that is not exactly one, a list that does not parse, and a
malformed `identities` are each "absent" or "of the wrong type" to the caller, which drops and
names them like any other value.

- `parse_number`, `parse_boolean`, `parse_list`: the strict parsers (`json_list`, `csv`,
  `bracket_list`, the SAML style `[a, b]`).
- `parse_identity`: the primary identity of `identities` (or the first), or None.
- `UserFacts`: one invocation's user attributes, its identity parsed on first use and once.
- `UserCondition`: a `when`'s `providers_any`, `federated` and `user_attribute_equals`.
- `EventRead`: a compiled `source = "event"` or `"identity"` rule's read.
- `AttributeGroups`: the compiled `[user.groups] from_attribute` rule.

Which attributes may be read at all (`[request] user_attributes`) is the loader's check
(`shared.claims.event_checks`). Pure: no I/O, no logging.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final, Literal

import msgspec

from shared.claims.guard import ClaimType, ListParse
from shared.event import Event
from shared.values import ABSENT, JSONValue

__all__ = (
    "EVENT",
    "EVENT_SOURCES",
    "IDENTITIES",
    "IDENTITY",
    "IDENTITY_ATTRIBUTES",
    "MAX_NUMBER_DIGITS",
    "AttributeGroups",
    "EventRead",
    "Identity",
    "UserCondition",
    "UserFacts",
    "parse_boolean",
    "parse_identity",
    "parse_list",
    "parse_number",
)

EVENT: Final = "event"
"""The source of a rule reading a user attribute (`request.userAttributes`)."""
IDENTITY: Final = "identity"
"""The source of a rule reading the federated identity (the `identities` attribute)."""
EVENT_SOURCES: Final = frozenset({EVENT, IDENTITY})
IDENTITIES: Final = "identities"
"""The user attribute holding a federated user's identities (JSON text)."""
MAX_NUMBER_DIGITS: Final = 38
"""Most digits a number attribute may have (DynamoDB's precision, so every number is exact)."""

IDENTITY_ATTRIBUTES: Final[dict[str, ClaimType]] = {
    "provider_name": "string",
    "provider_type": "string",
    "user_id": "string",
    "primary": "boolean",
    "issuer": "string",
}
"""What a `source = "identity"` rule may read, with the type of each."""

_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NOT_A_STRING: Final = object()
"""What an attribute that is not a string reads as: of no claim type at all."""
_UNREAD: Final = object()


def parse_number(text: str) -> int | Decimal | None:
    """Decimal text as an exact number (an int when integral); None for anything else.

    Accepted: an optional `-`, ASCII digits, and an optional fraction (`42`, `-7`, `4.5`,
    `4.0` -> 4), at most `MAX_NUMBER_DIGITS` digits. Refused: blanks, `+`, exponents, `NaN`,
    `Infinity`, other scripts' digits, `.5`, `5.`.
    """
    if len(text) > MAX_NUMBER_DIGITS + 2 or _NUMBER.fullmatch(text) is None:
        return None
    if len(text) - text.startswith("-") - ("." in text) > MAX_NUMBER_DIGITS:
        return None
    if "." not in text:
        return int(text)
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else number


def parse_boolean(text: str) -> bool | None:
    """`true` or `false`, exactly as Cognito writes booleans; None for anything else."""
    if text == "true":
        return True
    if text == "false":
        return False
    return None


def _items(text: str) -> list[str]:
    return [item for part in text.split(",") if (item := part.strip())]


def parse_list(text: str, how: ListParse) -> list[str] | None:
    """A string attribute as a list of strings; None when it does not parse (never raises).

    `json_list`: a JSON array of strings. `csv`: items separated by commas, blanks around each
    trimmed, blank items skipped (no quoting: an item cannot hold a comma); every string is a
    list. `bracket_list`: the same inside `[` and `]`, as Cognito writes a multi-valued SAML
    attribute (`[Domain Admins, Developers]`; `[]` is the empty list); nothing may stand
    outside the brackets.
    """
    if how == "csv":
        return _items(text)
    if how == "bracket_list":
        if len(text) < 2 or text[0] != "[" or text[-1] != "]":
            return None
        return _items(text[1:-1])
    try:
        return msgspec.json.decode(text, type=list[str])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """A federated user's identity: one entry of `identities`.

    Parameters
    ----------
    provider_name
        The name the pool gives the identity provider (`Okta`, `Google`).
    provider_type
        `SAML`, `OIDC`, `Google`, `Facebook`, `LoginWithAmazon`, `SignInWithApple`.
    user_id
        The user's id at the provider.
    primary
        Whether Cognito marks it primary (`true` or `"true"` on the wire).
    issuer
        The provider's issuer, or None when Cognito sends none.
    """

    provider_name: str
    provider_type: str | None = None
    user_id: str | None = None
    primary: bool = False
    issuer: str | None = None


class _WireIdentity(msgspec.Struct, rename="camel"):
    """One entry as Cognito writes it; `dateCreated` (a number or a string) is not read."""

    provider_name: str
    provider_type: str | None = None
    user_id: str | None = None
    primary: bool | str | None = None
    issuer: str | None = None


def parse_identity(value: object) -> Identity | None:
    """The primary identity of an `identities` value (the first when none is primary), or None.

    None, never an error, for anything but a JSON array of identity objects, each with a
    string `providerName` and the other fields strings (or null); `primary` may be the
    boolean `true` or the string `"true"` (Cognito has sent both).
    """
    if type(value) is not str:
        return None
    try:
        entries = msgspec.json.decode(value, type=list[_WireIdentity])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    if not entries:
        return None
    chosen = next((e for e in entries if e.primary is True or e.primary == "true"), entries[0])
    return Identity(
        provider_name=chosen.provider_name,
        provider_type=chosen.provider_type,
        user_id=chosen.user_id,
        primary=chosen.primary is True or chosen.primary == "true",
        issuer=chosen.issuer,
    )


class UserFacts:
    """One invocation's user attributes, and its identity, parsed on first use and only once.

    Built per invocation by the engine (and by `build_context`); rules and conditions share it.
    """

    __slots__ = ("_identity", "attributes")

    def __init__(self, attributes: Mapping[str, object]) -> None:
        self.attributes = attributes
        """`request.userAttributes` as sent (values of any type; only strings are ever read)."""
        self._identity: object = _UNREAD

    @classmethod
    def of(cls, event: Event) -> "UserFacts":
        """The facts of a decoded event (none for a machine client)."""
        return cls(event.user_attributes)

    def text(self, name: str) -> str | None:
        """The attribute `name` when it is a string; None when absent or of another type."""
        value = self.attributes.get(name)
        return value if type(value) is str else None

    @property
    def identity(self) -> Identity | None:
        """The primary identity (or the first) of `identities`; None: not federated, malformed."""
        if self._identity is _UNREAD:
            self._identity = parse_identity(self.attributes.get(IDENTITIES))
        identity: Identity | None = self._identity  # type: ignore[assignment]  # read once
        return identity

    def provider_in(self, names: frozenset[str]) -> bool:
        """Whether the identity's provider is one of `names` (`providers_any`)."""
        identity = self.identity
        return identity is not None and identity.provider_name in names

    def attributes_equal(self, pairs: tuple[tuple[str, str], ...]) -> bool:
        """Whether each attribute holds exactly that string (`user_attribute_equals`)."""
        values = self.attributes
        return all(values.get(name) == wanted for name, wanted in pairs)


class UserCondition(msgspec.Struct, frozen=True, kw_only=True):
    """What a condition asks of the user's attributes and identity; every part given must hold.

    Parameters
    ----------
    attributes
        `user_attribute_equals`: `(attribute, value)` pairs held exactly (strings only).
    federated
        `federated`: the user must have an identity (True) or none (False); None: either.
    providers
        `providers_any`: the identity's provider must be one of these; None: any or none.
    """

    attributes: tuple[tuple[str, str], ...] = ()
    federated: bool | None = None
    providers: frozenset[str] | None = None

    def holds(self, facts: UserFacts) -> bool:
        """Whether `facts` hold it: the attributes first, the identity (parsed once) last."""
        if self.attributes and not facts.attributes_equal(self.attributes):
            return False
        if self.federated is not None and (facts.identity is not None) is not self.federated:
            return False
        return self.providers is None or facts.provider_in(self.providers)


class EventRead(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's read of the event: a user attribute, or an attribute of the identity.

    Parameters
    ----------
    source
        `event` (`attribute` is a key of `request.userAttributes`) or `identity` (`attribute`
        is one of `IDENTITY_ATTRIBUTES`).
    attribute
        What is read.
    type
        The claim type: a string passes as sent; `number`, `integer`, `boolean` and
        `string_list` (with `parse`) are parsed strictly.
    parse
        How a `string_list` is read.
    """

    source: Literal["event", "identity"]
    attribute: str
    type: ClaimType
    parse: ListParse | None = None

    def value(self, facts: UserFacts) -> object:
        """The claim value; `ABSENT`; None (a null); or a value no claim type fits (dropped).

        A string that does not parse as the type is returned as is, so the type check drops
        it and names it `wrong_type`; an attribute that is not a string never fits any type.
        """
        if self.source == IDENTITY:
            identity = facts.identity
            if identity is None:
                return ABSENT
            found = getattr(identity, self.attribute)
            return ABSENT if found is None else found
        raw = facts.attributes.get(self.attribute, ABSENT)
        if type(raw) is not str:
            return raw if raw is ABSENT or raw is None else _NOT_A_STRING
        parsed: JSONValue
        kind = self.type
        if kind == "string":
            return raw
        if kind == "boolean":
            parsed = parse_boolean(raw)
        elif kind == "string_list":
            parsed = parse_list(raw, self.parse or "json_list")
        else:  # number, integer (the type check then refuses a fraction)
            parsed = parse_number(raw)
        return raw if parsed is None else parsed


class AttributeGroups(msgspec.Struct, frozen=True, kw_only=True):
    """The groups a user attribute names (`[user.groups] from_attribute`).

    Parameters
    ----------
    attribute
        The user attribute holding the provider's group list.
    parse
        How it is read as a list.
    allow, allow_prefix
        Only names in `allow`, or starting with `allow_prefix`, become groups.
    rename
        Provider name -> the pool's group name, applied after `allow`.
    mode
        `add`: the request's groups, then these; `replace`: these alone.
    """

    attribute: str
    parse: ListParse
    allow: frozenset[str] = frozenset()
    allow_prefix: str | None = None
    rename: dict[str, str] = {}
    mode: Literal["replace", "add"] = "add"

    def allows(self, name: str) -> bool:
        """Whether a provider's group name may become a group."""
        prefix = self.allow_prefix
        return name in self.allow or (prefix is not None and name.startswith(prefix))

    def groups(
        self, facts: UserFacts, request_groups: list[str], dropped: list[tuple[str, str]]
    ) -> list[str] | None:
        """The overriding group list, or None to keep the request's (absent or malformed).

        A malformed attribute (not a string, or not a list as `parse` reads it) is dropped and
        named by the attribute: `null`, `wrong_type` or `not_a_list`.
        """
        raw = facts.attributes.get(self.attribute, ABSENT)
        if raw is ABSENT:
            return None
        if type(raw) is not str:
            dropped.append((self.attribute, "null" if raw is None else "wrong_type"))
            return None
        names = parse_list(raw, self.parse)
        if names is None:
            dropped.append((self.attribute, "not_a_list"))
            return None
        rename = self.rename
        chosen = [rename.get(name, name) for name in names if self.allows(name)]
        if self.mode == "add":
            chosen = [*request_groups, *chosen]
        return list(dict.fromkeys(chosen))
