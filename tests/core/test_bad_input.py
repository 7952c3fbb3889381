"""Bad input gets a typed error, and nothing recorded is lost."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    CheckpointError,
    DurableContext,
    InvalidEventError,
    MemoryBackend,
    NonDeterministicExecutionError,
    ValidationError,
    use_backend,
)
from durable_core._replay import CheckpointLog
from durable_core.checkpoint import Checkpointer
from durable_core.types import OperationAction, OperationType, OperationUpdate


@pytest.mark.parametrize(
    "event",
    [
        {},
        None,
        "text",
        {"DurableExecutionArn": "arn", "CheckpointToken": ""},
        {"CheckpointToken": "t", "InitialExecutionState": {"Operations": []}},
        {
            "DurableExecutionArn": "arn",
            "CheckpointToken": "t",
            "InitialExecutionState": {
                "Operations": [{"Id": "x", "Type": "STEP", "Status": "WEIRD"}]
            },
        },
    ],
)
def test_malformed_events_raise_invalid_event_error(event: Any) -> None:
    handler = run(lambda e, ctx: "never")
    with use_backend(MemoryBackend()), pytest.raises(InvalidEventError):
        handler(event, None)


def _two_invocations(first: Any, second: Any) -> dict[str, Any]:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        assert run(first)(event, None)["Status"] == "PENDING"
        backend.fire_timers(arn)
        response: dict[str, Any] = run(second)(backend.invocation_event(arn), None)
    return response


def test_renamed_step_is_non_deterministic() -> None:
    def v1(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="charge")
        ctx.wait(1)

    def v2(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="charge-card")
        ctx.wait(1)

    response = _two_invocations(v1, v2)
    assert response["Status"] == "FAILED"
    error = response["Error"]
    assert error["ErrorType"] == "durable_core.errors.NonDeterministicExecutionError"
    assert "'charge'" in error["ErrorMessage"] and "'charge-card'" in error["ErrorMessage"]


def test_reordered_operation_types_are_non_deterministic() -> None:
    def v1(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="a")
        ctx.wait(1, name="w")

    def v2(event: Any, ctx: DurableContext) -> None:
        ctx.wait(1, name="a")
        ctx.step(lambda s: 1, name="w")

    response = _two_invocations(v1, v2)
    assert "type recorded STEP, now WAIT" in response["Error"]["ErrorMessage"]


def test_non_determinism_error_is_typed_inside_the_handler() -> None:
    caught: list[NonDeterministicExecutionError] = []

    def v2(event: Any, ctx: DurableContext) -> None:
        try:
            ctx.run_in_child_context(lambda c: 1, name="a")
        except NonDeterministicExecutionError as exc:
            caught.append(exc)
            raise

    def v1(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="a")
        ctx.wait(1)

    _two_invocations(v1, v2)
    assert caught and caught[0].operation_id


@pytest.mark.parametrize("seconds", [0, 0.5, -1])
def test_wait_under_one_second_is_rejected_at_the_call(seconds: float) -> None:
    caught: list[ValidationError] = []

    def wf(event: Any, ctx: DurableContext) -> None:
        try:
            ctx.wait(seconds)
        except ValidationError as exc:
            caught.append(exc)
            raise

    backend = MemoryBackend()
    with use_backend(backend):
        response = run(wf)(backend.start_execution(None), None)
    assert response["Status"] == "FAILED"
    assert len(caught) == 1 and "at least 1 second" in caught[0].message
    assert backend.calls == []


@pytest.mark.parametrize("name", ["x" * 257, "tab\there", "é"])
def test_names_the_api_rejects_fail_at_the_call(name: str) -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    response = None
    with use_backend(backend):
        response = run(lambda e, ctx: ctx.step(lambda s: 1, name=name))(event, None)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.ValidationError"
    assert backend.calls == []


class FlakyBackend(MemoryBackend):
    """Answers the first ``failures`` checkpoint calls with a throttling error."""

    def __init__(self, failures: int, retryable: bool = True) -> None:
        super().__init__()
        self.failures = failures
        self.retryable = retryable
        self.attempts = 0

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise CheckpointError("ThrottlingException", retryable=self.retryable)
        return super().checkpoint(*args, **kwargs)


def test_throttled_checkpoints_are_retried_without_losing_updates() -> None:
    backend = FlakyBackend(failures=3)
    event = backend.start_execution(None)
    with use_backend(backend):
        response = run(lambda e, ctx: ctx.step(lambda s: 7, name="s"))(event, None)
    assert response == {"Status": "SUCCEEDED", "Result": "7"}
    assert [u.action for c in backend.calls for u in c.updates] == [
        OperationAction.START,
        OperationAction.SUCCEED,
    ]


def test_failing_checkpoint_keeps_the_buffer_and_raises() -> None:
    backend = FlakyBackend(failures=100, retryable=False)
    event = backend.start_execution(None)
    log = CheckpointLog()
    checkpointer = Checkpointer(
        backend, event["DurableExecutionArn"], event["CheckpointToken"], log, sleep=lambda s: None
    )
    update = OperationUpdate(id="a", type=OperationType.STEP, action=OperationAction.START)
    with pytest.raises(CheckpointError):
        checkpointer.send(update, sync=True)
    assert checkpointer.pending == 1
    # The invocation is over: every other thread's send or flush raises the same error
    # at once, instead of each retrying a service that just refused.
    backend.failures = 0
    attempts = backend.attempts
    with pytest.raises(CheckpointError):
        checkpointer.flush()
    with pytest.raises(CheckpointError):
        checkpointer.send(update, sync=False)
    assert backend.attempts == attempts
    assert checkpointer.pending == 1


def test_stale_token_is_rejected_by_the_service() -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    backend.invocation_event(arn)  # a newer invocation got a newer token
    update = OperationUpdate(id="a", type=OperationType.STEP, action=OperationAction.START)
    with pytest.raises(CheckpointError, match="token") as info:
        backend.checkpoint(arn, event["CheckpointToken"], [update])
    assert info.value.retryable is False


def test_corrupt_recorded_payload_is_a_serdes_error() -> None:
    from durable_core.types import OperationStatus

    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]

    def wf(event: Any, ctx: DurableContext) -> Any:
        value = ctx.step(lambda s: {"a": 1}, name="s")
        ctx.wait(1)
        return value

    with use_backend(backend):
        run(wf)(event, None)
    step = next(op for op in backend.operations(arn) if op.name == "s")
    assert step.step_details is not None
    corrupt = dataclasses.replace(
        step, step_details=dataclasses.replace(step.step_details, result='{"t":"zz"}')
    )
    backend.set_operation(arn, corrupt)
    backend.fire_timers(arn)
    with use_backend(backend):
        response = run(wf)(backend.invocation_event(arn), None)
    assert response["Status"] == "FAILED"
    # AWS's SDK pins every serdes failure to its SerDesError, and reads it back as one.
    assert (
        response["Error"]["ErrorType"] == "aws_durable_execution_sdk_python.exceptions.SerDesError"
    )
    assert "'s'" in response["Error"]["ErrorMessage"]
    assert step.status is OperationStatus.SUCCEEDED
