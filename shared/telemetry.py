"""Structured logs and CloudWatch metrics: one JSON line per event, written with orjson.

Keys follow Powertools (`level`, `message`, `timestamp`, `service`, `cold_start`,
`function_request_id`) so existing CloudWatch Logs Insights queries work. Callers pass only
low-cardinality facts (outcome, shape, cache result, error class, timings); user attributes,
claim values and tokens are never logged at INFO or above.

Metrics use CloudWatch Embedded Metric Format, in the same line as the invocation's log record
(EMF ignores the other keys), so an invocation writes one line: `_aws` names the namespace, the
one dimension (`Service`, never user data) and the metrics, whose values sit at the top level.
The directive for a set of metric names is built once and reused. A metric per value of a
second dimension (`TokenBytes` per `Token`) needs a line per value, since one EMF line holds one
value per dimension key: `log_dimensioned` writes those metrics-only lines, from templates built
once per metric, dimension and value (and the text between the timestamps once per set of
values), and `log` writes them before its own line in the same write (`by_dimension`). Knows
nothing of the other modules.
"""

import sys
import time
from collections.abc import Callable, Mapping
from typing import Final, TypeAlias

import orjson

__all__ = ("DimensionValues", "Logger")

DimensionValues: TypeAlias = tuple[tuple[str, int], ...]
"""A metric's values per value of a dimension, in order: `(("id", 1834), ("access", 1201))`
(immutable, so the text of a set of them is kept by their value)."""

_Key: TypeAlias = tuple[str, str, DimensionValues | Mapping[str, int]]
"""A metric, its dimension and their values (always pairs once kept)."""
_LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_MILLISECONDS_METRICS: Final = frozenset({"Latency"})
"""Metrics measured in milliseconds; every other metric is a `Count`, but these:"""
_BYTES_METRICS: Final = frozenset({"TokenBytes"})
"""Metrics of a size in bytes."""
_MAX_METRICS: Final = 100  # CloudWatch's limit per EMF directive
_NO_LINES: Final[dict[str, tuple[str, str]]] = {}
_TWO_LINES: Final = 3
"""The pieces of two lines' text (three around their two timestamps)."""
_RENDERED_AT_MOST: Final = 1024
"""Sets of `log_dimensioned` values whose text is kept (sizes repeat: a user's, again)."""
_MILLIS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))
"""A timestamp's tail for each millisecond: one lookup instead of a format per line."""


def _stdout(line: str) -> None:
    # Looked up per call: the Lambda runtime and test capture both replace sys.stdout.
    sys.stdout.write(line)


class Logger:
    """Writes JSON log lines at or above a threshold, with EMF metrics when a namespace is set."""

    __slots__ = (
        "_dimensioned",
        "_directives",
        "_namespace",
        "_rendered",
        "_second",
        "_second_text",
        "_service",
        "_threshold",
        "_write",
    )

    def __init__(
        self,
        service: str,
        level: str,
        write: Callable[[str], object] = _stdout,
        *,
        metrics_namespace: str | None = None,
    ) -> None:
        """`metrics_namespace` None turns metrics off."""
        self._service = service
        self._threshold = _LEVELS[level]
        self._write = write
        self._namespace = metrics_namespace
        self._second = -1
        self._second_text = ""
        self._directives: dict[tuple[str, ...], orjson.Fragment] = {}
        self._dimensioned: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        self._rendered: dict[_Key, tuple[str, ...]] = {}

    @property
    def metrics_on(self) -> bool:
        """Whether metrics are written."""
        return self._namespace is not None

    def _timestamp(self, millis: int) -> str:
        second, ms = divmod(millis, 1000)
        if second != self._second:
            # strftime costs more than the rest of a log line: once per second is enough.
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._second_text + _MILLIS[ms]

    def _directive(self, names: tuple[str, ...]) -> orjson.Fragment:
        """The `CloudWatchMetrics` value for a set of metric names, serialized once."""
        directive = self._directives.get(names)
        if directive is None:
            directive = orjson.Fragment(
                orjson.dumps(
                    [
                        {
                            "Namespace": self._namespace,
                            "Dimensions": [["Service"]],
                            "Metrics": [
                                {
                                    "Name": name,
                                    "Unit": "Milliseconds"
                                    if name in _MILLISECONDS_METRICS
                                    else "Count",
                                }
                                for name in names[:_MAX_METRICS]
                            ],
                        }
                    ]
                )
            )
            self._directives[names] = directive
        return directive

    def _line(self, metric: str, dimension: str, value: str) -> tuple[str, str]:
        """The `log_dimensioned` line for `dimension` = `value`, built once: what comes before
        the timestamp's digits, and between them and the metric's."""
        unit = "Bytes" if metric in _BYTES_METRICS else "Count"
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [["Service", dimension]],
            "Metrics": [{"Name": metric, "Unit": unit}],
        }
        record = {"Service": self._service, dimension: value}
        parts = ([directive], record, metric)
        directives, dimensions, name = (orjson.dumps(part).decode() for part in parts)
        line = (
            '{"_aws":{"Timestamp":',
            f',"CloudWatchMetrics":{directives}}},{dimensions[1:-1]},{name}:',
        )
        self._dimensioned.setdefault((metric, dimension), {})[value] = line
        return line

    def log_dimensioned(self, metric: str, dimension: str, values: Mapping[str, int]) -> None:
        """Write `metric` once per value of `dimension`: `{"id": 1834, "access": 1201}`.

        One metrics-only EMF line per entry (dimensions `Service` and `dimension`, the entry's
        key its value), all in one write, whatever the log level; nothing when metrics are off
        or `values` is empty. `dimension` and the keys must be low-cardinality names, never
        user data. `log` writes the same lines before its own when given `by_dimension`.
        """
        if self._namespace is not None and values:
            pairs = tuple(values.items())
            self._write(self._dimensioned_lines(metric, dimension, pairs, _now_millis()))

    def _dimensioned_lines(
        self, metric: str, dimension: str, pairs: DimensionValues, millis: int
    ) -> str:
        """The lines for `pairs` at `millis`."""
        return str(millis).join(self._pieces((metric, dimension, pairs)))

    def _pieces(self, key: _Key) -> tuple[str, ...]:
        """The text around the timestamps of the lines for `key` (metric, dimension, pairs),
        built once per set of pairs (a user's sizes repeat): the lines are its join."""
        pieces = self._rendered.get(key)
        if pieces is None:
            pieces = self._render(*_as_pairs(key))
            if len(self._rendered) >= _RENDERED_AT_MOST:
                self._rendered.clear()
            self._rendered[key] = pieces
        return pieces

    def _render(self, metric: str, dimension: str, pairs: DimensionValues) -> tuple[str, ...]:
        """What comes between the timestamps of `pairs`' lines: the text is their join."""
        lines = self._dimensioned.get((metric, dimension), _NO_LINES)
        pieces = [""]
        for name, value in pairs:
            head, middle = lines.get(name) or self._line(metric, dimension, name)
            pieces[-1] += head
            pieces.append(f"{middle}{int(value)}}}\n")
        return tuple(pieces)

    def enabled(self, level: str) -> bool:
        """Whether a line at `level` would be written; check before building a costly payload."""
        return _LEVELS[level] >= self._threshold

    def log(
        self,
        level: str,
        message: str,
        fields: Mapping[str, object] | None = None,
        metrics: Mapping[str, float] | None = None,
        *,
        by_dimension: tuple[str, str, DimensionValues | Mapping[str, int]] | None = None,
    ) -> None:
        """Write one line: `level`, `message`, `timestamp`, `service`, `fields`, and `metrics`.

        Below the threshold the log keys are left out, but `metrics` (when on) are still
        written: metrics never depend on the log level. `by_dimension` (`("TokenBytes",
        "Token", (("id", 1834),))`, or a mapping for the pairs) adds `log_dimensioned`'s lines
        before it, in the same write, with the same timestamp, when metrics are on.
        """
        logged = _LEVELS[level] >= self._threshold
        measured = metrics is not None and self._namespace is not None
        if not logged and not measured:
            return
        millis = _now_millis()
        record: dict[str, object]
        if logged:
            record = {
                "level": level,
                "message": message,
                "timestamp": self._timestamp(millis),
                "service": self._service,
            }
            if fields:
                record.update(fields)
        else:
            record = {}
        pieces: tuple[str, ...] = ()
        if measured and metrics is not None:
            record["_aws"] = {
                "Timestamp": millis,
                "CloudWatchMetrics": self._directive(tuple(metrics)),
            }
            record["Service"] = self._service
            record.update(metrics)
            if by_dimension is not None and by_dimension[2]:
                key = by_dimension if type(by_dimension[2]) is tuple else _as_pairs(by_dimension)
                # A kept text's lookup inline (a hit, the common case); `_pieces` renders.
                pieces = self._rendered.get(key) or self._pieces(key)
        line = orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE).decode()
        if not pieces:
            self._write(line)
        elif len(pieces) == _TWO_LINES:  # both tokens: the whole text made at once
            stamp = str(millis)
            self._write("".join((pieces[0], stamp, pieces[1], stamp, pieces[2], line)))
        else:
            self._write(str(millis).join(pieces) + line)


def _as_pairs(by_dimension: _Key) -> tuple[str, str, DimensionValues]:
    """`by_dimension` with a mapping's items as its pairs, in order."""
    metric, dimension, values = by_dimension
    return (metric, dimension, tuple(values.items()) if isinstance(values, Mapping) else values)


def _now_millis() -> int:
    return int(time.time() * 1000)
