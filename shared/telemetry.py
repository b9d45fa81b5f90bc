"""Structured logs: one JSON line per event, written with orjson to standard output.

Keys follow Powertools (`level`, `message`, `timestamp`, `service`, `cold_start`,
`function_request_id`) so existing CloudWatch Logs Insights queries work. Callers pass only
low-cardinality facts (outcome, shape, cache result, error class, timings); user attributes,
claim values and tokens are never logged at INFO or above. Knows nothing of the other modules.
"""

import sys
import time
from collections.abc import Callable, Mapping
from typing import Final

import orjson

__all__ = ("LEVELS", "Logger")

LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def _stdout(line: str) -> None:
    # Looked up per call: the Lambda runtime and test capture both replace sys.stdout.
    sys.stdout.write(line)


class Logger:
    """Writes JSON log lines at or above a threshold."""

    __slots__ = ("_second", "_second_text", "_service", "_threshold", "_write")

    def __init__(self, service: str, level: str, write: Callable[[str], None] = _stdout) -> None:
        self._service = service
        self._threshold = LEVELS[level]
        self._write = write
        self._second = -1
        self._second_text = ""

    def _timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            # strftime costs more than the rest of a log line: once per second is enough.
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"

    def enabled(self, level: str) -> bool:
        """Whether a line at `level` would be written; check before building a costly payload."""
        return LEVELS[level] >= self._threshold

    def log(self, level: str, message: str, fields: Mapping[str, object] | None = None) -> None:
        """Write one line: `level`, `message`, `timestamp`, `service`, then `fields`."""
        if LEVELS[level] < self._threshold:
            return
        record: dict[str, object] = {
            "level": level,
            "message": message,
            "timestamp": self._timestamp(),
            "service": self._service,
        }
        if fields:
            record.update(fields)
        self._write(orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE).decode())
