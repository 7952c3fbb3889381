"""Payloads the service would refuse, or JSON would mangle, fail at once with a typed error.

The limit comes from boto3's service model (``OperationPayload``'s maximum length); the
JSON rules from the JSON standard (RFC 8259 has no NaN or Infinity) and from what
``json.loads`` does with a repeated key (keeps the last: an entry is lost).
"""

from __future__ import annotations

import json
import math
from typing import Any

import botocore.session
import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    MemoryBackend,
    SerDesError,
    StepConfig,
    StepContext,
    StepError,
    use_backend,
)
from durable_core.payloads import MemoryPayloadStore, Offload
from durable_core.types import OperationStatus, OperationType

from .conftest import drive

PAYLOAD_MAX: int = (
    botocore.session.get_session()
    .get_service_model("lambda")
    .shape_for("OperationPayload")
    .metadata["max"]
)


def _refuse(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token}")


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def caught_then_wait(make: Any, runs: list[int], config: StepConfig[Any] | None = None) -> Any:
    """A step whose result cannot be recorded, the error caught, then a wait: the step's
    body must run once in all, however many invocations follow."""

    def body(step: StepContext) -> Any:
        runs.append(step.attempt)
        return make()

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            ctx.step(body, name="big", config=config)
        except (StepError, SerDesError) as exc:
            caught = [type(exc).__name__, str(exc)]
        ctx.wait(5, name="after")
        return caught

    return run(wf)


def test_a_step_result_over_the_payload_limit_fails_the_step_once_naming_size_and_limit() -> None:
    runs: list[int] = []
    size = PAYLOAD_MAX + 1
    driven = drive(caught_then_wait(lambda: "x" * (size - 2), runs))  # JSON adds 2 quotes
    assert runs == [1], "the body is never run again for a result it cannot record"
    caught_class, message = json.loads(driven.final["Result"])
    assert caught_class == "StepError"
    assert str(size) in message and str(PAYLOAD_MAX) in message
    big = driven.by_name("big")
    assert big.status is OperationStatus.FAILED
    assert big.error is not None
    assert big.error.error_type == "durable_core.errors.PayloadTooLargeError"
    # Nothing over the limit was ever sent (the service would reject the whole call).
    sent = [u for call in driven.backend.calls for u in call.updates]
    assert all(len(u.payload or "") <= PAYLOAD_MAX for u in sent)


def test_a_result_at_the_payload_limit_is_recorded() -> None:
    runs: list[int] = []

    def at_limit(step: StepContext) -> str:
        runs.append(1)
        return "x" * (PAYLOAD_MAX - 2)

    driven = drive(run(lambda e, ctx: len(ctx.step(at_limit))))
    assert json.loads(driven.final["Result"]) == PAYLOAD_MAX - 2
    assert runs == [1]


def test_an_oversized_result_is_offloaded_when_offload_is_configured() -> None:
    store = MemoryPayloadStore()
    config = StepConfig[str](offload=Offload(store))
    runs: list[int] = []

    def over_limit(step: StepContext) -> str:
        runs.append(1)
        return "x" * PAYLOAD_MAX

    def wf(event: Any, ctx: DurableContext) -> int:
        value = ctx.step(over_limit, name="big", config=config)
        ctx.wait(5, name="after")
        return len(value)

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == PAYLOAD_MAX
    assert runs == [1]
    assert len(store.objects) == 1


def test_an_invoke_payload_over_the_limit_fails_before_anything_is_sent() -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    with use_backend(backend):
        response = run(lambda e, ctx: ctx.invoke("target", "x" * PAYLOAD_MAX))(event, None)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.PayloadTooLargeError"
    assert str(PAYLOAD_MAX) in response["Error"]["ErrorMessage"]
    assert not [u for call in backend.calls for u in call.updates]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_handler_result_of_nan_or_infinity_fails_at_once(value: float) -> None:
    driven = drive(run(lambda e, ctx: {"ratio": value}))
    assert len(driven.responses) == 1
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"].endswith(".SerDesError")
    assert "NaN or Infinity" in driven.final["Error"]["ErrorMessage"]


def test_a_step_result_of_nan_is_recorded_as_standard_json_and_replays() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[bool]:
        values = ctx.step(lambda s: [math.nan, -math.inf, 1.5], name="floats")
        ctx.wait(5, name="after")  # the next invocation replays the step
        return [math.isnan(values[0]), values[1] == -math.inf, values[2] == 1.5]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [True, True, True]
    payload = driven.by_name("floats").result
    assert payload is not None
    json.loads(payload, parse_constant=_refuse)


def test_dict_keys_that_json_would_merge_fail_the_step_once() -> None:
    runs: list[int] = []
    driven = drive(caught_then_wait(lambda: {1: "int", "1": "str"}, runs))
    assert runs == [1]
    caught_class, message = json.loads(driven.final["Result"])
    assert caught_class == "SerDesError"  # as AWS's SDK raises a serdes failure
    assert "same JSON key" in message
    big = driven.by_name("big")
    assert big.error is not None and big.error.error_type == (
        "aws_durable_execution_sdk_python.exceptions.SerDesError"
    )


def test_a_handler_result_with_merging_keys_fails() -> None:
    driven = drive(run(lambda e, ctx: {"a": {1: "int", "1": "str"}}))
    assert driven.final["Status"] == "FAILED"
    assert "same JSON key" in driven.final["Error"]["ErrorMessage"]


def test_a_result_nested_10000_deep_is_a_typed_error_on_the_first_invocation() -> None:
    driven = drive(run(lambda e, ctx: nested(10_000)))
    assert len(driven.responses) == 1
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"].endswith(".SerDesError")
    assert "nested deeper" in driven.final["Error"]["ErrorMessage"]


def test_a_step_result_nested_10000_deep_fails_the_step_once() -> None:
    runs: list[int] = []
    driven = drive(caught_then_wait(lambda: nested(10_000), runs))
    assert runs == [1]
    assert json.loads(driven.final["Result"])[0] == "SerDesError"


def test_a_callback_result_that_is_not_valid_utf8_is_rejected() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.create_callback(name="cb").result()

    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        assert run(wf)(event, None)["Status"] == "PENDING"
        (callback,) = [o for o in backend.operations(arn) if o.type is OperationType.CALLBACK]
        # Bytes b'"\xff"' let through by a lenient (surrogateescape) decoder.
        answer = b'"\xff"'.decode("utf-8", "surrogateescape")
        backend.complete(arn, callback.id, OperationStatus.SUCCEEDED, result=answer)
        response = run(wf)(backend.invocation_event(arn), None)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"].endswith(".SerDesError")
    assert "not valid UTF-8" in response["Error"]["ErrorMessage"]
