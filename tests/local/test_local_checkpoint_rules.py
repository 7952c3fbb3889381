"""Updates the real service rejects are rejected with the API's error, and leave no trace."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from durable_core import CheckpointError
from durable_core.types import (
    OperationAction,
    OperationType,
    OperationUpdate,
    StepOptions,
    WaitOptions,
)
from durable_testing import ExecutionStatus, LocalService, VirtualClock


def _step(action: OperationAction, op_id: str = "op-1", **fields: Any) -> OperationUpdate:
    return OperationUpdate(id=op_id, type=OperationType.STEP, action=action, **fields)


def _running_execution() -> tuple[LocalService, str, str]:
    """An execution started but not yet invoked, and the token its first invocation gets."""
    service = LocalService()
    service.register("idle", lambda event, context: {"Status": "SUCCEEDED"})
    arn = service.start("idle")
    return service, arn, service.backend.invocation_event(arn)["CheckpointToken"]


@pytest.mark.parametrize(
    ("updates", "reason"),
    [
        ([_step(OperationAction.RETRY)], "must be started first"),
        ([OperationUpdate(id="w", type=OperationType.WAIT, action=OperationAction.START)], "Wait"),
        (
            [OperationUpdate(id="w", type=OperationType.WAIT, action=OperationAction.SUCCEED)],
            "do not accept",
        ),
        ([_step(OperationAction.START), _step(OperationAction.START, name="renamed")], "name"),
        ([_step(OperationAction.START, parent_id="nobody")], "parent"),
    ],
)
def test_invalid_updates_are_rejected_with_invalid_parameter_value(
    updates: list[OperationUpdate], reason: str
) -> None:
    service, arn, token = _running_execution()
    before = list(service.history(arn))

    with pytest.raises(CheckpointError, match=reason) as raised:
        service.backend.checkpoint(arn, token, updates)

    assert raised.value.error_code == "InvalidParameterValueException"
    assert raised.value.retryable is False
    assert service.history(arn) == before, "a rejected call is all or nothing"
    assert len(service.backend.operations(arn)) == 1


def test_a_stale_checkpoint_token_is_rejected() -> None:
    service, arn, token = _running_execution()
    service.backend.checkpoint(arn, token, [_step(OperationAction.START)])

    with pytest.raises(CheckpointError, match="token") as raised:
        service.backend.checkpoint(arn, token, [_step(OperationAction.SUCCEED, payload="1")])
    assert raised.value.error_code == "InvalidParameterValueException"


def test_an_unknown_execution_is_not_found() -> None:
    with pytest.raises(CheckpointError) as raised:
        LocalService().backend.checkpoint("arn:nope", "1.x", [])
    assert raised.value.error_code == "ResourceNotFoundException"


def test_a_handler_whose_checkpoints_are_rejected_fails_the_execution() -> None:
    def rogue(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
        bad = _step(OperationAction.RETRY, step_options=StepOptions(next_attempt_delay_seconds=1))
        service.backend.checkpoint(arn, token, [bad])
        return {"Status": "PENDING"}

    service = LocalService(max_invocation_attempts=2)
    service.register("rogue", rogue)
    result = service.run("rogue")

    assert result.status is ExecutionStatus.FAILED
    assert result.error is not None
    assert result.error.error_type == "durable_core.errors.CheckpointError"
    assert result.event_types == [
        "ExecutionStarted",
        "InvocationCompleted",
        "InvocationCompleted",
        "ExecutionFailed",
    ]


def test_updates_after_completion_are_rejected() -> None:
    service, arn, token = _running_execution()
    wait = OperationUpdate(
        id="w",
        type=OperationType.WAIT,
        action=OperationAction.START,
        wait_options=WaitOptions(wait_seconds=5),
    )
    backend = service.backend
    first = backend.checkpoint(arn, token, [_step(OperationAction.START), wait])
    assert first.checkpoint_token is not None
    done = _step(OperationAction.SUCCEED, payload='"done"')
    second = backend.checkpoint(arn, first.checkpoint_token, [done])
    assert second.checkpoint_token is not None
    token = second.checkpoint_token
    with pytest.raises(CheckpointError, match="already completed"):
        service.backend.checkpoint(arn, token, [_step(OperationAction.FAIL)])


def test_a_retry_with_its_client_token_is_answered_again_across_other_traffic() -> None:
    """The service model: Lambda uses ClientToken "to detect and handle duplicate requests
    within a 15-minute window", per execution, whatever else it handled meanwhile."""
    service, arn, token = _running_execution()
    start = [_step(OperationAction.START)]
    first = service.backend.checkpoint(arn, token, start, client_token="retry-me")
    other = service.start("idle")
    other_token = service.backend.invocation_event(other)["CheckpointToken"]
    for n in range(300):
        answer = service.backend.checkpoint(other, other_token, [], client_token=f"other-{n}")
        other_token = answer.checkpoint_token or ""
    again = service.backend.checkpoint(arn, token, start, client_token="retry-me")

    assert again == first
    assert [c.updates for c in service.backend.calls if c.execution_arn == arn] == [tuple(start)]
    assert service.history(arn).count(service.history(arn)[1]) == 1


def test_a_client_token_reused_for_other_updates_is_rejected() -> None:
    service, arn, token = _running_execution()
    service.backend.checkpoint(arn, token, [_step(OperationAction.START)], client_token="once")

    other = [_step(OperationAction.START, op_id="op-2")]
    with pytest.raises(CheckpointError, match="ClientToken") as raised:
        service.backend.checkpoint(arn, token, other, client_token="once")

    assert raised.value.error_code == "InvalidParameterValueException"
    assert [op.id for op in service.backend.operations(arn)[1:]] == ["op-1"]


def test_a_client_token_is_forgotten_after_the_window() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("idle", lambda event, context: {"Status": "SUCCEEDED"})
    arn = service.start("idle")
    token = service.backend.invocation_event(arn)["CheckpointToken"]
    start = [_step(OperationAction.START)]
    service.backend.checkpoint(arn, token, start, client_token="late")

    clock.sleep_until(clock.now() + dt.timedelta(minutes=14, seconds=59))
    assert service.backend.checkpoint(arn, token, start, client_token="late").operations
    clock.sleep_until(clock.now() + dt.timedelta(seconds=2))
    with pytest.raises(CheckpointError, match="token"):
        service.backend.checkpoint(arn, token, start, client_token="late")
