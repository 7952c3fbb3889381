"""Histories of simple workflows match AWS's conformance requirements.

The expectations are those of step 1.1, 1.11, 1.12, wait 2.2 and child 3.1.
"""

from __future__ import annotations

from typing import Any

from durable_closure import run
from durable_core import DurableContext, Jitter, RetryPolicy, StepConfig, StepContext
from durable_testing import ExecutionStatus, LocalService

from .history_matching import history_mismatches

ANY = "*"


def _started(kind: str, event_id: int, op: str, **extra: Any) -> dict[str, Any]:
    return {
        "EventType": f"{kind}Started",
        "EventId": event_id,
        "Id": op,
        "EventTimestamp": ANY,
        f"{kind}StartedDetails": {},
        **extra,
    }


def _invocation_completed(event_id: int) -> dict[str, Any]:
    return {
        "EventType": "InvocationCompleted",
        "EventId": event_id,
        "EventTimestamp": ANY,
        "InvocationCompletedDetails": {},
    }


def test_basic_step_matches_requirement_1_1() -> None:
    def greet(event: str, ctx: DurableContext) -> str:
        return ctx.step(lambda _: f"Hello, {event}!")

    service = LocalService()
    service.register("greet", run(greet))
    result = service.run("greet", "World")

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == "Hello, World!"
    expected = [
        _started("Step", 2, "${ID1}", SubType="Step"),
        {
            "EventType": "StepSucceeded",
            "SubType": "Step",
            "EventId": 3,
            "Id": "${ID1}",
            "EventTimestamp": ANY,
            "StepSucceededDetails": {},
        },
        _invocation_completed(4),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.event_types[0] == "ExecutionStarted"
    assert result.event_types[-1] == "ExecutionSucceeded"


def test_named_wait_matches_requirement_2_2_and_skips_time() -> None:
    def pause(event: Any, ctx: DurableContext) -> None:
        ctx.wait(2, name="custom_wait_name")

    service = LocalService()
    service.register("pause", run(pause))
    result = service.run("pause", timeout=5)

    wait = {"Id": "${ID1}", "Name": "custom_wait_name", "SubType": "Wait", "EventTimestamp": ANY}
    expected = [
        {"EventType": "WaitStarted", "EventId": 2, **wait, "WaitStartedDetails": {"Duration": 2}},
        _invocation_completed(3),
        {
            "EventType": "WaitSucceeded",
            "EventId": 4,
            **wait,
            "WaitSucceededDetails": {"Duration": 2},
        },
        _invocation_completed(5),
    ]
    assert result.status is ExecutionStatus.SUCCEEDED
    assert history_mismatches(expected, result.history) == []
    started, fired = result.history[1], result.history[3]
    assert started["WaitStartedDetails"]["ScheduledEndTimestamp"] == fired["EventTimestamp"]


def test_child_context_matches_requirement_3_1() -> None:
    def child(event: str, ctx: DurableContext) -> str:
        return ctx.run_in_child_context(lambda c: c.step(lambda _: event))

    service = LocalService()
    service.register("child", run(child))
    result = service.run("child", "k3y5tr1n")

    payload = {"Result": {"Payload": '"k3y5tr1n"'}}
    ctx_fields = {"SubType": "RunInChildContext", "Id": "${CTX1}", "EventTimestamp": ANY}
    step_fields = {
        "SubType": "Step",
        "Id": "${STEP1}",
        "ParentId": "${CTX1}",
        "EventTimestamp": ANY,
    }
    expected = [
        {"EventType": "ContextStarted", "EventId": 2, **ctx_fields, "ContextStartedDetails": {}},
        {"EventType": "StepStarted", "EventId": 3, **step_fields, "StepStartedDetails": {}},
        {
            "EventType": "StepSucceeded",
            "EventId": 4,
            **step_fields,
            "StepSucceededDetails": payload,
        },
        {
            "EventType": "ContextSucceeded",
            "EventId": 5,
            **ctx_fields,
            "ContextSucceededDetails": payload,
        },
        _invocation_completed(6),
    ]
    assert result.result == "k3y5tr1n"
    assert history_mismatches(expected, result.history) == []
    assert "ParentId" not in result.history[1]


def test_step_wait_child_workflow_orders_invocations_and_timers() -> None:
    def workflow(event: Any, ctx: DurableContext) -> list[str]:
        first = ctx.step(lambda _: "a", name="first")
        ctx.wait(7 * 24 * 3600, name="a-week")
        inner = ctx.run_in_child_context(lambda c: c.step(lambda _: "b", name="inner"), name="kid")
        return [first, inner]

    service = LocalService()
    service.register("workflow", run(workflow))
    result = service.run("workflow", execution_name="week-1", timeout=5)

    assert result.result == ["a", "b"]
    assert result.history[0]["Name"] == result.history[-1]["Name"] == "week-1"
    assert result.history[0]["ExecutionStartedDetails"]["Input"] == {
        "Payload": "null",
        "Truncated": False,
    }
    assert result.event_types == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
        "ContextStarted",
        "StepStarted",
        "StepSucceeded",
        "ContextSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert [e["EventId"] for e in result.history] == list(range(1, 13))
    assert [e.get("Name") for e in result.history[6:10]] == ["kid", "inner", "inner", "kid"]
    week = result.history[5]["EventTimestamp"] - result.history[0]["EventTimestamp"]
    assert week.total_seconds() == 7 * 24 * 3600
    assert result.invocations == 2


def test_retry_then_success_matches_requirement_1_11() -> None:
    def unreliable(step: StepContext) -> str:
        if step.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "Operation succeeded"

    config = StepConfig[str](retry=RetryPolicy(max_attempts=3, initial_delay_seconds=1))

    def handler(event: Any, ctx: DurableContext) -> str:
        return ctx.step(unreliable, config=config)

    service = LocalService()
    service.register("retry", run(handler))
    result = service.run("retry")

    step = {"SubType": "Step", "Id": "${ID1}", "EventTimestamp": ANY}
    expected = [
        {"EventType": "StepStarted", "EventId": 2, **step, "StepStartedDetails": {}},
        {
            "EventType": "StepFailed",
            "EventId": 3,
            **step,
            "StepFailedDetails": {
                "Error": {},
                "RetryDetails": {"CurrentAttempt": 1, "NextAttemptDelaySeconds": ANY},
            },
        },
        _invocation_completed(4),
        {"EventType": "StepStarted", "EventId": 5, **step, "StepStartedDetails": {}},
        {
            "EventType": "StepSucceeded",
            "EventId": 6,
            **step,
            "StepSucceededDetails": {"Result": {}, "RetryDetails": {"CurrentAttempt": 2}},
        },
        _invocation_completed(7),
    ]
    assert result.result == "Operation succeeded"
    assert history_mismatches(expected, result.history) == []


def test_retry_exhaustion_matches_requirement_1_12() -> None:
    attempts: list[int] = []

    def always_fail(step: StepContext) -> None:
        attempts.append(step.attempt)
        raise ValueError(f"attempt {step.attempt} failed")

    policy = RetryPolicy(
        max_attempts=4, initial_delay_seconds=1, backoff_rate=1, jitter=Jitter.NONE
    )

    def handler(event: Any, ctx: DurableContext) -> None:
        ctx.step(always_fail, config=StepConfig(retry=policy))

    service = LocalService()
    service.register("exhaust", run(handler))
    result = service.run("exhaust")

    assert attempts == [1, 2, 3, 4]
    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None and result.error.error_message == "attempt 4 failed"
    step = {"SubType": "Step", "Id": "${ID1}", "EventTimestamp": ANY}
    expected: list[dict[str, Any]] = []
    for attempt in range(1, 5):
        base = 2 + (attempt - 1) * 3
        retry: dict[str, Any] = {"CurrentAttempt": attempt}
        if attempt < 4:
            retry["NextAttemptDelaySeconds"] = 1
        expected += [
            {"EventType": "StepStarted", "EventId": base, **step, "StepStartedDetails": {}},
            {
                "EventType": "StepFailed",
                "EventId": base + 1,
                **step,
                "StepFailedDetails": {"Error": {"Payload": {}}, "RetryDetails": retry},
            },
            _invocation_completed(base + 2),
        ]
    assert history_mismatches(expected, result.history) == []
    final_retry = result.history[11]["StepFailedDetails"]["RetryDetails"]
    assert "NextAttemptDelaySeconds" not in final_retry
    assert result.history[-1]["EventType"] == "ExecutionFailed"
    failed = result.history[-1]["ExecutionFailedDetails"]["Error"]["Payload"]
    assert failed["ErrorMessage"] == "attempt 4 failed"
