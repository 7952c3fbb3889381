"""create_callback / Callback.result and wait_for_callback on MemoryBackend.

Expected names, subtypes and options are those of AWS's SDK (operation/callback.py,
context.py ``create_callback``/``wait_for_callback``, lambda_service.CallbackOptions);
the error types on TIMED_OUT are those AWS's service records (``CallbackTimeoutType``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    CallbackConfig,
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    DurableContext,
    DurableOperationError,
    JsonSerDes,
    RetryPolicy,
    StepContext,
    ValidationError,
    WaitForCallbackConfig,
    no_retry,
)
from durable_core._ids import operation_id
from durable_core.retries import Jitter
from durable_core.types import ErrorObject, OperationStatus, OperationType

from tests.driver import start

# -- create_callback ----------------------------------------------------------------


def test_callback_start_is_persisted_and_the_id_handed_out_before_suspending() -> None:
    seen: list[str] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name="approval")
        seen.append(callback.callback_id)
        return callback.result()

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    (start_update,) = execution.updates()
    assert start_update == {
        "Id": operation_id(None, 1),
        "Name": "approval",
        "Type": "CALLBACK",
        "SubType": "Callback",
        "Action": "START",
        # AWS's CallbackOptions.to_dict always sends both; 0 means no timeout.
        "CallbackOptions": {"TimeoutSeconds": 0, "HeartbeatTimeoutSeconds": 0},
    }
    callback_op = execution.only(OperationType.CALLBACK)
    assert callback_op.callback_details is not None
    assert seen == [callback_op.callback_details.callback_id]

    execution.complete(callback_op, OperationStatus.SUCCEEDED, result='{"approved": true}')
    response = execution.invoke()
    assert response["Status"] == "SUCCEEDED"
    # No serdes: the payload string as sent, unparsed (AWS's PassThroughSerDes).
    assert json.loads(response["Result"]) == '{"approved": true}'
    assert seen == [seen[0], seen[0]]  # the same id on replay


def test_callback_serdes_reads_the_payload() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(
            config=CallbackConfig(
                timeout_seconds=300, heartbeat_timeout_seconds=60, serdes=JsonSerDes()
            )
        )
        return callback.result()

    execution = start(run(wf))
    execution.invoke()
    (start_update,) = execution.updates()
    assert start_update["CallbackOptions"] == {"TimeoutSeconds": 300, "HeartbeatTimeoutSeconds": 60}
    assert "Name" not in start_update
    execution.complete(
        execution.only(OperationType.CALLBACK), OperationStatus.SUCCEEDED, result='{"n": 2}'
    )
    assert json.loads(execution.invoke()["Result"]) == {"n": 2}


def test_code_between_create_and_result_runs_on_every_invocation() -> None:
    between: list[str] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name="cb", config=CallbackConfig(serdes=JsonSerDes()))
        between.append(callback.callback_id)
        value = callback.result()
        return ctx.step(lambda s: value * 2, name="double")

    execution = start(run(wf))
    execution.invoke()
    execution.complete(execution.by_name("cb"), OperationStatus.SUCCEEDED, result="21")
    assert json.loads(execution.invoke()["Result"]) == 42
    assert len(between) == 2 and between[0] == between[1]


@pytest.mark.parametrize(
    ("status", "error", "cls", "error_type", "message"),
    [
        pytest.param(
            OperationStatus.TIMED_OUT,
            ErrorObject(error_type="Callback.Timeout", error_message="Callback timed out"),
            CallbackTimeoutError,
            "Callback.Timeout",
            "Callback timed out",
            id="timeout",
        ),
        pytest.param(
            OperationStatus.TIMED_OUT,
            ErrorObject(
                error_type="Callback.Heartbeat", error_message="Callback timed out on heartbeat"
            ),
            CallbackTimeoutError,
            "Callback.Heartbeat",
            "Callback timed out on heartbeat",
            id="heartbeat",
        ),
        pytest.param(
            OperationStatus.FAILED,
            ErrorObject(
                error_type="PaymentDeclined", error_message="card refused", error_data="42"
            ),
            CallbackExternalError,
            "PaymentDeclined",
            "card refused",
            id="external-failure",
        ),
    ],
)
def test_callback_failure_is_raised_by_result_not_by_create(
    status: OperationStatus,
    error: ErrorObject,
    cls: type[CallbackError],
    error_type: str,
    message: str,
) -> None:
    caught: list[BaseException] = []
    created: list[str] = []

    def wf(event: Any, ctx: DurableContext) -> str:
        callback = ctx.create_callback(name="cb")
        created.append(callback.callback_id)
        try:
            callback.result()
        except CallbackError as exc:
            caught.append(exc)
            return "handled"
        return "unreachable"

    execution = start(run(wf))
    execution.invoke()
    execution.complete(execution.by_name("cb"), status, error=error)
    assert json.loads(execution.invoke()["Result"]) == "handled"
    # Replaying the terminal callback raises the same error again.
    assert json.loads(execution.invoke()["Result"]) == "handled"
    assert len(created) == 3
    assert [type(exc) for exc in caught] == [cls, cls]
    for exc in caught:
        assert isinstance(exc, DurableOperationError)
        assert isinstance(exc, CallbackError)
        assert exc.error_type == error_type and exc.message == message
        assert exc.data == error.error_data


def test_unhandled_callback_timeout_fails_the_execution() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.create_callback(config=CallbackConfig(timeout_seconds=5)).result()

    execution = start(run(wf))
    execution.invoke()
    execution.complete(
        execution.only(OperationType.CALLBACK),
        OperationStatus.TIMED_OUT,
        error=ErrorObject(error_type="Callback.Timeout", error_message="Callback timed out"),
    )
    response = execution.invoke()
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorMessage"] == "Callback timed out"


def test_open_callback_suspends_again_without_new_checkpoints() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.create_callback(name="cb").result()

    execution = start(run(wf))
    execution.invoke()
    calls = execution.calls_count()
    assert execution.invoke()["Status"] == "PENDING"
    assert execution.calls_count() == calls


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout_seconds": 0},
        {"timeout_seconds": -5},
        {"heartbeat_timeout_seconds": 0},
        {"timeout_seconds": 1.5},
        {"timeout_seconds": True},
        # CallbackOptionsTimeoutSecondsInteger max in boto3's service model is 99999999.
        {"timeout_seconds": 100_000_000},
        {"sub_type": "not valid!"},
    ],
)
def test_bad_callback_config_is_rejected_at_the_call(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CallbackConfig(**kwargs)


def test_largest_timeout_the_service_accepts_is_allowed() -> None:
    assert CallbackConfig(timeout_seconds=99_999_999).timeout_seconds == 99_999_999


# -- wait_for_callback --------------------------------------------------------------


def test_wait_for_callback_ids_names_and_subtypes_match_aws() -> None:
    submitted: list[tuple[str, int, str | None]] = []

    def submit(callback_id: str, step: StepContext) -> None:
        submitted.append((callback_id, step.attempt, step.name))

    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.wait_for_callback(submit, name="approve")

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    child_id = operation_id(None, 1)
    ops = {op.id: op for op in execution.operations()}
    context_op = ops[child_id]
    callback_op = ops[operation_id(child_id, 1)]
    step_op = ops[operation_id(child_id, 2)]
    assert (context_op.type, context_op.sub_type, context_op.name) == (
        OperationType.CONTEXT,
        "WaitForCallback",
        "approve",
    )
    assert (callback_op.type, callback_op.sub_type, callback_op.name, callback_op.parent_id) == (
        OperationType.CALLBACK,
        "Callback",
        "approve create callback id",
        child_id,
    )
    assert (step_op.type, step_op.sub_type, step_op.name, step_op.parent_id) == (
        OperationType.STEP,
        "Step",
        "approve submitter",
        child_id,
    )
    assert step_op.status is OperationStatus.SUCCEEDED
    assert callback_op.callback_details is not None
    assert submitted == [(callback_op.callback_details.callback_id, 1, "approve submitter")]

    execution.complete(callback_op, OperationStatus.SUCCEEDED, result='"yes"')
    response = execution.invoke()
    assert response["Status"] == "SUCCEEDED"
    assert json.loads(response["Result"]) == '"yes"'
    assert len(submitted) == 1  # the submitter step replayed, not re-run
    assert execution.by_name("approve").status is OperationStatus.SUCCEEDED


def test_unnamed_wait_for_callback_inner_names() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.wait_for_callback(lambda callback_id, step: None)

    execution = start(run(wf))
    execution.invoke()
    names = {op.type: op.name for op in execution.operations()}
    assert names[OperationType.CONTEXT] is None
    assert names[OperationType.CALLBACK] == "create callback id"
    assert names[OperationType.STEP] == "submitter"


def test_submitter_is_retried_per_config() -> None:
    attempts: list[int] = []

    def submit(callback_id: str, step: StepContext) -> None:
        attempts.append(step.attempt)
        if step.attempt == 1:
            raise ConnectionError("queue unavailable")

    config: WaitForCallbackConfig[Any] = WaitForCallbackConfig(
        serdes=JsonSerDes(),
        retry=RetryPolicy(max_attempts=2, initial_delay_seconds=3, jitter=Jitter.NONE),
    )

    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.wait_for_callback(submit, name="w", config=config)

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    retry = next(u for u in execution.updates() if u["Action"] == "RETRY")
    assert retry["StepOptions"] == {"NextAttemptDelaySeconds": 3}
    execution.fire_timers()
    assert execution.invoke()["Status"] == "PENDING"
    assert attempts == [1, 2]
    execution.complete(
        execution.by_name("w create callback id"), OperationStatus.SUCCEEDED, result="7"
    )
    assert json.loads(execution.invoke()["Result"]) == 7


def test_failed_submitter_raises_callback_submitter_error_also_on_replay() -> None:
    caught: list[BaseException] = []

    def submit(callback_id: str, step: StepContext) -> None:
        raise ValueError("no queue")

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            ctx.wait_for_callback(submit, name="w", config=WaitForCallbackConfig(retry=no_retry))
        except CallbackError as exc:
            caught.append(exc)
            return "compensated"

    execution = start(run(wf))
    assert json.loads(execution.invoke()["Result"]) == "compensated"
    assert json.loads(execution.invoke()["Result"]) == "compensated"
    assert [type(exc) for exc in caught] == [CallbackSubmitterError] * 2
    assert all(exc.error_type == "ValueError" and exc.message == "no queue" for exc in caught)
    assert execution.by_name("w").status is OperationStatus.FAILED


def test_timed_out_wait_for_callback_raises_callback_timeout_error_also_on_replay() -> None:
    caught: list[BaseException] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            ctx.wait_for_callback(
                lambda callback_id, step: None,
                name="w",
                config=WaitForCallbackConfig(timeout_seconds=10),
            )
        except CallbackTimeoutError as exc:
            caught.append(exc)
            return "timed out"

    execution = start(run(wf))
    execution.invoke()
    (start_update,) = [
        u for u in execution.updates() if u["Type"] == "CALLBACK" and u["Action"] == "START"
    ]
    assert start_update["CallbackOptions"] == {"TimeoutSeconds": 10, "HeartbeatTimeoutSeconds": 0}
    execution.complete(
        execution.by_name("w create callback id"),
        OperationStatus.TIMED_OUT,
        error=ErrorObject(error_type="Callback.Timeout", error_message="Callback timed out"),
    )
    assert json.loads(execution.invoke()["Result"]) == "timed out"
    assert json.loads(execution.invoke()["Result"]) == "timed out"
    assert [exc.error_type for exc in caught] == ["Callback.Timeout"] * 2  # type: ignore[attr-defined]
    context_op = execution.by_name("w")
    assert context_op.status is OperationStatus.FAILED
    # Recorded as AWS's SDK records it, so AWS's SDK replays it as CallbackTimeoutError.
    assert context_op.error is not None and context_op.error.error_type == (
        "aws_durable_execution_sdk_python.exceptions.CallbackTimeoutError"
    )


def test_non_callable_submitter_is_rejected() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.wait_for_callback("not a function")  # type: ignore[arg-type]

    execution = start(run(wf))
    response = execution.invoke()
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.ValidationError"
    assert execution.calls_count() == 0
