"""Chained invokes on the local service: the target runs as an execution of its own.

Histories are AWS's conformance requirements 5.1, 5.5, 5.6, 5.8 and 5.13; the
unknown-function error is the Lambda Invoke API's ``ResourceNotFoundException``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from durable_closure import run
from durable_core import DurableContext, InvokeConfig, InvokeError
from durable_testing import ExecutionStatus, LocalService, SqliteStore

from .history_matching import history_mismatches

ANY = "*"


def _invocation_completed(event_id: int) -> dict[str, Any]:
    return {
        "EventType": "InvocationCompleted",
        "EventId": event_id,
        "EventTimestamp": ANY,
        "InvocationCompletedDetails": ANY,
    }


def _invoke_started(event_id: int, **details: Any) -> dict[str, Any]:
    return {
        "EventType": "ChainedInvokeStarted",
        "EventId": event_id,
        "Id": "${ID1}",
        "EventTimestamp": ANY,
        "ChainedInvokeStartedDetails": {
            "FunctionName": ANY,
            "Input": ANY,
            "ExecutedVersion": ANY,
            "DurableExecutionArn": ANY,
            **details,
        },
    }


def _invoke_ended(event_type: str, event_id: int, details: Any) -> dict[str, Any]:
    return {
        "EventType": event_type,
        "EventId": event_id,
        "Id": "${ID1}",
        "EventTimestamp": ANY,
        f"{event_type}Details": details,
    }


def _echo(event: Any, ctx: DurableContext) -> Any:
    return event


def _reject(event: Any, ctx: DurableContext) -> Any:
    raise ValueError(f"cannot take {event!r}")


def _caller(target: str, config: InvokeConfig[Any, Any] | None = None) -> Any:
    def handler(event: Any, ctx: DurableContext) -> Any:
        return ctx.invoke(target, event, config=config)

    return run(handler)


def _catching_caller(target: str) -> Any:
    def handler(event: Any, ctx: DurableContext) -> Any:
        try:
            return ctx.invoke(target, event)
        except InvokeError as exc:
            return {"caught": exc.error_type, "message": str(exc)}

    return run(handler)


def _service(store: SqliteStore | None = None, **functions: Any) -> LocalService:
    service = LocalService(store=store)
    for name, handler in functions.items():
        service.register(name, handler)
    return service


def test_success_matches_requirement_5_1_and_the_target_has_its_own_history() -> None:
    service = _service(echo=run(_echo), caller=_caller("echo"))
    result = service.run("caller", "inpt0001")

    expected = [
        _invoke_started(2, FunctionName="echo", Input={"Payload": '"inpt0001"'}),
        _invocation_completed(3),
        _invoke_ended("ChainedInvokeSucceeded", 4, {"Result": {"Payload": '"inpt0001"'}}),
        _invocation_completed(5),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == "inpt0001"

    child_arn = result.history[1]["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
    assert result.history[1]["ChainedInvokeStartedDetails"]["ExecutedVersion"] == "$LATEST"
    child = service.describe(child_arn)
    assert child.function_name == "echo"
    assert child.status is ExecutionStatus.SUCCEEDED
    assert child.history[0]["ExecutionStartedDetails"]["Input"] == {
        "Payload": '"inpt0001"',
        "Truncated": False,
    }
    assert child.event_types == ["ExecutionStarted", "InvocationCompleted", "ExecutionSucceeded"]


def test_failure_matches_requirement_5_5_with_the_targets_error() -> None:
    service = _service(reject=run(_reject), caller=_caller("reject"))
    result = service.run("caller", "order-1")

    expected = [
        _invoke_started(2),
        _invocation_completed(3),
        _invoke_ended("ChainedInvokeFailed", 4, {"Error": ANY}),
        _invocation_completed(5),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.status is ExecutionStatus.FAILED

    child_arn = result.history[1]["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
    child = service.describe(child_arn)
    assert child.status is ExecutionStatus.FAILED and child.error is not None
    assert child.error.error_message == "cannot take 'order-1'"
    failed = result.history[3]["ChainedInvokeFailedDetails"]["Error"]["Payload"]
    assert failed == child.error.to_wire(), "the caller sees the target's own error"


def test_a_caught_failure_matches_requirement_5_6() -> None:
    service = _service(reject=run(_reject), caller=_catching_caller("reject"))
    result = service.run("caller", "order-2")

    expected = [
        _invoke_started(2),
        _invocation_completed(3),
        _invoke_ended("ChainedInvokeFailed", 4, {"Error": ANY}),
        _invocation_completed(5),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result["message"] == "cannot take 'order-2'"


def test_an_unknown_function_fails_the_invoke_with_resource_not_found() -> None:
    service = _service(caller=_catching_caller("no-such-function"))
    result = service.run("caller", "order-3")

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result["caught"] == "ResourceNotFoundException"
    started, failed = result.history[1], result.history[2]
    assert started["EventType"] == "ChainedInvokeStarted"
    assert started["ChainedInvokeStartedDetails"] == {"FunctionName": "no-such-function"}
    assert failed["EventType"] == "ChainedInvokeFailed"
    error = failed["ChainedInvokeFailedDetails"]["Error"]["Payload"]
    assert error["ErrorType"] == "ResourceNotFoundException"
    assert "no-such-function" in error["ErrorMessage"]
    assert [d.arn for d in service.store.list_executions()] == [result.arn], "nothing started"


def test_a_function_arn_resolves_to_the_registered_name_and_tenant_id_is_recorded() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST"
    service = _service(echo=run(_echo), caller=_caller(arn, InvokeConfig(tenant_id="tenant-7")))
    result = service.run("caller", "pyld0008")

    expected = [
        _invoke_started(2, FunctionName=arn, TenantId="tenant-7", Input={"Payload": '"pyld0008"'}),
        _invocation_completed(3),
        _invoke_ended("ChainedInvokeSucceeded", 4, {"Result": {"Payload": '"pyld0008"'}}),
        _invocation_completed(5),
    ]
    assert history_mismatches(expected, result.history) == []


def test_an_invoke_inside_a_child_context_matches_requirement_5_13() -> None:
    def handler(event: Any, ctx: DurableContext) -> Any:
        return ctx.run_in_child_context(lambda child: child.invoke("echo", event))

    service = _service(echo=run(_echo), caller=run(handler))
    result = service.run("caller", "nested")

    invoke = {"Id": "${ID1}", "ParentId": "${CTX1}", "EventTimestamp": ANY}
    expected = [
        {"EventType": "ContextStarted", "EventId": 2, "Id": "${CTX1}", "EventTimestamp": ANY},
        {"EventType": "ChainedInvokeStarted", "EventId": 3, **invoke},
        _invocation_completed(4),
        {
            "EventType": "ChainedInvokeSucceeded",
            "EventId": 5,
            **invoke,
            "ChainedInvokeSucceededDetails": {"Result": ANY},
        },
        {"EventType": "ContextSucceeded", "EventId": 6, "Id": "${CTX1}", "EventTimestamp": ANY},
        _invocation_completed(7),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.result == "nested"


def test_an_invoke_in_flight_survives_a_restart(tmp_path: Path) -> None:
    def slow_echo(event: Any, ctx: DurableContext) -> Any:
        ctx.wait(3600, name="an-hour")
        return event

    path = tmp_path / "executions.sqlite3"
    first = _service(SqliteStore(path), slow=run(slow_echo), caller=_caller("slow"))
    arn = first.start("caller", "inflight")
    assert first.run_until_complete(arn, until=first.clock.now()).status is (
        ExecutionStatus.RUNNING
    )

    second = _service(SqliteStore(path), slow=run(slow_echo), caller=_caller("slow"))
    results = {r.arn: r for r in second.resume_all()}

    parent = results[arn]
    assert parent.status is ExecutionStatus.SUCCEEDED
    assert parent.result == "inflight"
    assert parent.event_types.count("ChainedInvokeStarted") == 1, "the target was not restarted"
    child_arn = parent.history[1]["ChainedInvokeStartedDetails"]["DurableExecutionArn"]
    assert results[child_arn].event_types[1:4] == [
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
    ]
