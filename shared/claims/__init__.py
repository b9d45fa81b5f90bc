"""The claim mapping: the `CLAIMS_CONFIG` format, its load-time checks, and its application.

The curated surface of the sub-package. At init, `load_rules` (a file) or `parse_rules` (bytes)
decodes, checks and compiles a mapping into `Rules`, one `Section` for users and one for machine
clients; `DEFAULT_RULES` is the built-in mapping. Per event, `apply` walks a section over what
was read and returns a `ClaimSet` or a `Denial`; `denial` checks only the deny grants, for
tokens issued without a profile.

Modules: `file` (the format), `check` and `compile` (load-time checks and compilation, `reads`
for the sources a section reads), `model` (the compiled Structs), `guard` (Cognito's rules, at
load time and run time), `conditions` (`when`), `budget` (`CLAIMS_BUDGET_BYTES`), `engine`
(`apply`, `denial`), `explain` (what they did, by position and code: a `Trace`, for an
explained invocation; imported when first used, never at cold start).
"""

from typing import TYPE_CHECKING, Any

from shared.claims.compile import load_rules, parse_rules
from shared.claims.engine import NO_METADATA, apply, denial
from shared.claims.guard import RESERVED_CLAIMS, Token
from shared.claims.model import (
    DEFAULT_RULES,
    EMPTY_CLAIMS,
    ClaimSet,
    Denial,
    GroupOverride,
    Rules,
    Section,
    Trace,
)

if TYPE_CHECKING:
    from shared.claims.explain import explain_apply, explain_denial

__all__ = (
    "DEFAULT_RULES",
    "EMPTY_CLAIMS",
    "NO_METADATA",
    "RESERVED_CLAIMS",
    "ClaimSet",
    "Denial",
    "GroupOverride",
    "Rules",
    "Section",
    "Token",
    "Trace",
    "apply",
    "denial",
    "explain_apply",
    "explain_denial",
    "load_rules",
    "parse_rules",
)


def __getattr__(name: str) -> Any:
    """`explain_apply` and `explain_denial`, imported on first use: only explained invocations
    need them."""
    if name in ("explain_apply", "explain_denial"):
        from shared.claims import explain  # noqa: PLC0415 (kept out of the cold start)

        return getattr(explain, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
