"""The exception tree and the fixed, user-safe messages. Pure: imports nothing from the project.

Hierarchy (callers catch the bases)::

    PretokenError
    ├── ConfigError        a setting or the mapping is invalid; raised at init only
    ├── EventError         the Cognito event cannot be used (carries msgspec's path)
    ├── StoreError         the profile lookup failed
    │   ├── StoreTimeout       no answer inside the lookup deadline
    │   ├── StoreThrottled     DynamoDB throttled the read
    │   ├── StoreUnavailable   5xx, connection refused/reset, access denied, no table
    │   └── ItemError          the item came back in a shape we cannot decode
    └── SignInDenied       the only exception raised to Cognito

`str(exc)` of every class but `SignInDenied` is operator detail, for logs only. Cognito shows an
end user `PreTokenGeneration failed with error <msg>.`, so `SignInDenied` only ever carries one of
the fixed strings below (no trailing period: Cognito adds one).
"""

from typing import Any, Final

__all__ = (
    "DENIED_NO_PROFILE",
    "DENIED_UNAVAILABLE",
    "ConfigError",
    "EventError",
    "ItemError",
    "PretokenError",
    "SignInDenied",
    "StoreError",
    "StoreThrottled",
    "StoreTimeout",
    "StoreUnavailable",
)

DENIED_UNAVAILABLE: Final = "sign-in is temporarily unavailable, please try again"
DENIED_NO_PROFILE: Final = "this account is not set up for this application"
_SAFE_MESSAGES: Final = frozenset({DENIED_UNAVAILABLE, DENIED_NO_PROFILE})


class PretokenError(Exception):
    """Base of every error this project raises."""


class ConfigError(PretokenError):
    """A setting or the claim mapping is invalid; raised at init so the container never starts."""


class EventError(PretokenError):
    """The Cognito event is not a shape this trigger can use."""


class StoreError(PretokenError):
    """The profile lookup failed; `kind` is a short, low-cardinality class name for logs.

    `primary` is the primary item when it was read before another read failed (None
    otherwise): deny rules are still evaluated on it.
    """

    kind: str = "store_error"
    primary: dict[str, Any] | None = None


class StoreTimeout(StoreError):
    """The store gave no answer inside the lookup deadline."""

    kind = "timeout"


class StoreThrottled(StoreError):
    """DynamoDB throttled the read (provisioned throughput, request limit, throttling)."""

    kind = "throttled"


class StoreUnavailable(StoreError):
    """The store failed: 5xx, connection refused or reset, access denied, missing table."""

    kind = "unavailable"


class ItemError(StoreError):
    """The item came back in a shape that cannot be decoded into plain JSON values."""

    kind = "malformed_item"


class SignInDenied(PretokenError):
    """Fail this sign-in. The message is shown to the end user: one of the fixed safe strings."""

    def __init__(self, message: str = DENIED_UNAVAILABLE) -> None:
        # A message that is not one of the fixed ones would leak whatever it holds to the user.
        super().__init__(message if message in _SAFE_MESSAGES else DENIED_UNAVAILABLE)
