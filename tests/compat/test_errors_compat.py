"""Step failures: the FAIL both SDKs record, and the failed execution."""

from __future__ import annotations

from typing import Any

from tests.compat.conftest import Run, aws_invoker, our_invoker, start
from tests.compat.workflows import (
    Factory,
    aws_handler,
    failing_child_workflow,
    failing_workflow,
    our_handler,
)


def fails(run: Run) -> list[dict[str, Any]]:
    return [u for call in run.updates() for u in call if u["Action"] == "FAIL"]


def run_pair(factory: Factory) -> tuple[Run, Run, int, int]:
    aws, aws_calls = aws_handler(factory)
    ours, our_calls = our_handler(factory)
    aws_run, our_run = start({}), start({})
    aws_run.until_done(aws_invoker(aws))
    our_run.until_done(our_invoker(ours))
    return aws_run, our_run, sum(aws_calls.values()), sum(our_calls.values())


def test_step_value_error_no_retry() -> None:
    aws_run, our_run, aws_count, our_count = run_pair(failing_workflow)

    expected = fails(aws_run)
    assert len(expected) == 1
    assert expected[0]["Error"]["ErrorType"] == "ValueError"
    assert expected[0]["Error"]["ErrorMessage"] == "boom"
    assert fails(our_run) == expected
    assert our_run.updates() == aws_run.updates()

    # One invocation, one attempt, FAILED in both.
    assert [r["Status"] for r in aws_run.responses] == ["FAILED"]
    assert [r["Status"] for r in our_run.responses] == ["FAILED"]
    assert aws_count == our_count == 1
    assert our_run.final["Error"]["ErrorMessage"] == aws_run.final["Error"]["ErrorMessage"]
    # Note: the response's ErrorType is each SDK's own wrapper class; AWS reports
    # "aws_durable_execution_sdk_python.exceptions.StepError", so it cannot be equal.


def test_failed_step_replays_as_failure_across_sdks() -> None:
    """A FAIL recorded by AWS's SDK is raised again by ours on replay, body not re-run."""
    aws, _ = aws_handler(failing_workflow)
    ours, our_calls = our_handler(failing_workflow)
    run = start({})
    assert run.invoke(aws_invoker(aws))["Status"] == "FAILED"
    calls_before = len(run.backend.calls)
    response = run.invoke(our_invoker(ours))
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorMessage"] == "boom"
    assert our_calls["boom"] == 0
    assert len(run.backend.calls) == calls_before  # replay sends nothing


def test_child_context_failure() -> None:
    aws_run, our_run, _, _ = run_pair(failing_child_workflow)
    expected, actual = fails(aws_run), fails(our_run)
    assert [u["Type"] for u in expected] == ["STEP", "CONTEXT"]
    # The inner step's FAIL is identical.
    assert actual[0] == expected[0]
    assert actual[0]["Error"] == {"ErrorMessage": "inner boom", "ErrorType": "ValueError"}
    # The context's FAIL matches but for ErrorType, which AWS fills with its own
    # wrapper class path ("aws_durable_execution_sdk_python.exceptions.StepError").
    strip = [{k: v for k, v in u.items() if k != "Error"} for u in (actual[1], expected[1])]
    assert strip[0] == strip[1]
    assert actual[1]["Error"]["ErrorMessage"] == expected[1]["Error"]["ErrorMessage"]
    assert our_run.final["Status"] == aws_run.final["Status"] == "FAILED"
