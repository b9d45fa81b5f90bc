"""Log lines: one JSON object per line, Powertools keys first, threshold respected."""

import json
import re

import pytest

from shared.telemetry import Logger


def test_logger_writes_one_json_line_with_standard_keys() -> None:
    lines: list[str] = []
    logger = Logger("svc", "INFO", lines.append)
    logger.log("INFO", "pretoken", {"outcome": "claims_added", "latency_ms": 1.5})
    logger.log("WARNING", "pretoken", {"error_kind": "timeout"})
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    first = json.loads(lines[0])
    assert list(first)[:4] == ["level", "message", "timestamp", "service"]
    assert first["service"] == "svc"
    assert first["outcome"] == "claims_added"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    assert json.loads(lines[1])["level"] == "WARNING"


def test_logger_threshold() -> None:
    lines: list[str] = []
    logger = Logger("svc", "WARNING", lines.append)
    assert not logger.enabled("INFO")
    assert logger.enabled("ERROR")
    logger.log("INFO", "hidden")
    logger.log("DEBUG", "hidden")
    logger.log("ERROR", "shown")
    assert [json.loads(line)["message"] for line in lines] == ["shown"]


def _emf_metrics(record: dict[str, object]) -> dict[str, str]:
    aws = record["_aws"]
    assert isinstance(aws, dict)
    assert isinstance(aws["Timestamp"], int)
    (directive,) = aws["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["Service"]]
    return {m["Name"]: m["Unit"] for m in directive["Metrics"]}


def test_logger_embeds_emf_metrics_in_the_same_line() -> None:
    lines: list[str] = []
    logger = Logger("svc", "INFO", lines.append, metrics_namespace="NS")
    logger.log("INFO", "pretoken", {"outcome": "x"}, {"Latency": 1.5, "CacheHit": 1})
    (line,) = lines
    record = json.loads(line)
    assert record["message"] == "pretoken"
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "NS"
    assert _emf_metrics(record) == {"Latency": "Milliseconds", "CacheHit": "Count"}
    assert (record["Latency"], record["CacheHit"], record["Service"]) == (1.5, 1, "svc")


def test_logger_metrics_do_not_depend_on_the_log_level() -> None:
    lines: list[str] = []
    logger = Logger("svc", "ERROR", lines.append, metrics_namespace="NS")
    logger.log("INFO", "pretoken", {"outcome": "x"}, {"Latency": 2.0})
    (line,) = lines
    record = json.loads(line)
    assert "message" not in record
    assert "outcome" not in record
    assert record["Latency"] == 2.0


def test_logger_without_namespace_writes_no_metrics() -> None:
    lines: list[str] = []
    logger = Logger("svc", "INFO", lines.append)
    logger.log("INFO", "pretoken", None, {"Latency": 2.0})
    assert "_aws" not in json.loads(lines[0])
    logger = Logger("svc", "ERROR", lines.append)
    logger.log("INFO", "pretoken", None, {"Latency": 2.0})
    assert len(lines) == 1


def test_logger_writes_a_metric_per_dimension_value_one_line_each() -> None:
    # One EMF line holds one value per dimension key: TokenBytes for Token=id and Token=access
    # are two lines (written at once), each read by CloudWatch as its own datapoint.
    writes: list[str] = []
    logger = Logger("svc", "ERROR", writes.append, metrics_namespace="NS")
    logger.log_dimensioned("TokenBytes", "Token", {"id": 1834, "access": 1201})
    (written,) = writes
    lines = written.splitlines(keepends=True)
    assert len(lines) == 2
    assert all(line.endswith("\n") for line in lines)
    records = [json.loads(line) for line in lines]
    for record, (token, size) in zip(records, [("id", 1834), ("access", 1201)], strict=True):
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "NS"
        assert directive["Dimensions"] == [["Service", "Token"]]
        assert directive["Metrics"] == [{"Name": "TokenBytes", "Unit": "Bytes"}]
        assert isinstance(record["_aws"]["Timestamp"], int)
        assert (record["Service"], record["Token"], record["TokenBytes"]) == ("svc", token, size)
        assert "message" not in record  # metrics only, whatever the level


def test_logger_dimensioned_metrics_off_or_empty_write_nothing() -> None:
    writes: list[str] = []
    Logger("svc", "INFO", writes.append).log_dimensioned("TokenBytes", "Token", {"id": 1})
    Logger("svc", "INFO", writes.append, metrics_namespace="NS").log_dimensioned(
        "TokenBytes", "Token", {}
    )
    assert writes == []


@pytest.mark.parametrize(
    "sequence",
    [
        [{"id": 1834, "access": 1201}, {"id": 1834, "access": 1202}, {"id": 1834, "access": 1201}],
        [{"id": 7}, {"access": 7}, {"access": 7, "id": 7}, {"id": 7, "access": 7}, {}],
        [{"id": 10**9}, {"id": 1}],
    ],
)
def test_logger_dimensioned_lines_follow_the_values_however_often_built(
    sequence: list[dict[str, int]],
) -> None:
    # The lines' text is kept per set of values; a changed value, order or set is new text, and
    # `log` writes them before its own line in one write with its timestamp.
    writes: list[str] = []
    logger = Logger("svc", "INFO", writes.append, metrics_namespace="NS")
    for values in sequence:
        logger.log("INFO", "pretoken", {"a": 1}, {"Latency": 1.0}, by_dimension=(
            "TokenBytes", "Token", tuple(values.items()),
        ))  # fmt: skip
        records = [json.loads(line) for line in writes[-1].splitlines()]
        assert [(r["Token"], r["TokenBytes"]) for r in records[:-1]] == list(values.items())
        assert records[-1]["message"] == "pretoken"
        assert {r["_aws"]["Timestamp"] for r in records} == {records[-1]["_aws"]["Timestamp"]}


def test_logger_dimensioned_lines_take_a_mapping_too() -> None:
    writes: list[str] = []
    logger = Logger("svc", "INFO", writes.append, metrics_namespace="NS")
    for values in ({"id": 1834, "access": 1201}, (("id", 1834), ("access", 1201))):
        logger.log("INFO", "m", {}, {"Latency": 1.0}, by_dimension=("TokenBytes", "Token", values))
        records = [json.loads(line) for line in writes[-1].splitlines()]
        assert [(r["Token"], r["TokenBytes"]) for r in records[:-1]] == [
            ("id", 1834),
            ("access", 1201),
        ]
