"""The exception tree and the `SignInDenied` filter: only the fixed sentences reach a user."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import (
    DENIED_NO_PROFILE,
    DENIED_UNAVAILABLE,
    ConfigError,
    EventError,
    ItemError,
    PretokenError,
    SignInDenied,
    StoreError,
    StoreThrottled,
    StoreTimeout,
    StoreUnavailable,
)

FIXED = (DENIED_UNAVAILABLE, DENIED_NO_PROFILE)


@pytest.mark.parametrize("message", FIXED)
def test_sign_in_denied_keeps_each_fixed_message(message: str) -> None:
    assert str(SignInDenied(message)) == message
    assert SignInDenied(message).args == (message,)


def test_sign_in_denied_defaults_to_unavailable() -> None:
    assert str(SignInDenied()) == DENIED_UNAVAILABLE


@pytest.mark.parametrize(
    "message",
    [
        "",
        "table profiles not found",
        "USER#jane: AccessDeniedException",
        DENIED_NO_PROFILE + ".",
        DENIED_NO_PROFILE.upper(),
        " " + DENIED_UNAVAILABLE,
        DENIED_UNAVAILABLE + "\n",
        DENIED_UNAVAILABLE + ": GetItem timed out",
    ],
)
def test_sign_in_denied_replaces_any_other_message_with_the_default(message: str) -> None:
    denied = SignInDenied(message)
    assert str(denied) == DENIED_UNAVAILABLE
    assert denied.args == (DENIED_UNAVAILABLE,)


@settings(max_examples=200, deadline=None)
@given(message=st.text(max_size=80))
def test_property_sign_in_denied_only_ever_carries_a_fixed_message(message: str) -> None:
    shown = str(SignInDenied(message))
    assert shown in FIXED
    assert shown == (message if message in FIXED else DENIED_UNAVAILABLE)


def test_fixed_messages_have_no_trailing_period() -> None:
    # Cognito shows `PreTokenGeneration failed with error <msg>.`: it adds the period.
    for message in FIXED:
        assert message
        assert not message.endswith(".")
        assert message == message.strip()


@pytest.mark.parametrize(
    ("error", "base", "kind"),
    [
        (StoreTimeout, StoreError, "timeout"),
        (StoreThrottled, StoreError, "throttled"),
        (StoreUnavailable, StoreError, "unavailable"),
        (ItemError, StoreError, "malformed_item"),
    ],
)
def test_store_errors_carry_a_short_kind(error: type[StoreError], base: type, kind: str) -> None:
    assert issubclass(error, base)
    assert error("detail").kind == kind


def test_every_error_is_a_pretoken_error() -> None:
    for error in (ConfigError, EventError, StoreError, SignInDenied):
        assert issubclass(error, PretokenError)
    assert StoreError("x").kind == "store_error"
