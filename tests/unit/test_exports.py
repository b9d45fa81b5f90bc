"""Each `shared` module's `__all__` is its intended public surface: held here, name by name.

The table is the design, written down: adding a public name to a module is a decision, made here
too (httpx's `test_exported_members.py` does the same). A helper a module defines for itself
stays `_private` and out of `__all__`.
"""

import importlib

import pytest

from tests.conftest import ROOT

INTENDED: dict[str, set[str]] = {
    "cache": {"Clock", "Outcome", "Result", "TTLCache"},
    "claims": {
        "ClaimRule", "ClaimSet", "ClaimType", "DEFAULT_MAPPING", "EMPTY_CLAIMS", "GroupOverride",
        "Mapping", "NO_OBJECT_ID_CLAIMS", "RESERVED_CLAIMS", "Section", "Token", "apply_mapping",
        "fits_type", "override_groups", "place_claim", "reserved_reason", "scope_reason",
        "suppress_reason",
    },
    "config": {
        "AWS_CA_BUNDLE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_REGION",
        "CACHE_MAX_ENTRIES", "CACHE_NEGATIVE_TTL_SECONDS", "CACHE_STALE_IF_ERROR_SECONDS",
        "CACHE_TTL_SECONDS", "CLAIMS_CONFIG", "CLIENT_KEY", "COGNITO_BUDGET_MS", "CONSISTENT_READ",
        "DEADLINE_MARGIN_MS", "KEY_ATTRIBUTE", "LOG_LEVEL", "LOOKUP_TIMEOUT_MS", "LogLevel",
        "METRICS", "METRICS_NAMESPACE", "ON_ERROR", "ON_MISSING", "RESPONSE_FORMAT",
        "SERVICE_NAME", "STORE_MAX_ATTEMPTS", "Settings", "TABLE_NAME", "USER_KEY",
        "load_settings", "SORT_KEY_ATTRIBUTE", "USER_SORT_KEY", "CLIENT_SORT_KEY",
        "CLAIMS_BUDGET_BYTES", "DEFAULT_CLAIMS_BUDGET_BYTES",
    },
    "deps": {"Cached", "Deps", "Principal", "ProfileSource", "build_deps", "open_deps"},
    "errors": {
        "ConfigError", "DENIED_NO_PROFILE", "DENIED_UNAVAILABLE", "EventError", "ItemError",
        "PretokenError", "SignInDenied", "StoreError", "StoreThrottled", "StoreTimeout",
        "StoreUnavailable",
    },
    "invocation": {"CacheResult", "Invocation", "Outcome", "Reason", "log_invocation"},
    "credentials": {"REFRESH_BEFORE_SECONDS", "ContainerCredentials", "credentials_from"},
    "item": {
        "ABSENT", "Item", "RawKey", "decode_batch_get", "decode_get_item", "decode_item",
        "decode_query", "lookup_path",
    },
    "keys": {"KeyTemplate", "KeyUse", "MAX_METADATA_CHARS", "PLACEHOLDERS", "read_metadata"},
    "lifecycle": {"PRIME_KEY", "prime", "renew"},
    "lookup": {
        "MAX_QUERIES", "MAX_QUERY_LIMIT", "MAX_RELATED", "PRIMARY", "ItemRead", "ItemSource",
        "ItemSpec", "Lookup", "LookupSpec", "QueryRead", "QuerySource", "QuerySpec",
        "build_lookup",
    },
    "mapping": {"load_mapping", "parse_mapping"},
    "models": {
        "CLIENT_CREDENTIALS", "CallerContext", "Event", "GroupConfiguration", "JSONValue",
        "Request", "UserAttributes", "decode_event", "encode_json", "version_number",
    },
    "policy": {
        "Condition", "Context", "Denial", "EMPTY_CONTEXT", "Grant", "TRIGGER_SOURCES",
        "apply_grants", "build_context", "compile_condition", "find_denial",
    },
    "reader": {"Profile", "Reads", "peek", "read", "render"},
    "response": {"Shape", "blank_response", "build_response", "choose_shape"},
    "store": {"Client", "Store", "open_client", "tls_context"},
    "telemetry": {"Logger"},
    "transport": {
        "Codec", "Http", "IDLE_SECONDS", "LlhttpCodec", "MAX_BODY_BYTES", "MAX_IDLE_PER_ORIGIN",
        "MalformedResponse", "ProtocolError", "ResponseTooLarge", "ResponseTruncated", "Transport",
    },
    "trigger": {"answer"},
}  # fmt: skip

MODULES = sorted(p.stem for p in (ROOT / "shared").glob("*.py") if p.stem != "__init__")


def test_exports_every_module_has_an_intended_surface() -> None:
    assert sorted(INTENDED) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_exports_are_the_intended_surface(name: str) -> None:
    module = importlib.import_module(f"shared.{name}")
    assert set(module.__all__) == INTENDED.get(name), f"`shared.{name}.__all__` drifted"
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    missing = [item for item in module.__all__ if not hasattr(module, item)]
    assert not missing, f"`shared.{name}` exports names it does not define: {missing}"


def test_shared_package_imports_nothing() -> None:
    # Importing one module must not import them all (every import is cold start).
    assert (ROOT / "shared" / "__init__.py").read_text().strip() == ""
