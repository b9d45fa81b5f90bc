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
