"""Each `shared` module's `__all__` (sub-packages included) is its intended public surface.

The table is the design, written down: adding a public name to a module is a decision, made here
too (httpx's `test_exported_members.py` does the same). A helper a module defines for itself
stays `_private` and out of `__all__`.
"""

import importlib
from pathlib import Path

import pytest

from tests.conftest import ROOT

INTENDED: dict[str, set[str]] = {
    "answer_memo": {"AnswerInputs", "AnswerMemo", "EVENT_FIELDS", "REMEMBERED_ANSWERS"},
    "claims": {
        "ClaimSet", "DEFAULT_RULES", "Denial", "EMPTY_CLAIMS", "GroupOverride", "NO_METADATA",
        "RESERVED_CLAIMS", "Rules", "Section", "Token", "Trace", "apply", "denial", "explain_apply",
        "explain_denial", "load_rules",
        "parse_rules",
    },
    "claims.engine": {"NO_METADATA", "apply", "apply_grants", "denial"},
    "claims.event_checks": {"compile_attribute_groups", "compile_event_read", "settle_reads"},
    "claims.from_event": {
        "AttributeGroups", "EVENT", "EVENT_SOURCES", "EventRead", "IDENTITIES", "IDENTITY",
        "IDENTITY_ATTRIBUTES", "Identity", "MAX_NUMBER_DIGITS", "UserCondition", "UserFacts",
        "parse_boolean",
        "parse_identity", "parse_list", "parse_number",
    },
    "claims.groups": {"edited_groups", "group_override", "section_groups"},
    "claims.budget": {"fit_budget", "size_bound"},
    "claims.explain": {"explain_apply", "explain_denial", "first_failing"},
    "claims.check": {
        "Checker", "STATIC_CLAIMS_MAX_BYTES", "SectionName", "listed", "metadata_alone",
    },
    "claims.compile": {"DEFAULT_TABLE_KEYS", "load_rules", "parse_rules"},
    "claims.conditions": {
        "CONTEXT_PARTS", "Condition", "Context", "EMPTY_CONTEXT", "build_context",
        "compile_condition",
    },
    "claims.file": {
        "GrantFile", "Groups", "ItemFile", "MAX_FILE_BYTES", "MappingFile", "QueryFile",
        "RelatedFile", "RequestFile", "RuleFile", "Scopes", "SectionFile", "StaticFile", "Suppress",
        "TableFile", "WhenFile", "decode_file", "read_file", "unknown_field_hint",
    },
    "claims.guard": {
        "ClaimType", "GUARDED_CLAIMS", "ListParse", "NO_OBJECT_ID_CLAIMS", "RESERVED_CLAIMS",
        "TRIGGER_SOURCES", "Token", "fits_type", "place_claim", "plain_problem", "reserved_reason",
        "scope_reason", "suppress_reason",
    },
    "claims.model": {
        "ClaimRule", "ClaimSet", "DEFAULT_RULES", "Denial", "EMPTY_CLAIMS", "Grant",
        "GroupOverride", "Rules", "Section", "Trace",
    },
    "claims.reads": {"TableKeys", "check_sources", "compile_reads", "keyed_by_principal"},
    "config": {
        "COGNITO_BUDGET_MS", "DEFAULT_CLAIMS_BUDGET_BYTES", "LogLevel", "Settings", "VARIABLES",
        "load_settings",
    },
    "deps": {"Deps", "NO_STORE", "Principal", "PrincipalKind", "build_deps", "open_deps"},
    "errors": {
        "ConfigError", "DENIED_NO_PROFILE", "DENIED_UNAVAILABLE", "EventError", "ItemError",
        "PretokenError", "SignInDenied", "StoreError", "StoreThrottled", "StoreTimeout",
        "StoreUnavailable",
    },
    "event": {
        "CLIENT_CREDENTIALS", "CallerContext", "Event", "GroupConfiguration", "Request",
        "UserAttributes", "decode_event", "version_number",
    },
    "invocation": {
        "Invocation", "MAX_EXPLAIN_CHARS", "MAX_EXPLAIN_ENTRIES", "Outcome", "Reason",
        "log_invocation",
    },
    "lifecycle": {"PRIME_KEY", "prime", "renew"},
    "lookup": {
        "CacheResult", "Cached", "Clock", "ItemRead", "ItemSpec", "KeyTemplate", "KeyUse", "Lookup",
        "LookupSpec", "MAX_METADATA_CHARS", "MAX_QUERIES", "MAX_QUERY_LIMIT", "MAX_RELATED",
        "PRIMARY", "Profile", "ProfileSource", "QueryRead", "QuerySpec", "Reads", "Store",
        "TTLCache", "build_lookup", "decode_get_item", "decode_item", "peek", "read",
        "read_metadata", "render",
    },
    "lookup.cache": {"CacheOutcome", "Clock", "Result", "TTLCache"},
    "lookup.credentials": {"ContainerCredentials", "REFRESH_BEFORE_SECONDS", "credentials_from"},
    "lookup.codec": {
        "Codec", "LlhttpCodec", "MAX_BODY_BYTES", "MalformedResponse", "ProtocolError",
        "ResponseTooLarge", "ResponseTruncated",
    },
    "lookup.dynamodb": {"Connection", "open_connection", "tls_context"},
    "lookup.store": {"Sender", "Store", "backoff", "projection"},
    "lookup.transport": {"Http", "IDLE_SECONDS", "MAX_IDLE_PER_ORIGIN", "Transport"},
    "lookup.limits": {"MAX_PROJECTION_BYTES", "Projected", "projection_problems"},
    "lookup.keys": {"KeyTemplate", "KeyUse", "MAX_METADATA_CHARS", "PLACEHOLDERS", "read_metadata"},
    "lookup.profile": {
        "CacheResult", "Cached", "Profile", "ProfileSource", "Reads", "peek", "read", "render",
    },
    "lookup.sources": {
        "ItemRead", "ItemSource", "ItemSpec", "Lookup", "LookupSpec", "MAX_QUERIES",
        "MAX_QUERY_LIMIT", "MAX_RELATED", "PRIMARY", "QueryRead", "QuerySource", "QuerySpec",
        "build_lookup",
    },
    "lookup.wire": {"RawKey", "decode_batch_get", "decode_get_item", "decode_item", "decode_query"},
    "response": {"Shape", "blank_response", "build_response", "choose_shape"},
    "telemetry": {"Logger", "DimensionValues"},
    "tokens": {
        "OVER_TOKEN_BUDGET", "REMEMBERED_USERS", "Fitted", "Fitter", "IssuedClaims", "TokenSizes",
        "fit_tokens", "token_sizes",
    },
    "tokens.cognito": {
        "ACCESS_FIXED", "ACCESS_USER_FIXED", "CLIENT_ID_STAND_IN", "HEADER_CHARS", "ID_FIXED",
        "ID_SET", "SIGNATURE_CHARS", "SMART_FRAME", "access_token_claims", "base64url_chars",
        "device_key", "id_token_claims", "issuer", "members", "token_chars", "token_length",
        "user_sub",
    },
    "tokens.fit": {"OVER_TOKEN_BUDGET", "REMEMBERED_USERS", "Fitted", "Fitter", "fit_tokens"},
    "tokens.issued_claims": {"IssuedClaims", "TokenSizes"},
    "tokens.issued": {"AccessInputs", "IdInputs", "Issued", "token_sizes"},
    "tokens.longest": {"access_chars", "final_scopes", "id_chars", "preferred_role"},
    "tokens.shed": {"Candidate", "Shedding", "plan_shedding"},
    "tokens.size": {"TokenEstimate", "estimate_token"},
    "tokens.writers": {
        "FORMS", "NUMBER_FORMS", "UNESCAPED_ASCII", "WRITERS", "Forms", "claim_forms", "encode",
        "escapes", "has_inexact", "number_forms", "numbers_in", "spread",
    },
    "trigger": {"answer"},
    "values": {"ABSENT", "Item", "JSONValue", "encode_json", "lookup_path", "number_text"},
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT / "shared").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = sorted(name for path in (ROOT / "shared").rglob("*.py") if (name := _module_name(path)))


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
