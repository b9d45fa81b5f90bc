"""The claim mapping as data, the reserved-claim guard, and applying a mapping to an item.

A `Mapping` is a tuple of `ClaimRule`s for users and one for machine clients, checked once at
init; `apply_mapping` walks them over a decoded item and returns the claims per token plus how
many were dropped. The built-in mapping is the reference one: `first_name` and `last_name` into
the ID token, `interesting_value` into the access token. Nothing else from the item is emitted.
Pure: no I/O, no logging (counts are returned, `trigger` records them).
"""

from typing import Final, Literal

import msgspec

from shared.errors import ConfigError
from shared.item import Item
from shared.models import JSONValue

__all__ = (
    "DEFAULT_MAPPING",
    "RESERVED_CLAIMS",
    "ClaimRule",
    "ClaimSet",
    "Mapping",
    "Token",
    "apply_mapping",
    "reserved_reason",
)

Token = Literal["id", "access"]

RESERVED_CLAIMS: Final = frozenset(
    {
        "sub", "username", "cognito:username", "identities", "aud", "client_id", "event_id",
        "version", "device_key", "acr", "amr", "at_hash", "auth_time", "azp", "exp", "iat",
        "iss", "jti", "nbf", "nonce", "origin_jti", "token_use", "scope",
    }
)  # fmt: skip
"""Claims Cognito never lets a trigger set (`scope` changes only through scopesToAdd/Suppress)."""

_RESERVED_PREFIXES: Final = ("cognito:", "dev:")
"""`cognito:` claims change only via groupOverrideDetails; `dev:` ones may only be suppressed."""


def reserved_reason(claim: str) -> str | None:
    """Say why `claim` may not be added or overridden, or None when it may."""
    if claim in RESERVED_CLAIMS:
        return f"`{claim}` is reserved by Cognito"
    for prefix in _RESERVED_PREFIXES:
        if claim.startswith(prefix):
            return f"`{prefix}` claims cannot be added or overridden"
    if not claim or claim != claim.strip():
        return "claim names must be non-empty and have no surrounding whitespace"
    return None


class ClaimRule(msgspec.Struct, frozen=True):
    """Copy one item attribute into a claim of one or both tokens.

    Parameters
    ----------
    attribute
        Top-level attribute of the profile item.
    claim
        Claim name in the token.
    tokens
        Which tokens get the claim: `id`, `access` or both.
    """

    attribute: str
    claim: str
    tokens: tuple[Token, ...]


class Mapping(msgspec.Struct, frozen=True):
    """How item attributes become claims, for users and for machine clients.

    Parameters
    ----------
    user_rules
        Rules for `USER#...` items.
    client_rules
        Rules for `CLIENT#...` items (V3 client credentials); access token only.
    """

    user_rules: tuple[ClaimRule, ...]
    client_rules: tuple[ClaimRule, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        for section, rules in (("user", self.user_rules), ("client", self.client_rules)):
            for rule in rules:
                reason = reserved_reason(rule.claim)
                if reason:
                    problems.append(f"{section} rule for `{rule.attribute}`: {reason}")
                if not rule.attribute:
                    problems.append(f"{section} rule for claim `{rule.claim}`: empty attribute")
                if not rule.tokens:
                    problems.append(f"{section} rule for `{rule.attribute}`: no target token")
                if section == "client" and "id" in rule.tokens:
                    problems.append(
                        f"client rule for `{rule.attribute}`: machine clients get no ID token"
                    )
        if problems:
            raise ConfigError("invalid claim mapping: " + "; ".join(problems))

    @property
    def user_attributes(self) -> tuple[str, ...]:
        """Attributes the user rules read, in first-use order: the GetItem projection."""
        return tuple(dict.fromkeys(rule.attribute for rule in self.user_rules))

    @property
    def client_attributes(self) -> tuple[str, ...]:
        """Attributes the machine-client rules read: their GetItem projection."""
        return tuple(dict.fromkeys(rule.attribute for rule in self.client_rules))


DEFAULT_MAPPING: Final = Mapping(
    user_rules=(
        ClaimRule("first_name", "first_name", ("id",)),
        ClaimRule("last_name", "last_name", ("id",)),
        ClaimRule("interesting_value", "interesting_value", ("access",)),
    ),
    client_rules=(ClaimRule("interesting_value", "interesting_value", ("access",)),),
)


class ClaimSet(msgspec.Struct, frozen=True):
    """Claims to add or override, per token, and how many item values were dropped.

    Parameters
    ----------
    id_claims, access_claims
        Claim name -> plain JSON value.
    dropped
        Values not emitted (null, or unsafe at run time).
    """

    id_claims: dict[str, JSONValue]
    access_claims: dict[str, JSONValue]
    dropped: int = 0


EMPTY_CLAIMS: Final = ClaimSet({}, {})


def apply_mapping(rules: tuple[ClaimRule, ...], item: Item) -> ClaimSet:
    """Walk `rules` over `item` and collect the claims for each token.

    An attribute the item does not hold emits nothing; a null value is dropped and counted.
    """
    id_claims: dict[str, JSONValue] = {}
    access_claims: dict[str, JSONValue] = {}
    dropped = 0
    for rule in rules:
        if rule.attribute not in item:
            continue
        value = item[rule.attribute]
        if value is None:
            dropped += 1
            continue
        for token in rule.tokens:
            (id_claims if token == "id" else access_claims)[rule.claim] = value
    return ClaimSet(id_claims, access_claims, dropped)
