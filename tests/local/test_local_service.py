"""How the local service treats invocations: crashes, results, invalid answers, time."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext
from durable_core.types import OperationAction, OperationType, OperationUpdate
from durable_testing import ExecutionStatus, LocalService, RealClock, VirtualClock


def _errors_of_invocations(history: list[dict[str, Any]]) -> list[str | None]:
    return [
        e["InvocationCompletedDetails"].get("Error", {}).get("Payload", {}).get("ErrorType")
        for e in history
        if e["EventType"] == "InvocationCompleted"
    ]


def test_a_crashing_invocation_is_retried_and_recorded_as_runtime_exit_error() -> None:
    crashes = {"left": 2}

    def workflow(event: Any, ctx: DurableContext) -> str:
        ctx.step(lambda _: "persisted before the crash", name="before")
        if crashes["left"]:
            crashes["left"] -= 1
            sys.exit(1)
        return "recovered"

    service = LocalService()
    service.register("crashy", run(workflow))
    result = service.run("crashy")

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == "recovered"
    assert _errors_of_invocations(result.history) == [
        "Runtime.ExitError",
        "Runtime.ExitError",
        None,
    ]
    assert result.event_types.count("StepStarted") == 1, "the step is replayed, not re-run"


def test_an_invocation_that_always_crashes_fails_the_execution_after_bounded_attempts() -> None:
    def broken(event: Any, lambda_context: Any) -> dict[str, Any]:
        raise RuntimeError("the runtime blew up")

    service = LocalService(max_invocation_attempts=3)
    service.register("broken", broken)
    result = service.run("broken")

    assert result.status is ExecutionStatus.FAILED
    assert result.invocations == 3
    assert _errors_of_invocations(result.history) == ["RuntimeError"] * 3
    assert result.error is not None and result.error.error_message == "the runtime blew up"
    assert result.event_types[-1] == "ExecutionFailed"


def test_a_crash_retry_waits_the_retry_delay_in_service_time() -> None:
    calls: list[float] = []
    clock = VirtualClock()

    def flaky(event: Any, lambda_context: Any) -> dict[str, Any]:
        calls.append(clock.now().timestamp())
        if len(calls) == 1:
            raise RuntimeError("cold start failed")
        return {"Status": "SUCCEEDED", "Result": "1"}

    service = LocalService(clock=clock, invocation_retry_delay=5)
    service.register("flaky", flaky)
    assert service.run("flaky").result == 1
    assert calls[1] - calls[0] == pytest.approx(5)


def test_a_result_checkpointed_on_the_execution_is_the_result_when_the_response_has_none() -> None:
    big = {"rows": list(range(10))}

    def oversized(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
        execution_id = event["InitialExecutionState"]["Operations"][0]["Id"]
        update = OperationUpdate(
            id=execution_id,
            type=OperationType.EXECUTION,
            action=OperationAction.SUCCEED,
            payload=json.dumps(big),
        )
        service.backend.checkpoint(arn, token, [update])
        return {"Status": "SUCCEEDED", "Result": ""}

    service = LocalService()
    service.register("oversized", oversized)
    result = service.run("oversized")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == big
    assert result.history[-1]["ExecutionSucceededDetails"]["Result"]["Payload"] == json.dumps(big)


def test_pending_with_nothing_pending_is_an_invalid_answer() -> None:
    def stuck(event: Any, lambda_context: Any) -> dict[str, Any]:
        return {"Status": "PENDING"}

    service = LocalService(max_invocation_attempts=2)
    service.register("stuck", stuck)
    result = service.run("stuck")
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert result.error.error_type == "InvalidParameterValueException"
    assert result.invocations == 2


def test_a_response_without_a_status_fails_the_execution() -> None:
    service = LocalService()
    service.register("odd", lambda event, context: {"Result": "42"})
    result = service.run("odd")
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert result.error.error_type == "InvalidParameterValueException"


def test_a_plain_function_echoing_its_event_is_told_to_be_wrapped_not_dumped() -> None:
    """A handler not wrapped as durable often echoes its invocation event, which holds
    the whole execution state: the error shows the start of it and names the fix."""
    service = LocalService()
    service.register("plain", lambda event, context: event)
    result = service.run("plain", {"blob": "x" * 5000})
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None and result.error.error_message is not None
    message = result.error.error_message
    assert message.startswith("Invalid handler response: {")
    assert "x" * 5000 not in message and "characters)" in message
    assert "wrapped as durable" in message


def test_the_handler_gets_a_lambda_context_and_the_input() -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, ctx: DurableContext) -> Any:
        seen["remaining"] = ctx.lambda_context.get_remaining_time_in_millis()
        seen["function"] = ctx.lambda_context.function_name
        return event

    service = LocalService()
    service.register("echo", run(handler))
    assert service.run("echo", {"a": [1, 2]}).result == {"a": [1, 2]}
    assert seen["function"] == "echo"
    assert seen["remaining"] > 0


def test_real_clock_really_waits() -> None:
    def pause(event: Any, ctx: DurableContext) -> str:
        ctx.wait(1, name="one-second")
        return "done"

    service = LocalService(clock=RealClock())
    service.register("pause", run(pause))
    started = time.monotonic()
    result = service.run("pause", timeout=10)
    assert result.result == "done"
    assert time.monotonic() - started >= 0.9


def test_a_wait_longer_than_the_timeout_raises_with_real_time() -> None:
    def pause(event: Any, ctx: DurableContext) -> None:
        ctx.wait(60)

    service = LocalService(clock=RealClock())
    service.register("pause", run(pause))
    with pytest.raises(TimeoutError):
        service.run("pause", timeout=0.2)


def test_starting_an_unregistered_function_is_an_error() -> None:
    with pytest.raises(KeyError, match="register"):
        LocalService().start("nobody")
