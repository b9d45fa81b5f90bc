"""Settings parsing: defaults, accepted values, and one error naming every bad variable."""

from collections.abc import Callable
from pathlib import Path

import pytest

from shared.config import Settings, load_settings
from shared.errors import ConfigError
from tests.conftest import BASE_ENV, make_settings


def test_config_defaults_match_readme() -> None:
    settings = make_settings()
    assert settings.table_name == "profiles"
    assert settings.key_attribute == "id"
    assert settings.user_key == "USER#{userName}"
    assert settings.client_key == "CLIENT#{clientId}"
    assert settings.consistent_read is False
    assert settings.response_format == "auto"
    assert settings.cache_ttl_seconds == 0
    assert settings.cache_enabled is False
    assert settings.cache_max_entries == 10_000
    assert settings.lookup_timeout_ms == 1500
    assert settings.store_max_attempts == 2
    assert settings.on_missing == "allow"
    assert settings.on_error == "deny"
    assert settings.log_level == "INFO"
    assert settings.endpoint_url is None


def test_config_parses_every_variable() -> None:
    settings = make_settings(
        KEY_ATTRIBUTE="pk",
        USER_KEY="U#{sub}",
        CLIENT_KEY="C#{userPoolId}#{clientId}",
        CONSISTENT_READ="Yes",
        RESPONSE_FORMAT="V1",
        CACHE_TTL_SECONDS="30",
        CACHE_MAX_ENTRIES="5",
        CACHE_NEGATIVE_TTL_SECONDS="2.5",
        CACHE_STALE_IF_ERROR_SECONDS="300",
        LOOKUP_TIMEOUT_MS="800",
        DEADLINE_MARGIN_MS="100",
        STORE_MAX_ATTEMPTS="4",
        ON_MISSING="deny",
        ON_ERROR="allow",
        LOG_LEVEL="debug",
        SERVICE_NAME="svc",
        AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:8000",
    )
    assert settings.key_attribute == "pk"
    assert settings.consistent_read is True
    assert settings.response_format == "v1"
    assert settings.cache_enabled is True
    assert settings.cache_negative_ttl_seconds == 2.5
    assert settings.cache_stale_if_error_seconds == 300
    assert settings.attempt_timeout_seconds == pytest.approx(0.2)
    assert settings.on_missing == "deny"
    assert settings.on_error == "allow"
    assert settings.log_level == "DEBUG"
    assert settings.endpoint_url == "http://127.0.0.1:8000"


def test_config_generic_endpoint_variable_is_a_fallback() -> None:
    settings = make_settings(AWS_ENDPOINT_URL="http://127.0.0.1:1")
    assert settings.endpoint_url == "http://127.0.0.1:1"
    settings = make_settings(
        AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:2"
    )
    assert settings.endpoint_url == "http://127.0.0.1:2"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("LOOKUP_TIMEOUT_MS", "2s", "an integer in 1..4500"),
        ("LOOKUP_TIMEOUT_MS", "0", "an integer in 1..4500"),
        ("LOOKUP_TIMEOUT_MS", "4501", "an integer in 1..4500"),
        ("CONSISTENT_READ", "maybe", "one of `true`"),
        ("ON_MISSING", "ignore", "one of `allow`, `deny`"),
        ("ON_ERROR", "open", "one of `deny`, `allow`"),
        ("RESPONSE_FORMAT", "v3", "one of `auto`, `v1`, `v2`"),
        ("CACHE_TTL_SECONDS", "-1", "a number of seconds"),
        ("CACHE_TTL_SECONDS", "nan", "a number of seconds"),
        ("CACHE_MAX_ENTRIES", "0", "an integer in 1..10000000"),
        ("STORE_MAX_ATTEMPTS", "11", "an integer in 1..5"),
        ("LOG_LEVEL", "TRACE", "one of `DEBUG`"),
        ("CLAIMS_BUDGET_BYTES", "64KB", "an integer in 1024..1048576"),
        ("CLAIMS_BUDGET_BYTES", "1023", "an integer in 1024..1048576"),
        ("CLAIMS_BUDGET_BYTES", "1048577", "an integer in 1024..1048576"),
        ("ID_TOKEN_MAX_BYTES", "1023", "0 (off) or an integer in 1024..1048576"),
        ("ID_TOKEN_MAX_BYTES", "-1", "0 (off) or an integer in 1024..1048576"),
        ("ACCESS_TOKEN_MAX_BYTES", "1048577", "0 (off) or an integer in 1024..1048576"),
        ("ACCESS_TOKEN_MAX_BYTES", "4KB", "0 (off) or an integer in 1024..1048576"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000", "an http:// or https:// URL"),
        ("AWS_ENDPOINT_URL", "localhost:8000", "an http:// or https:// URL"),
        ("AWS_ENDPOINT_URL", "ftp://x", "an http:// or https:// URL"),
    ],
)
def test_config_rejects_bad_value_naming_variable(name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**{name: value})
    message = str(caught.value)
    assert f"`{name}`" in message
    assert expected in message
    assert repr(value) in message


def test_config_collects_every_problem_in_one_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"LOOKUP_TIMEOUT_MS": "x", "ON_ERROR": "maybe"})
    message = str(caught.value)
    for name in ("AWS_REGION", "LOOKUP_TIMEOUT_MS", "ON_ERROR"):
        assert f"`{name}`" in message


def test_config_region_falls_back_to_default_region() -> None:
    settings = load_settings({"TABLE_NAME": "t", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert settings.region == "eu-west-1"


def test_config_blank_value_means_unset() -> None:
    settings = make_settings(LOOKUP_TIMEOUT_MS="  ")
    assert settings.lookup_timeout_ms == 1500


@pytest.mark.parametrize("name", ["CACHE_NEGATIVE_TTL_SECONDS", "CACHE_STALE_IF_ERROR_SECONDS"])
def test_config_cache_options_need_the_cache_on(name: str) -> None:
    with pytest.raises(ConfigError, match=f"`{name}` needs the cache on"):
        make_settings(**{name: "10"})


def test_config_lookup_and_margin_must_fit_cognito_budget() -> None:
    with pytest.raises(ConfigError, match="5000 ms budget"):
        make_settings(LOOKUP_TIMEOUT_MS="4500", DEADLINE_MARGIN_MS="600")


def test_config_endpoint_must_be_http_url() -> None:
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL_DYNAMODB"):
        make_settings(AWS_ENDPOINT_URL_DYNAMODB="localhost:8000")


@pytest.mark.parametrize(
    ("environ", "named", "not_named"),
    [
        ({"AWS_ENDPOINT_URL": "bad"}, "`AWS_ENDPOINT_URL`", "`AWS_ENDPOINT_URL_DYNAMODB`"),
        (
            {"AWS_ENDPOINT_URL": "bad", "AWS_ENDPOINT_URL_DYNAMODB": "  "},
            "`AWS_ENDPOINT_URL`",
            "`AWS_ENDPOINT_URL_DYNAMODB`",
        ),
        (
            {"AWS_ENDPOINT_URL": "http://fine", "AWS_ENDPOINT_URL_DYNAMODB": "bad"},
            "`AWS_ENDPOINT_URL_DYNAMODB`",
            "`AWS_ENDPOINT_URL`",
        ),
    ],
)
def test_config_endpoint_error_names_the_variable_holding_the_bad_value(
    environ: dict[str, str], named: str, not_named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**environ)
    message = str(caught.value)
    assert named in message
    assert not_named not in message


def test_config_claims_budget_default_and_value() -> None:
    assert make_settings().claims_budget_bytes == 65_536
    assert make_settings(CLAIMS_BUDGET_BYTES="4096").claims_budget_bytes == 4096


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 0), ("0", 0), ("1024", 1024), ("4096", 4096), ("1048576", 1048576)],
)
def test_config_token_budgets_are_off_by_default(value: str | None, expected: int) -> None:
    environ = (
        {} if value is None else {"ID_TOKEN_MAX_BYTES": value, "ACCESS_TOKEN_MAX_BYTES": value}
    )
    settings = make_settings(**environ)
    assert settings.id_token_max_bytes == settings.access_token_max_bytes == expected


def test_config_reads_only_the_mapping_given() -> None:
    # GIVEN a mapping with no TABLE_NAME, whatever the process environment holds
    env = dict(BASE_ENV)
    del env["TABLE_NAME"]
    # THEN it stays unset: whether a table is needed is decided with the claim mapping, at init
    # (`shared.deps`; tests/unit/test_event_claims.py), since a mapping may read no item at all
    assert load_settings(env).table_name is None


def test_config_unset_variables_take_the_settings_defaults() -> None:
    # Every default is written once, on `Settings`: the reader passes only what is set.
    assert make_settings() == Settings(table_name="profiles", region="us-east-1")


def test_config_endpoint_problem_names_the_variable_that_holds_it() -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(AWS_ENDPOINT_URL="localhost:8000")
    assert "`AWS_ENDPOINT_URL`" in str(caught.value)
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in str(caught.value)


def test_config_ca_bundle_unset_is_none() -> None:
    assert make_settings().ca_bundle is None


def test_config_ca_bundle_names_a_pem_file(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert make_settings(AWS_CA_BUNDLE=str(bundle)).ca_bundle == str(bundle)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: folder / "missing.pem", "must name an existing file"),
        (lambda folder: folder, "must name a readable file"),
        (lambda folder: _write(folder / "key.pem", "-----BEGIN PRIVATE KEY-----\n"), "PEM file"),
        (lambda folder: _write(folder / "empty.pem", ""), "PEM file"),
    ],
    ids=["missing", "directory", "not_a_certificate", "empty"],
)
def test_config_ca_bundle_refused_at_init_naming_the_variable(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        make_settings(AWS_CA_BUNDLE=str(path))
    message = str(caught.value)
    assert "`AWS_CA_BUNDLE`" in message
    assert expected in message
    assert repr(str(path)) in message


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
