"""Log lines: one JSON object per line, Powertools keys first, threshold respected."""

import json
import re

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
