"""Payloads at and over the API's limits.

The numbers come from outside this project: Lambda's 6 MB response limit less 50 bytes
of envelope (AWS's SDK, ``execution.py`` ``LAMBDA_RESPONSE_SIZE_LIMIT``), the
``OperationPayload`` maximum of 6291456 and ``OperationName`` maximum of 256 in boto3's
service model, 256 KiB for a child context's recorded result (AWS's SDK
``CHECKPOINT_SIZE_LIMIT_BYTES``), 32768 bytes for an error object (AWS's local runner,
``checkpoint/validators/checkpoint.py`` ``MAX_ERROR_PAYLOAD_SIZE_BYTES``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    CheckpointError,
    DurableContext,
    MemoryBackend,
    StepConfig,
    StepContext,
    no_retry,
    use_backend,
)
from durable_core.types import ErrorObject, OperationAction, OperationType, OperationUpdate
from durable_testing import ExecutionStatus, LocalService

MIB = 1024 * 1024
RESPONSE_LIMIT = 6 * MIB - 50
PAYLOAD_MAX = 6_291_456
CHILD_RESULT_LIMIT = 256 * 1024
ERROR_OBJECT_MAX = 32_768


def _string_of_json_length(length: int) -> str:
    """A string whose JSON encoding (with its two quotes) is ``length`` characters."""
    return "x" * (length - 2)


def _invoke(workflow: Any) -> tuple[dict[str, Any], MemoryBackend]:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    with use_backend(backend):
        response = run(workflow)(event, None)
    return response, backend


def _updates(backend: MemoryBackend) -> list[OperationUpdate]:
    return [update for call in backend.calls for update in call.updates]


def test_a_result_at_the_response_limit_is_returned_inline() -> None:
    value = _string_of_json_length(RESPONSE_LIMIT)
    response, backend = _invoke(lambda e, ctx: value)
    assert response == {"Status": "SUCCEEDED", "Result": json.dumps(value)}
    assert backend.calls == []


@pytest.mark.parametrize("length", [RESPONSE_LIMIT + 1, PAYLOAD_MAX])
def test_a_result_over_the_response_limit_is_checkpointed_on_the_execution(length: int) -> None:
    value = _string_of_json_length(length)
    service = LocalService()
    service.register("big", run(lambda e, ctx: value))
    result = service.run("big")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result_payload == json.dumps(value)
    (update,) = _updates(service.backend)
    assert (update.type, update.action) == (OperationType.EXECUTION, OperationAction.SUCCEED)
    assert update.payload is not None and len(update.payload) == length


def test_a_result_over_the_payload_maximum_fails_with_payload_too_large() -> None:
    response, backend = _invoke(lambda e, ctx: _string_of_json_length(PAYLOAD_MAX + 1))
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.PayloadTooLargeError"
    assert backend.calls == []


@pytest.mark.parametrize("kind", ["step", "wait", "child"])
def test_a_name_of_256_characters_is_accepted(kind: str) -> None:
    name = "n" * 256

    def workflow(event: Any, ctx: DurableContext) -> None:
        if kind == "step":
            ctx.step(lambda _: 1, name=name)
        elif kind == "wait":
            ctx.wait(1, name=name)
        else:
            ctx.run_in_child_context(lambda c: 1, name=name)

    service = LocalService()
    service.register("named", run(workflow))
    result = service.run("named")
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.operation(name).name == name


@pytest.mark.parametrize("kind", ["step", "wait", "child"])
def test_a_name_of_257_characters_is_a_validation_error_before_any_checkpoint(kind: str) -> None:
    name = "n" * 257

    def workflow(event: Any, ctx: DurableContext) -> None:
        if kind == "step":
            ctx.step(lambda _: 1, name=name)
        elif kind == "wait":
            ctx.wait(1, name=name)
        else:
            ctx.run_in_child_context(lambda c: 1, name=name)

    response, backend = _invoke(workflow)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.ValidationError"
    assert backend.calls == []


def test_a_large_error_is_cut_to_fit_the_service_limit_and_recorded() -> None:
    """AWS's SDK sends a huge error whole and the service rejects it, so every invocation
    would die; ours cuts the message so the failure is recorded."""
    message = "e" * (ERROR_OBJECT_MAX + 1000)

    def fail(_: Any) -> None:
        raise ValueError(message)

    response, backend = _invoke(
        lambda e, ctx: ctx.step(fail, name="s", config=StepConfig(retry=no_retry))
    )
    assert response["Status"] == "FAILED"
    fail_update = _updates(backend)[-1]
    assert fail_update.action is OperationAction.FAIL
    assert fail_update.error is not None and fail_update.error.error_message is not None
    assert fail_update.error.error_message.startswith("e" * 1000)
    assert "more characters cut" in fail_update.error.error_message
    assert _error_json_length(fail_update) <= ERROR_OBJECT_MAX


def _fail_with_error(message: str) -> OperationUpdate:
    return OperationUpdate(
        id="s",
        type=OperationType.STEP,
        action=OperationAction.FAIL,
        error=ErrorObject(error_type="ValueError", error_message=message),
    )


def _error_json_length(update: OperationUpdate) -> int:
    assert update.error is not None
    return len(json.dumps(update.error.to_wire()))


def test_an_error_object_at_32_kib_is_accepted() -> None:
    update = _fail_with_error("")
    update = _fail_with_error("e" * (ERROR_OBJECT_MAX - _error_json_length(update)))
    assert _error_json_length(update) == ERROR_OBJECT_MAX
    backend = MemoryBackend()
    event = backend.start_execution(None)
    backend.checkpoint(event["DurableExecutionArn"], event["CheckpointToken"], [update])


def test_an_error_object_over_32_kib_is_rejected_as_the_service_does() -> None:
    update = _fail_with_error("e" * ERROR_OBJECT_MAX)
    backend = MemoryBackend()
    event = backend.start_execution(None)
    with pytest.raises(CheckpointError) as info:
        backend.checkpoint(event["DurableExecutionArn"], event["CheckpointToken"], [update])
    assert info.value.error_code == "InvalidParameterValueException"


def test_a_step_result_over_256_kib_is_recorded_whole_and_replayed() -> None:
    """Only child contexts switch to ReplayChildren above 256 KiB (AWS's SDK); steps do not."""
    big = "s" * (CHILD_RESULT_LIMIT + 10)
    runs: list[int] = []

    def big_step(_: StepContext) -> str:
        runs.append(1)
        return big

    def workflow(event: Any, ctx: DurableContext) -> int:
        value = ctx.step(big_step, name="big")
        ctx.wait(1)
        return len(value)

    service = LocalService()
    service.register("big-step", run(workflow))
    result = service.run("big-step")
    assert result.result == len(big)
    assert runs == [1]
    assert result.operation("big").result == json.dumps(big, separators=(",", ":"))


def test_a_child_result_over_256_kib_replays_its_children_without_rerunning_steps() -> None:
    big = "c" * (CHILD_RESULT_LIMIT + 10)
    runs: list[int] = []

    def big_step(_: StepContext) -> str:
        runs.append(1)
        return big

    def child(c: DurableContext) -> str:
        return c.step(big_step, name="inner") + ""

    def workflow(event: Any, ctx: DurableContext) -> int:
        value = ctx.run_in_child_context(child, name="kid")
        ctx.wait(1)
        return len(value)

    service = LocalService()
    service.register("big-child", run(workflow))
    result = service.run("big-child")
    assert result.result == len(big)
    assert runs == [1], "the inner step replays from its record"
    kid = result.operation("kid")
    assert kid.context_details is not None and kid.context_details.replay_children is True
    assert not kid.context_details.result


def test_a_payload_over_the_service_maximum_is_rejected() -> None:
    update = OperationUpdate(
        id="s",
        type=OperationType.STEP,
        action=OperationAction.SUCCEED,
        payload="p" * (PAYLOAD_MAX + 1),
    )
    backend = MemoryBackend()
    event = backend.start_execution(None)
    with pytest.raises(CheckpointError):
        backend.checkpoint(event["DurableExecutionArn"], event["CheckpointToken"], [update])
