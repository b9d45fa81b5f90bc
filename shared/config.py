"""Settings: the frozen `Settings`, and `load_settings`, which reads them from the environment.

The only module that reads configuration; the variable names are its own private constants
(`VARIABLES` lists them). `load_settings` takes a mapping (the handler passes `os.environ`,
tests pass a dict), checks every value against an explicit accepted set or range,
and raises one `ConfigError` naming every bad variable, so a bad deploy fails at init, never on a
user's sign-in. Units are in the names; `0` means off where the README says so.
"""

from collections.abc import Callable, Mapping
from typing import Final, Literal, TypeVar

import msgspec

from shared.errors import ConfigError

__all__ = (
    "COGNITO_BUDGET_MS",
    "DEFAULT_CLAIMS_BUDGET_BYTES",
    "VARIABLES",
    "LogLevel",
    "Settings",
    "load_settings",
)

_TABLE_NAME: Final = "TABLE_NAME"
_KEY_ATTRIBUTE: Final = "KEY_ATTRIBUTE"
_USER_KEY: Final = "USER_KEY"
_CLIENT_KEY: Final = "CLIENT_KEY"
_SORT_KEY_ATTRIBUTE: Final = "SORT_KEY_ATTRIBUTE"
_USER_SORT_KEY: Final = "USER_SORT_KEY"
_CLIENT_SORT_KEY: Final = "CLIENT_SORT_KEY"
_CONSISTENT_READ: Final = "CONSISTENT_READ"
_RESPONSE_FORMAT: Final = "RESPONSE_FORMAT"
_CACHE_TTL_SECONDS: Final = "CACHE_TTL_SECONDS"
_CACHE_MAX_ENTRIES: Final = "CACHE_MAX_ENTRIES"
_CACHE_NEGATIVE_TTL_SECONDS: Final = "CACHE_NEGATIVE_TTL_SECONDS"
_CACHE_STALE_IF_ERROR_SECONDS: Final = "CACHE_STALE_IF_ERROR_SECONDS"
_LOOKUP_TIMEOUT_MS: Final = "LOOKUP_TIMEOUT_MS"
_DEADLINE_MARGIN_MS: Final = "DEADLINE_MARGIN_MS"
_STORE_MAX_ATTEMPTS: Final = "STORE_MAX_ATTEMPTS"
_ON_MISSING: Final = "ON_MISSING"
_ON_ERROR: Final = "ON_ERROR"
_LOG_LEVEL: Final = "LOG_LEVEL"
_SERVICE_NAME: Final = "SERVICE_NAME"
_CLAIMS_CONFIG: Final = "CLAIMS_CONFIG"
_CLAIMS_BUDGET_BYTES: Final = "CLAIMS_BUDGET_BYTES"
_ID_TOKEN_MAX_BYTES: Final = "ID_TOKEN_MAX_BYTES"
_ACCESS_TOKEN_MAX_BYTES: Final = "ACCESS_TOKEN_MAX_BYTES"
_METRICS: Final = "METRICS"
_METRICS_NAMESPACE: Final = "METRICS_NAMESPACE"
_EXPLAIN_CLIENTS: Final = "EXPLAIN_CLIENTS"
_EXPLAIN_SAMPLE: Final = "EXPLAIN_SAMPLE"
_AWS_REGION: Final = "AWS_REGION"
_AWS_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"
_AWS_ENDPOINT_URL_DYNAMODB: Final = "AWS_ENDPOINT_URL_DYNAMODB"
_AWS_ENDPOINT_URL: Final = "AWS_ENDPOINT_URL"
_AWS_CA_BUNDLE: Final = "AWS_CA_BUNDLE"

VARIABLES: Final = frozenset({
    _TABLE_NAME, _KEY_ATTRIBUTE, _USER_KEY, _CLIENT_KEY, _SORT_KEY_ATTRIBUTE, _USER_SORT_KEY,
    _CLIENT_SORT_KEY, _CONSISTENT_READ, _RESPONSE_FORMAT, _CACHE_TTL_SECONDS, _CACHE_MAX_ENTRIES,
    _CACHE_NEGATIVE_TTL_SECONDS, _CACHE_STALE_IF_ERROR_SECONDS, _LOOKUP_TIMEOUT_MS,
    _DEADLINE_MARGIN_MS, _STORE_MAX_ATTEMPTS, _ON_MISSING, _ON_ERROR, _LOG_LEVEL, _SERVICE_NAME,
    _CLAIMS_CONFIG, _CLAIMS_BUDGET_BYTES, _ID_TOKEN_MAX_BYTES, _ACCESS_TOKEN_MAX_BYTES, _METRICS,
    _METRICS_NAMESPACE, _EXPLAIN_CLIENTS, _EXPLAIN_SAMPLE, _AWS_REGION, _AWS_DEFAULT_REGION,
    _AWS_ENDPOINT_URL_DYNAMODB, _AWS_ENDPOINT_URL, _AWS_CA_BUNDLE,
})  # fmt: skip
"""Every environment variable `load_settings` reads."""

COGNITO_BUDGET_MS: Final = 5000
"""Cognito waits at most this long for the trigger, whatever the function's own timeout."""

DEFAULT_CLAIMS_BUDGET_BYTES: Final = 65_536
"""Default bound on the JSON bytes of the claims one token takes from the item."""
_MAX_CLAIMS_BUDGET_BYTES: Final = 1_048_576
"""Two tokens at this bound, plus static claims and V1's re-quoting, stay far below Lambda's
6 MB response limit."""

_TOKEN_RANGE: Final = (1024, 1_048_576)
"""A token budget, when on: 1 KB barely holds a token without claims; no transport carries 1 MB."""

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
_T = TypeVar("_T")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the trigger is configured with, built once per container.

    Parameters
    ----------
    table_name
        DynamoDB table holding the profile items (`TABLE_NAME`); None when unset, which only
        a claim mapping that reads no item (or names every table it reads) allows: checked
        where the mapping is known (`shared.deps`).
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
    region, endpoint_url, ca_bundle
        AWS region, an optional DynamoDB endpoint (moto, dynalite, DynamoDB Local), and a PEM
        file of CA certificates https is verified against instead of the bundled roots.
    claims_config
        Path of the claim mapping file (`CLAIMS_CONFIG`); None for the built-in mapping.
    claims_budget_bytes
        Most bytes of compact JSON the claims taken from the item may fill per token; past it
        the largest are dropped (`CLAIMS_BUDGET_BYTES`).
    id_token_max_bytes, access_token_max_bytes
        Most bytes of each encoded token as Cognito will issue it (estimated); past it the
        claims the rules take from the data are shed, lowest `priority` first; 0 turns the
        budget off (`ID_TOKEN_MAX_BYTES`, `ACCESS_TOKEN_MAX_BYTES`).
    metrics, metrics_namespace
        CloudWatch EMF metrics on each invocation's line, and their namespace.
    explain_clients, explain_sample
        App client ids whose invocations log the mapping's trace (`EXPLAIN_CLIENTS`), and the
        share 0..1 of all others that do too (`EXPLAIN_SAMPLE`).
    """

    table_name: str | None = None
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
    id_token_max_bytes: int = 0
    access_token_max_bytes: int = 0
    metrics: bool = True
    metrics_namespace: str = "CognitoPretoken"
    explain_clients: frozenset[str] = frozenset()
    explain_sample: float = 0.0

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

    def integer(self, name: str, low: int, high: int, *, off: bool = False) -> int | None:
        def parse(raw: str) -> int:  # in low..high, or 0 for off when `off`
            value = int(raw)
            if not (low <= value <= high or (off and value == 0)):
                raise ValueError(raw)
            return value

        expected = f"an integer in {low}..{high}"
        return self._parse(name, parse, f"0 (off) or {expected}" if off else expected)

    def seconds(self, name: str, high: float, what: str = "a number of seconds") -> float | None:
        def parse(raw: str) -> float:
            value = float(raw)
            if not 0 <= value <= high:  # also rejects nan
                raise ValueError(raw)
            return value

        return self._parse(name, parse, f"{what} in 0..{high:g}")

    def names(self, name: str) -> frozenset[str] | None:
        """A comma-separated list; blank entries are ignored."""
        parts = (self.text(name) or "").split(",")
        return frozenset(part.strip() for part in parts if part.strip()) or None

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

    def pem_file(self, name: str) -> str | None:
        """A path naming a readable file that holds a PEM certificate (a CA bundle)."""
        if (path := self.text(name)) is None:
            return None
        try:
            with open(path, "rb") as file:
                if b"-----BEGIN CERTIFICATE-----" in file.read(16 * 1024 * 1024):
                    return path
            problem = "must name a PEM file of CA certificates (no `BEGIN CERTIFICATE` in it)"
        except FileNotFoundError:
            problem = "must name an existing file"
        except OSError as exc:
            problem = f"must name a readable file ({exc.strerror or type(exc).__name__})"
        self.problems.append(f"`{name}` {problem}, got `{path!r}`")
        return None

    def first(self, *names: str) -> tuple[str, str] | None:
        """The first of `names` that is set, with its value: the specific variable first."""
        for name in names:
            value = self.text(name)
            if value is not None:
                return name, value
        return None


_DAY_SECONDS: Final = 86_400.0


def _aws_values(read: _Reader) -> dict[str, object]:
    """The region, endpoint and CA bundle, as an AWS SDK finds them (the specific one first)."""
    endpoint = read.first(_AWS_ENDPOINT_URL_DYNAMODB, _AWS_ENDPOINT_URL)
    if endpoint is not None and not endpoint[1].startswith(("http://", "https://")):
        name, value = endpoint
        read.problems.append(f"`{name}` must be an http:// or https:// URL, got `{value!r}`")
    region = read.first(_AWS_REGION, _AWS_DEFAULT_REGION)
    if region is None:
        read.problems.append(
            f"`{_AWS_REGION}` is required (Lambda sets it; set it when run locally)"
        )
    return {
        "region": region[1] if region else None,
        "endpoint_url": endpoint[1] if endpoint else None,
        "ca_bundle": read.pem_file(_AWS_CA_BUNDLE),
    }


def _function_values(read: _Reader) -> dict[str, object]:
    """Every setting of the function's own, parsed (None: unset or invalid)."""
    return {
        "table_name": read.text(_TABLE_NAME),
        "key_attribute": read.text(_KEY_ATTRIBUTE),
        "user_key": read.text(_USER_KEY),
        "client_key": read.text(_CLIENT_KEY),
        "sort_key_attribute": read.text(_SORT_KEY_ATTRIBUTE),
        "user_sort_key": read.text(_USER_SORT_KEY),
        "client_sort_key": read.text(_CLIENT_SORT_KEY),
        "consistent_read": read.boolean(_CONSISTENT_READ),
        "response_format": read.choice(_RESPONSE_FORMAT, ("auto", "v1", "v2")),
        "cache_ttl_seconds": read.seconds(_CACHE_TTL_SECONDS, _DAY_SECONDS),
        "cache_max_entries": read.integer(_CACHE_MAX_ENTRIES, 1, 10_000_000),
        "cache_negative_ttl_seconds": read.seconds(_CACHE_NEGATIVE_TTL_SECONDS, _DAY_SECONDS),
        "cache_stale_if_error_seconds": read.seconds(_CACHE_STALE_IF_ERROR_SECONDS, _DAY_SECONDS),
        "lookup_timeout_ms": read.integer(_LOOKUP_TIMEOUT_MS, 1, 4500),
        "deadline_margin_ms": read.integer(_DEADLINE_MARGIN_MS, 0, 4000),
        "store_max_attempts": read.integer(_STORE_MAX_ATTEMPTS, 1, 5),
        "on_missing": read.choice(_ON_MISSING, ("allow", "deny")),
        "on_error": read.choice(_ON_ERROR, ("deny", "allow")),
        "log_level": read.choice(_LOG_LEVEL, ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
        "service_name": read.text(_SERVICE_NAME),
        "claims_config": read.text(_CLAIMS_CONFIG),
        "claims_budget_bytes": read.integer(_CLAIMS_BUDGET_BYTES, 1024, _MAX_CLAIMS_BUDGET_BYTES),
        "id_token_max_bytes": read.integer(_ID_TOKEN_MAX_BYTES, *_TOKEN_RANGE, off=True),
        "access_token_max_bytes": read.integer(_ACCESS_TOKEN_MAX_BYTES, *_TOKEN_RANGE, off=True),
        "metrics": read.boolean(_METRICS),
        "metrics_namespace": read.text(_METRICS_NAMESPACE),
        "explain_clients": read.names(_EXPLAIN_CLIENTS),
        "explain_sample": read.seconds(_EXPLAIN_SAMPLE, 1, "a share of the invocations"),
    }


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
    values = {**_aws_values(read), **_function_values(read)}
    present = {name: value for name, value in values.items() if value is not None}
    try:
        settings = msgspec.convert(present, Settings)
    except msgspec.ValidationError as exc:  # unreachable unless a parser above is wrong
        raise ConfigError(f"invalid configuration: {exc}") from exc
    problems = read.problems + _conflicts(settings)
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return settings


def _conflicts(settings: Settings) -> list[str]:
    """Problems between variables that are each valid alone."""
    problems: list[str] = []
    if not settings.cache_enabled:
        for name, value in (
            (_CACHE_NEGATIVE_TTL_SECONDS, settings.cache_negative_ttl_seconds),
            (_CACHE_STALE_IF_ERROR_SECONDS, settings.cache_stale_if_error_seconds),
        ):
            if value != 0:
                problems.append(f"`{name}` needs the cache on: set `{_CACHE_TTL_SECONDS}` above 0")
    sort_keys = {_USER_SORT_KEY: settings.user_sort_key, _CLIENT_SORT_KEY: settings.client_sort_key}
    if settings.sort_key_attribute is not None:
        # Machine clients may go without (a pool without any): their events then have no key.
        if settings.user_sort_key is None:
            problems.append(
                f"`{_SORT_KEY_ATTRIBUTE}` is set, so `{_USER_SORT_KEY}` must give the sort key's "
                "value (a template such as `PROFILE` or `PROFILE#{sub}`)"
            )
    else:
        problems += [
            f"`{name}` needs `{_SORT_KEY_ATTRIBUTE}`, the name of the table's sort key"
            for name, value in sort_keys.items()
            if value is not None
        ]
    lookup, margin = settings.lookup_timeout_ms, settings.deadline_margin_ms
    if lookup + margin > COGNITO_BUDGET_MS:
        problems.append(
            f"`{_LOOKUP_TIMEOUT_MS}` + `{_DEADLINE_MARGIN_MS}` must fit in Cognito's "
            f"{COGNITO_BUDGET_MS} ms budget, got {lookup} + {margin}"
        )
    return problems
