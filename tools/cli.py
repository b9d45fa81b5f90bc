"""How every tool ends: a configuration error is printed as its message alone, status 2.

A `ConfigError` (a setting, the claim mapping, a case file) already names the file, the place
and what is wrong, like a linter's message; a traceback around it would only bury it. The make
targets (`make invoke`, `make check-mapping`, `make explain`, `make schema`) run their tool
through `run`, so make then reports `Error 2`.
"""

import sys
from collections.abc import Callable

from shared.errors import ConfigError

__all__ = ("CONFIG_ERROR", "run")

CONFIG_ERROR = 2
"""Exit status of a tool stopped by a configuration error."""


def run(main: Callable[[], int]) -> int:
    """Call `main` and return its status; a `ConfigError` prints its message to stderr: 2."""
    try:
        return main()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_ERROR
