"""Step failures: the FAIL both SDKs record, and the failed execution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.compat import workflows
from tests.compat.conftest import Run, aws_invoker, our_invoker, start, without_stack_trace
from tests.compat.workflows import (
    Factory,
    aws_handler,
    failing_child_workflow,
    failing_workflow,
    our_handler,
)


def fails(run: Run) -> list[dict[str, Any]]:
    return [u for call in run.updates_by_call() for u in call if u["Action"] == "FAIL"]


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
    assert our_run.updates_by_call() == aws_run.updates_by_call()

    # One invocation, one attempt, FAILED in both.
    assert [r["Status"] for r in aws_run.responses] == ["FAILED"]
    assert [r["Status"] for r in our_run.responses] == ["FAILED"]
    assert aws_count == our_count == 1
    # The response's error is AWS's too: the wrapper class AWS's SDK raises.
    assert (
        without_stack_trace(our_run.final)["Error"]
        == aws_run.final["Error"]
        == {
            "ErrorMessage": "boom",
            "ErrorType": "aws_durable_execution_sdk_python.exceptions.StepError",
        }
    )


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
    # The context's FAIL names the error that escaped it by AWS's class name, which AWS's
    # SDK reads back on replay.
    assert actual[1] == expected[1]
    assert expected[1]["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.StepError"
    )
    assert without_stack_trace(our_run.final) == aws_run.final
    assert aws_run.final["Status"] == "FAILED"


def test_our_records_carry_the_traceback_of_the_users_exception() -> None:
    """StackTrace (empty in AWS's records) names the user's file and line, in the format of
    Lambda's Python runtime (``traceback.format_list``), on the step's FAIL, on the context
    that wraps it and in the response."""
    _, our_run, _, _ = run_pair(failing_child_workflow)
    source = Path(workflows.__file__)
    line = next(
        n
        for n, text in enumerate(source.read_text().splitlines(), 1)
        if 'raise ValueError("inner boom")' in text
    )
    expected = [f'  File "{source}", line {line}, in inner\n    raise ValueError("inner boom")\n']
    step, context = [
        u["Error"]
        for call in our_run.updates_by_call(stack_traces=True)
        for u in call
        if u["Action"] == "FAIL"
    ]
    assert step["StackTrace"] == context["StackTrace"] == expected
    assert our_run.final["Error"]["StackTrace"] == expected
