"""The stand-ins the validator gets for CloudWatch: what its execution-scoped query finds."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conformance.aws_validator import _CloudWatchLogs, _lambda_log_lines

ARN = 'arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/a"b/1'
# The pattern the validator's CloudWatchLogRetriever sends for ARN (quotes escaped).
PATTERN = '{ ($.durableExecutionArn = "%s") || ($.executionArn = "%s") }' % (
    (ARN.replace('"', '\\"'),) * 2
)


def test_only_json_lines_naming_the_execution_are_found() -> None:
    lines: list[str] = []
    with _lambda_log_lines(lines):
        print(f"plain text naming {ARN}")
        print(json.dumps({"plugin": "P", "durableExecutionArn": ARN}))
        logging.getLogger("durable").info("mine", extra={"executionArn": ARN, "attempt": 2})
        logging.getLogger("durable").info("another", extra={"executionArn": ARN + "x"})
        logging.getLogger("durable").debug("below INFO", extra={"executionArn": ARN})
    found = _CloudWatchLogs(lines).filter_log_events(filterPattern=PATTERN)["events"]
    records = [json.loads(event["message"]) for event in found]
    assert [r.get("plugin") or r["message"] for r in records] == ["P", "mine"]
    # Lambda's JSON format: the record's extras at the top level, beside the fixed keys.
    assert records[1]["attempt"] == 2 and records[1]["level"] == "INFO"
    assert [event["timestamp"] for event in found] == [1, 2]


def test_a_pattern_of_another_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="not supported"):
        _CloudWatchLogs([]).filter_log_events(filterPattern='{ $.level = "ERROR" }')
