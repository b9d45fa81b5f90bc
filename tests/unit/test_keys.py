"""Key templates: parsed once, filled from the event, validated at init."""

from decimal import Decimal

import pytest

from shared.errors import ConfigError
from shared.event import decode_event
from shared.lookup.keys import KeyTemplate
from tests.conftest import load_event


def _user(template: str = "USER#{userName}") -> KeyTemplate:
    return KeyTemplate("USER_KEY", template)


def test_keys_default_user_and_client_templates() -> None:
    assert _user().render(decode_event(load_event("v2-authentication.json"))) == "USER#jane.doe"
    machine = decode_event(load_event("v3-client-credentials.json"))
    client = KeyTemplate("CLIENT_KEY", "CLIENT#{clientId}")
    assert client.render(machine) == "CLIENT#7machine0client0id"


def test_keys_every_placeholder() -> None:
    builder = _user("{userPoolId}|{clientId}|{sub}|{userName}")
    event = decode_event(load_event("aws-docs-v2-test-event.json"))
    assert (
        builder.render(event)
        == "us-east-1_EXAMPLE|1example23456789|a1b2c3d4-5678-90ab-cdef-EXAMPLE11111|JaneDoe"
    )


@pytest.mark.parametrize("missing", ["userName", "sub"])
def test_keys_missing_value_gives_no_key(missing: str) -> None:
    raw = load_event("v2-authentication.json")
    if missing == "userName":
        del raw["userName"]
    else:
        raw["request"]["userAttributes"] = {}
    builder = _user("USER#{" + missing + "}")
    assert builder.render(decode_event(raw)) is None


def test_keys_empty_value_gives_no_key() -> None:
    raw = load_event("v2-authentication.json")
    raw["userName"] = ""
    assert _user().render(decode_event(raw)) is None


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("USER#{username}", "may only use the placeholders"),
        ("USER#{userName!r}", "may only use the placeholders"),
        ("USER#{userName:>10}", "may only use the placeholders"),
        ("USER#{userName", "not a valid key template"),
        ("USER#{item.tenant}", "may only use the placeholders"),
        ("USER#{clientMetadata.tenant}", "may only use the placeholders"),
    ],
)
def test_keys_invalid_template_names_variable(template: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        KeyTemplate("USER_KEY", template)
    assert "`USER_KEY`" in str(caught.value)
    assert reason in str(caught.value)


def test_keys_literal_braces_are_kept() -> None:
    template = KeyTemplate("USER_KEY", "{{x}}#{userName}")
    assert template.render(decode_event({"userName": "a"})) == "{x}#a"


@pytest.mark.parametrize(
    ("use", "template", "ok"),
    [
        ("related", "TENANT#{item.tenant.id}", True),
        ("related", "M#{sub}#{clientMetadata.tenant}", True),
        ("query", "USER#{sub}", True),
        ("query", "T#{item.tenant}", False),
        ("query", "M#{clientMetadata.tenant}", True),
        ("related", "T#{item.}", False),
        ("related", "T#{item..x}", False),
        ("related", "T#{clientMetadata.}", False),
        ("primary", "PROFILE", True),
    ],
)
def test_keys_placeholders_depend_on_where_the_key_sits(use: str, template: str, ok: bool) -> None:
    if ok:
        KeyTemplate("k", template, use=use)  # type: ignore[arg-type]  # the table's strings
        return
    with pytest.raises(ConfigError, match="may only use the placeholders"):
        KeyTemplate("k", template, use=use)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "rendered"),
    [("t1", "T#t1"), (42, "T#42"), (Decimal("4.5"), "T#4.5"), (2**63 + 1, f"T#{2**63 + 1}"),
     (True, None), (None, None), ("", None), ([1], None), ({"a": 1}, None)],
)  # fmt: skip
def test_keys_item_values_render_as_stored_or_not_at_all(
    value: object, rendered: str | None
) -> None:
    template = KeyTemplate("k", "T#{item.tenant}", use="related")
    event = decode_event(load_event("v2-authentication.json"))
    assert template.render(event, {"tenant": value}) == rendered
    assert template.render(event, {}) is None
