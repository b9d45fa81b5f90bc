"""Settings: the environment variable names, the frozen `Settings` and `load_settings`.

The only module that reads configuration. `load_settings` takes a mapping (the handler passes
`os.environ`, tests pass a dict), checks every value against an explicit accepted set or range,
and raises one `ConfigError` naming every bad variable, so a bad deploy fails at init, never on a
user's sign-in. Units are in the names; `0` means off where the README says so.
"""

from collections.abc import Callable, Mapping
from typing import Final, Literal, TypeVar

import msgspec

from shared.errors import ConfigError

__all__ = (
    "AWS_CA_BUNDLE",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_REGION",
    "CACHE_MAX_ENTRIES",
    "CACHE_NEGATIVE_TTL_SECONDS",
    "CACHE_STALE_IF_ERROR_SECONDS",
    "CACHE_TTL_SECONDS",
    "CLAIMS_BUDGET_BYTES",
    "CLAIMS_CONFIG",
    "CLIENT_KEY",
    "CLIENT_SORT_KEY",
    "COGNITO_BUDGET_MS",
    "CONSISTENT_READ",
    "DEADLINE_MARGIN_MS",
    "DEFAULT_CLAIMS_BUDGET_BYTES",
    "KEY_ATTRIBUTE",
    "LOG_LEVEL",
    "LOOKUP_TIMEOUT_MS",
    "METRICS",
    "METRICS_NAMESPACE",
    "ON_ERROR",
    "ON_MISSING",
    "RESPONSE_FORMAT",
    "SERVICE_NAME",
    "SORT_KEY_ATTRIBUTE",
    "STORE_MAX_ATTEMPTS",
    "TABLE_NAME",
    "USER_KEY",
    "USER_SORT_KEY",
    "LogLevel",
    "Settings",
    "load_settings",
)

TABLE_NAME: Final = "TABLE_NAME"
KEY_ATTRIBUTE: Final = "KEY_ATTRIBUTE"
USER_KEY: Final = "USER_KEY"
CLIENT_KEY: Final = "CLIENT_KEY"
SORT_KEY_ATTRIBUTE: Final = "SORT_KEY_ATTRIBUTE"
USER_SORT_KEY: Final = "USER_SORT_KEY"
CLIENT_SORT_KEY: Final = "CLIENT_SORT_KEY"
CONSISTENT_READ: Final = "CONSISTENT_READ"
RESPONSE_FORMAT: Final = "RESPONSE_FORMAT"
CACHE_TTL_SECONDS: Final = "CACHE_TTL_SECONDS"
CACHE_MAX_ENTRIES: Final = "CACHE_MAX_ENTRIES"
CACHE_NEGATIVE_TTL_SECONDS: Final = "CACHE_NEGATIVE_TTL_SECONDS"
CACHE_STALE_IF_ERROR_SECONDS: Final = "CACHE_STALE_IF_ERROR_SECONDS"
LOOKUP_TIMEOUT_MS: Final = "LOOKUP_TIMEOUT_MS"
DEADLINE_MARGIN_MS: Final = "DEADLINE_MARGIN_MS"
STORE_MAX_ATTEMPTS: Final = "STORE_MAX_ATTEMPTS"
ON_MISSING: Final = "ON_MISSING"
ON_ERROR: Final = "ON_ERROR"
LOG_LEVEL: Final = "LOG_LEVEL"
SERVICE_NAME: Final = "SERVICE_NAME"
CLAIMS_CONFIG: Final = "CLAIMS_CONFIG"
CLAIMS_BUDGET_BYTES: Final = "CLAIMS_BUDGET_BYTES"
METRICS: Final = "METRICS"
METRICS_NAMESPACE: Final = "METRICS_NAMESPACE"
AWS_REGION: Final = "AWS_REGION"
AWS_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"
AWS_ENDPOINT_URL_DYNAMODB: Final = "AWS_ENDPOINT_URL_DYNAMODB"
AWS_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL"
AWS_CA_BUNDLE: Final = "AWS_CA_BUNDLE"

COGNITO_BUDGET_MS: Final = 5000
"""Cognito waits at most this long for the trigger, whatever the function's own timeout."""

DEFAULT_CLAIMS_BUDGET_BYTES: Final = 65_536
"""Default bound on the JSON bytes of the claims one token takes from the item."""
_MAX_CLAIMS_BUDGET_BYTES: Final = 1_048_576
"""Two tokens at this bound, plus static claims and V1's re-quoting, stay far below Lambda's
6 MB response limit."""

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
_T = TypeVar("_T")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the trigger is configured with, built once per container.

    Parameters
    ----------
    table_name
        DynamoDB table holding the profile items (`TABLE_NAME`, required).
    key_attribute
        Name of the table's partition key attribute (`KEY_ATTRIBUTE`).
    user_key, client_key
        Key templates for users and for machine clients (`USER_KEY`, `CLIENT_KEY`).
    sort_key_attribute
        Name of the table's sort key attribute, or None when it has none (`SORT_KEY_ATTRIBUTE`).
    user_sort_key, client_sort_key
        Sort key templates, constants allowed (`USER_SORT_KEY`, `CLIENT_SORT_KEY`).
    consistent_read
        Strongly consistent GetItem (`CONSISTENT_READ`), at twice the read cost.
    response_format
        `auto` picks V1 or V2/V3 from the event; `v1`/`v2` force one (`RESPONSE_FORMAT`).
    cache_ttl_seconds
        In-memory profile cache lifetime; 0 turns the cache off (`CACHE_TTL_SECONDS`).
    cache_max_entries
        Cache bound; the least recently used entry is evicted (`CACHE_MAX_ENTRIES`).
    cache_negative_ttl_seconds
        How long a missing profile is remembered; 0 never (`CACHE_NEGATIVE_TTL_SECONDS`).
    cache_stale_if_error_seconds
        How long past expiry an entry may still be served when the store fails
        (`CACHE_STALE_IF_ERROR_SECONDS`).
    lookup_timeout_ms
        Hard bound on one lookup, retries included (`LOOKUP_TIMEOUT_MS`).
    deadline_margin_ms
        Time kept back from the invocation's remaining time for building the answer
        (`DEADLINE_MARGIN_MS`).
    store_max_attempts
        attempts per read, first try included (`STORE_MAX_ATTEMPTS`), all inside the deadline.
    on_missing, on_error
        Policy when the profile is missing or the store fails (`ON_MISSING`, `ON_ERROR`).
    log_level, service_name
        Logging threshold and the `service` key of every log line.
    region, endpoint_url
        AWS region and an optional DynamoDB endpoint (moto, dynalite, DynamoDB Local).
    ca_bundle
        A PEM file of CA certificates every https connection is verified against instead of
        the bundled Amazon Trust Services roots (`AWS_CA_BUNDLE`), for an endpoint override.
    claims_config
        Path of the claim mapping file (`CLAIMS_CONFIG`); None for the built-in mapping.
    claims_budget_bytes
        Most bytes of compact JSON the claims taken from the item may fill per token; past it
        the largest are dropped (`CLAIMS_BUDGET_BYTES`).
    metrics, metrics_namespace
        CloudWatch EMF metrics on each invocation's line, and their namespace.
    """

    table_name: str
    key_attribute: str = "id"
    user_key: str = "USER#{userName}"
    client_key: str = "CLIENT#{clientId}"
    sort_key_attribute: str | None = None
    user_sort_key: str | None = None
    client_sort_key: str | None = None
    consistent_read: bool = False
    response_format: Literal["auto", "v1", "v2"] = "auto"
    cache_ttl_seconds: float = 0.0
    cache_max_entries: int = 10_000
    cache_negative_ttl_seconds: float = 0.0
    cache_stale_if_error_seconds: float = 0.0
    lookup_timeout_ms: int = 1500
    deadline_margin_ms: int = 300
    store_max_attempts: int = 2
    on_missing: Literal["allow", "deny"] = "allow"
    on_error: Literal["deny", "allow"] = "deny"
    log_level: LogLevel = "INFO"
    service_name: str = "cognito-pretoken"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    ca_bundle: str | None = None
    claims_config: str | None = None
    claims_budget_bytes: int = DEFAULT_CLAIMS_BUDGET_BYTES
    metrics: bool = True
    metrics_namespace: str = "CognitoPretoken"

    @property
    def cache_enabled(self) -> bool:
        """Whether the in-memory profile cache is on."""
        return self.cache_ttl_seconds > 0

    @property
    def attempt_timeout_seconds(self) -> float:
        """One attempt's share of the lookup bound: every attempt fits inside it."""
        return self.lookup_timeout_ms / 1000 / self.store_max_attempts


class _Reader:
    """Parses variables one by one and collects every problem instead of stopping at the first.

    Each method returns None when the variable is unset (or invalid, with the problem noted), so
    the `Settings` defaults are the only defaults.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self._environ.get(name)
        if value is None:
            return None
        return value.strip() or None

    def _parse(self, name: str, parse: Callable[[str], _T], expected: str) -> _T | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError:
            self.problems.append(f"`{name}` must be {expected}, got `{raw!r}`")
            return None

    def required(self, name: str, hint: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            self.problems.append(f"`{name}` is required: {hint}")
        return raw

    def integer(self, name: str, low: int, high: int) -> int | None:
        def parse(raw: str) -> int:
            value = int(raw)
            if not low <= value <= high:
                raise ValueError(raw)
            return value

        return self._parse(name, parse, f"an integer in {low}..{high}")

    def seconds(self, name: str, high: float) -> float | None:
        def parse(raw: str) -> float:
            value = float(raw)
            if not 0 <= value <= high:  # also rejects nan
                raise ValueError(raw)
            return value

        return self._parse(name, parse, f"a number of seconds in 0..{high:g}")

    def boolean(self, name: str) -> bool | None:
        def parse(raw: str) -> bool:
            lowered = raw.lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(raw)

        return self._parse(name, parse, "one of `true`, `false`, `1`, `0`, `yes`, `no`")

    def choice(self, name: str, accepted: tuple[str, ...], *, upper: bool = False) -> str | None:
        def parse(raw: str) -> str:
            value = raw.upper() if upper else raw.lower()
            if value not in accepted:
                raise ValueError(raw)
            return value

        listed = ", ".join(f"`{a}`" for a in accepted)
        return self._parse(name, parse, f"one of {listed}")

    def first(self, *names: str) -> tuple[str, str] | None:
        """The first of `names` that is set, with its value: the specific variable first."""
        for name in names:
            value = self.text(name)
            if value is not None:
                return name, value
        return None


_DAY_SECONDS: Final = 86_400.0


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build `Settings` from environment variables; an unset variable takes the field's default.

    Parameters
    ----------
    environ
        The variables to read; the handler passes `os.environ`.

    Raises
    ------
    ConfigError
        One error naming every invalid or missing variable, its value and what is accepted.
    """
    read = _Reader(environ)
    endpoint = read.first(AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL)
    if endpoint is not None and not endpoint[1].startswith(("http://", "https://")):
        name, value = endpoint
        read.problems.append(f"`{name}` must be an http:// or https:// URL, got `{value!r}`")
    ca_bundle = read.text(AWS_CA_BUNDLE)
    if ca_bundle is not None:
        problem = _ca_bundle_problem(ca_bundle)
        if problem:
            read.problems.append(f"`{AWS_CA_BUNDLE}` {problem}, got `{ca_bundle!r}`")
            ca_bundle = None
    region = read.first(AWS_REGION, AWS_DEFAULT_REGION)
    if region is None:
        read.problems.append(
            f"`{AWS_REGION}` is required (Lambda sets it; set it when run locally)"
        )
    values = {
        "table_name": read.required(TABLE_NAME, "the DynamoDB table holding the profiles"),
        "key_attribute": read.text(KEY_ATTRIBUTE),
        "user_key": read.text(USER_KEY),
        "client_key": read.text(CLIENT_KEY),
        "sort_key_attribute": read.text(SORT_KEY_ATTRIBUTE),
        "user_sort_key": read.text(USER_SORT_KEY),
        "client_sort_key": read.text(CLIENT_SORT_KEY),
        "consistent_read": read.boolean(CONSISTENT_READ),
        "response_format": read.choice(RESPONSE_FORMAT, ("auto", "v1", "v2")),
        "cache_ttl_seconds": read.seconds(CACHE_TTL_SECONDS, _DAY_SECONDS),
        "cache_max_entries": read.integer(CACHE_MAX_ENTRIES, 1, 10_000_000),
        "cache_negative_ttl_seconds": read.seconds(CACHE_NEGATIVE_TTL_SECONDS, _DAY_SECONDS),
        "cache_stale_if_error_seconds": read.seconds(CACHE_STALE_IF_ERROR_SECONDS, _DAY_SECONDS),
        "lookup_timeout_ms": read.integer(LOOKUP_TIMEOUT_MS, 1, 4500),
        "deadline_margin_ms": read.integer(DEADLINE_MARGIN_MS, 0, 4000),
        "store_max_attempts": read.integer(STORE_MAX_ATTEMPTS, 1, 5),
        "on_missing": read.choice(ON_MISSING, ("allow", "deny")),
        "on_error": read.choice(ON_ERROR, ("deny", "allow")),
        "log_level": read.choice(LOG_LEVEL, ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
        "service_name": read.text(SERVICE_NAME),
        "region": region[1] if region else None,
        "endpoint_url": endpoint[1] if endpoint else None,
        "ca_bundle": ca_bundle,
        "claims_config": read.text(CLAIMS_CONFIG),
        "claims_budget_bytes": read.integer(CLAIMS_BUDGET_BYTES, 1024, _MAX_CLAIMS_BUDGET_BYTES),
        "metrics": read.boolean(METRICS),
        "metrics_namespace": read.text(METRICS_NAMESPACE),
    }
    present = {name: value for name, value in values.items() if value is not None}
    present.setdefault("table_name", "")  # missing: already a problem above
    try:
        settings = msgspec.convert(present, Settings)
    except msgspec.ValidationError as exc:  # unreachable unless a parser above is wrong
        raise ConfigError(f"invalid configuration: {exc}") from exc
    problems = read.problems + _conflicts(settings)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings


_PEM_CERTIFICATE: Final = b"-----BEGIN CERTIFICATE-----"


def _ca_bundle_problem(path: str) -> str | None:
    """Why `path` cannot be a CA bundle (None: a readable file holding a PEM certificate)."""
    try:
        with open(path, "rb") as file:
            data = file.read(16 * 1024 * 1024)
    except FileNotFoundError:
        return "must name an existing file"
    except OSError as exc:
        return f"must name a readable file ({exc.strerror or type(exc).__name__})"
    if _PEM_CERTIFICATE not in data:
        return "must name a PEM file of CA certificates (no `BEGIN CERTIFICATE` in it)"
    return None


def _conflicts(settings: Settings) -> list[str]:
    """Problems between variables that are each valid alone."""
    problems: list[str] = []
    if not settings.cache_enabled:
        for name, value in (
            (CACHE_NEGATIVE_TTL_SECONDS, settings.cache_negative_ttl_seconds),
            (CACHE_STALE_IF_ERROR_SECONDS, settings.cache_stale_if_error_seconds),
        ):
            if value != 0:
                problems.append(f"`{name}` needs the cache on: set `{CACHE_TTL_SECONDS}` above 0")
    sort_keys = {USER_SORT_KEY: settings.user_sort_key, CLIENT_SORT_KEY: settings.client_sort_key}
    if settings.sort_key_attribute is not None:
        problems += [
            f"`{SORT_KEY_ATTRIBUTE}` is set, so `{name}` must give the sort key's value (a "
            "template such as `PROFILE` or `PROFILE#{sub}`)"
            for name, value in sort_keys.items()
            if value is None
        ]
    else:
        problems += [
            f"`{name}` needs `{SORT_KEY_ATTRIBUTE}`, the name of the table's sort key"
            for name, value in sort_keys.items()
            if value is not None
        ]
    lookup, margin = settings.lookup_timeout_ms, settings.deadline_margin_ms
    if lookup + margin > COGNITO_BUDGET_MS:
        problems.append(
            f"`{LOOKUP_TIMEOUT_MS}` + `{DEADLINE_MARGIN_MS}` must fit in Cognito's "
            f"{COGNITO_BUDGET_MS} ms budget, got {lookup} + {margin}"
        )
    return problems
