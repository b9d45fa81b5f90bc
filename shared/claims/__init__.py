"""The claim mapping: the `CLAIMS_CONFIG` format, its load-time checks, and its application.

The curated surface of the sub-package. At init, `load_rules` (a file) or `parse_rules` (bytes)
decodes, checks and compiles a mapping into `Rules`, one `Section` for users and one for machine
clients; `DEFAULT_RULES` is the built-in mapping. Per event, `apply` walks a section over what
was read and returns a `ClaimSet` or a `Denial`; `denial` checks only the deny grants, for
tokens issued without a profile.

Modules: `file` (the format), `check` and `compile` (load-time checks and compilation, `reads`
for the sources a section reads), `model` (the compiled Structs), `guard` (Cognito's rules, at
load time and run time), `conditions` (`when`), `budget` (`CLAIMS_BUDGET_BYTES`), `apply`.
"""

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
)

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
    "apply",
    "denial",
    "load_rules",
    "parse_rules",
)
