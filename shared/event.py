"""msgspec Structs for the Cognito pre token generation event, read-only views of what we use.

Pure data, no I/O. The Structs declare only the fields the trigger reads; unknown fields are
ignored (Cognito adds fields over time) and `response` is never decoded: the handler answers with
the original event dict and only `response` replaced, so nothing it does not model is lost.
Absent and null are folded once, here, into defaults.

Contract: https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html
"""

from typing import Any, Final

import msgspec

from shared.errors import EventError
from shared.values import JSONValue

__all__ = (
    "CLIENT_CREDENTIALS",
    "CallerContext",
    "Event",
    "GroupConfiguration",
    "Request",
    "UserAttributes",
    "decode_event",
    "version_number",
)

_MAX_VERSION: Final = 999
_MAX_VERSION_DIGITS: Final = 3

CLIENT_CREDENTIALS: Final = "TokenGeneration_ClientCredentials"
"""`triggerSource` of a V3 machine-to-machine (client credentials) token request."""


class GroupConfiguration(msgspec.Struct, rename="camel"):
    """The user's groups and IAM roles as Cognito would issue them (`request.groupConfiguration`).

    Parameters
    ----------
    groups_to_override
        Groups the user belongs to (`cognito:groups`).
    iam_roles_to_override
        IAM roles of those groups (`cognito:roles`).
    preferred_role
        The preferred IAM role (`cognito:preferred_role`). A string on the wire; the AWS docs'
        own test event sends a one-element list, so both are accepted.
    """

    groups_to_override: list[str] | None = None
    iam_roles_to_override: list[str] | None = None
    preferred_role: str | list[str] | None = None


UserAttributes = dict[str, Any]
"""`request.userAttributes` as sent: attribute name -> value. Cognito sends every value as a
string; any other value is read as absent or of the wrong type where it is used, never an error
(`sub` excepted: a key template may use it, so `decode_event` refuses one that is not a string)."""

_NO_ATTRIBUTES: Final[UserAttributes] = {}


class Request(msgspec.Struct, rename="camel"):
    """`request`: the user's attributes, groups and, in V2/V3 events only, the scopes.

    Parameters
    ----------
    user_attributes
        Attributes of the user, every one as sent (`{}` for machine clients); only those the
        mapping trusts (`[request] user_attributes`) are ever read, and `sub` by key templates.
    group_configuration
        Current groups; null for machine clients.
    scopes
        OAuth scopes of the access token; present only in V2 and V3 events.
    client_metadata
        What the client passed as `ClientMetadata` (`RespondToAuthChallenge`,
        `GetTokensFromRefreshToken`, client credentials; never `InitiateAuth`). Chosen by the
        client, so kept loose here: only allowlisted keys holding short strings are ever read.
    """

    user_attributes: UserAttributes | None = None
    group_configuration: GroupConfiguration | None = None
    scopes: list[str] | None = None
    client_metadata: Any = None


class CallerContext(msgspec.Struct, rename="camel"):
    """`callerContext`: who asked for the tokens."""

    client_id: str | None = None


class Event(msgspec.Struct, rename="camel"):
    """A pre token generation event, V1, V2 or V3.

    Parameters
    ----------
    version
        Event version. Not trusted alone: published V2 events say `"1"`, emulators send `"0"`.
    trigger_source
        Why tokens are issued, e.g. `TokenGeneration_Authentication`,
        `TokenGeneration_RefreshTokens`, `TokenGeneration_ClientCredentials` (V3 machine clients).
    user_pool_id
        The user pool.
    user_name
        The user's name; `"ClientCredentials"` for machine clients; absent in odd events.
    caller_context
        Carries the app client id.
    request
        Attributes, groups and scopes.
    """

    version: JSONValue = None
    trigger_source: str | None = None
    user_pool_id: str | None = None
    user_name: str | None = None
    caller_context: CallerContext | None = None
    request: Request | None = None

    @property
    def client_id(self) -> str | None:
        """The app client id, when the event carries one."""
        return self.caller_context.client_id if self.caller_context else None

    @property
    def user_attributes(self) -> UserAttributes:
        """`request.userAttributes`; empty when the event has none."""
        request = self.request
        if request is None or request.user_attributes is None:
            return _NO_ATTRIBUTES
        return request.user_attributes

    @property
    def sub(self) -> str | None:
        """The user's `sub` attribute (`decode_event` refused one that is not a string)."""
        sub: str | None = self.user_attributes.get("sub")
        return sub

    @property
    def is_machine_client(self) -> bool:
        """Whether this is a V3 client-credentials (machine-to-machine) request."""
        return self.trigger_source == CLIENT_CREDENTIALS

    @property
    def has_scopes(self) -> bool:
        """Whether `request.scopes` is present, which only V2 and V3 events carry."""
        return self.request is not None and self.request.scopes is not None

    @property
    def version_number(self) -> int:
        """The event version as a number; 0 when absent or not one Cognito could send."""
        return version_number(self.version)


def version_number(version: object) -> int:
    """Read an event `version`: 0 ("no version") for anything Cognito could not mean.

    Cognito sends `"1"`, `"2"` or `"3"`. Only ASCII digits count (`"²"` and `"٣"` are digits to
    `str.isdigit` but not to `int`), at most three of them; an integer counts when it is in
    0..999 (never a bool). Anything else (`""`, `" 2"`, `"2.0"`, `"-1"`, `2**70`, `True`,
    `2.0`) is decided as a missing version would be.
    """
    if type(version) is int:
        return version if 0 <= version <= _MAX_VERSION else 0
    if (
        isinstance(version, str)
        and 0 < len(version) <= _MAX_VERSION_DIGITS
        and version.isascii()
        and version.isdigit()
    ):
        return int(version)
    return 0


def decode_event(event: object) -> Event:
    """Read the fields the trigger uses from the raw event dict.

    Raises
    ------
    EventError
        The event is not an object, or a field we read has the wrong type; the message carries
        msgspec's path (`$.request.scopes[0]`) and no values.
    """
    try:
        decoded = msgspec.convert(event, Event)
    except msgspec.ValidationError as exc:
        raise EventError(f"unusable event: {exc}") from exc
    sub = decoded.user_attributes.get("sub")
    if sub is not None and type(sub) is not str:
        raise EventError("unusable event: `$.request.userAttributes.sub` must be a string or null")
    return decoded
