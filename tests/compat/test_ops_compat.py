"""Callbacks, wait_for_callback, invoke and wait_for_condition: AWS's SDK and ours.

Each workflow is written for both SDKs and run on its own MemoryBackend; what the
service would do between invocations (answer a callback, finish an invoked function,
fire a poll's timer) is done identically on both. AWS's run is the reference: the
checkpoint calls must match call by call (ids, types, subtypes, names, actions,
payloads, options) and the invocation responses must be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import CallbackConfig as AwsCallbackConfig
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.config import InvokeConfig as AwsInvokeConfig
from aws_durable_execution_sdk_python.config import (
    WaitForCallbackConfig as AwsWaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig as AwsWaitForConditionConfig,
)
from aws_durable_execution_sdk_python.waits import (
    WaitStrategyConfig as AwsWaitStrategyConfig,
)
from aws_durable_execution_sdk_python.waits import (
    create_wait_strategy as aws_create_wait_strategy,
)
from durable_core import (
    CallbackConfig,
    InvokeConfig,
    Jitter,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)
from durable_core.types import ErrorObject, Operation, OperationStatus, OperationType

from tests.compat.conftest import Invoker, Run, aws_invoker, our_invoker, start

Handler = Callable[[Any, Any], Any]
# What the service does between two invocations, given the run so far.
Between = Callable[[Run], None]


def flat(run: Run) -> list[dict[str, Any]]:
    return [update for call in run.updates_by_call() for update in call]


def drive(invoker: Invoker, between: Between, event: Any = None, limit: int = 10) -> Run:
    run = start(event)
    for _ in range(limit):
        response = invoker(run, run.backend.invocation_event(run.arn))
        run.responses.append(response)
        if response["Status"] != "PENDING":
            return run
        between(run)
    raise AssertionError(f"no terminal status after {limit} invocations")


def only(run: Run, op_type: OperationType) -> Operation:
    (op,) = [op for op in run.operations() if op.type is op_type]
    return op


def answer_callback(status: OperationStatus, result: str | None = None, **error: str) -> Between:
    def between(run: Run) -> None:
        op = only(run, OperationType.CALLBACK)
        if op.status is OperationStatus.STARTED:
            run.backend.complete(
                run.arn, op.id, status, result=result, error=ErrorObject(**error) if error else None
            )
        else:
            run.backend.fire_timers(run.arn)

    return between


def finish_invoke(status: OperationStatus, result: str | None = None, **error: str) -> Between:
    def between(run: Run) -> None:
        op = only(run, OperationType.CHAINED_INVOKE)
        run.backend.complete(
            run.arn, op.id, status, result=result, error=ErrorObject(**error) if error else None
        )

    return between


def fire_timers(run: Run) -> None:
    assert run.backend.fire_timers(run.arn)


def both(aws: Handler, ours: Handler, between: Between, event: Any = None) -> tuple[Run, Run]:
    aws_run = drive(aws_invoker(durable_execution(aws)), between, event)
    our_run = drive(our_invoker(ours), between, event)
    assert aws_run.updates_by_call(), "AWS's SDK sent no checkpoint"
    assert aws_run.aws_raw_updates == aws_run.updates_by_call()  # the adapter lost nothing
    return aws_run, our_run


def assert_same(aws_run: Run, our_run: Run) -> None:
    assert flat(our_run) == flat(aws_run)
    assert our_run.updates_by_call() == aws_run.updates_by_call()
    assert our_run.responses == aws_run.responses


# -- create_callback + result ---------------------------------------------------------


CALLBACK_CASES = [
    pytest.param(
        lambda ctx, config: ctx.create_callback(name="approval", config=config).result(),
        AwsCallbackConfig(
            timeout=Duration.from_seconds(300), heartbeat_timeout=Duration.from_seconds(60)
        ),
        CallbackConfig(timeout_seconds=300, heartbeat_timeout_seconds=60),
        id="named-with-timeouts",
    ),
    pytest.param(
        lambda ctx, config: [ctx.step(lambda _: "before"), ctx.create_callback().result()],
        None,
        None,
        id="unnamed-default-config",
    ),
]


@pytest.mark.parametrize(("body", "aws_config", "our_config"), CALLBACK_CASES)
def test_create_callback_and_result(body: Any, aws_config: Any, our_config: Any) -> None:
    aws_run, our_run = both(
        lambda event, ctx: body(ctx, aws_config),
        lambda event, ctx: body(ctx, our_config),
        answer_callback(OperationStatus.SUCCEEDED, '{"approved": true}'),
    )
    assert_same(aws_run, our_run)
    assert [r["Status"] for r in aws_run.responses] == ["PENDING", "SUCCEEDED"]
    start_update = next(u for u in flat(aws_run) if u["Type"] == "CALLBACK")
    assert start_update["SubType"] == "Callback" and "CallbackOptions" in start_update


def test_callback_timeout_fails_both_with_the_recorded_message() -> None:
    def body(ctx: Any) -> Any:
        return ctx.create_callback(name="cb").result()

    aws_run, our_run = both(
        lambda event, ctx: body(ctx),
        lambda event, ctx: body(ctx),
        answer_callback(
            OperationStatus.TIMED_OUT,
            error_type="Callback.Timeout",
            error_message="Callback timed out",
        ),
    )
    assert our_run.updates_by_call() == aws_run.updates_by_call()
    assert [r["Status"] for r in our_run.responses] == ["PENDING", "FAILED"]
    assert [r["Status"] for r in aws_run.responses] == ["PENDING", "FAILED"]
    # The response's ErrorType is each SDK's own class (AWS: its CallbackTimeoutError).
    assert our_run.final["Error"]["ErrorMessage"] == aws_run.final["Error"]["ErrorMessage"]


# -- wait_for_callback ----------------------------------------------------------------


def submitter(callback_id: str, context: Any) -> None:
    assert callback_id


WAIT_FOR_CALLBACK_CASES = [
    pytest.param("approve", None, None, id="named"),
    pytest.param(None, None, None, id="unnamed"),
    pytest.param(
        "with-timeout",
        AwsWaitForCallbackConfig(timeout=Duration.from_seconds(30)),
        WaitForCallbackConfig(timeout_seconds=30),
        id="timeout-config",
    ),
]


@pytest.mark.parametrize(("name", "aws_config", "our_config"), WAIT_FOR_CALLBACK_CASES)
def test_wait_for_callback(name: str | None, aws_config: Any, our_config: Any) -> None:
    aws_run, our_run = both(
        lambda event, ctx: ctx.wait_for_callback(submitter, name=name, config=aws_config),
        lambda event, ctx: ctx.wait_for_callback(submitter, name=name, config=our_config),
        answer_callback(OperationStatus.SUCCEEDED, '"done"'),
    )
    assert_same(aws_run, our_run)
    subtypes = [(u["Type"], u.get("SubType"), u["Action"]) for u in flat(aws_run)]
    assert ("CONTEXT", "WaitForCallback", "START") in subtypes
    assert ("CONTEXT", "WaitForCallback", "SUCCEED") in subtypes


# -- invoke ---------------------------------------------------------------------------


INVOKE_CASES = [
    pytest.param(None, None, id="default-config"),
    pytest.param(
        AwsInvokeConfig(tenant_id="tenant-1"), InvokeConfig(tenant_id="tenant-1"), id="tenant"
    ),
]


@pytest.mark.parametrize(("aws_config", "our_config"), INVOKE_CASES)
def test_invoke_succeeds(aws_config: Any, our_config: Any) -> None:
    payload = {"order": 7, "items": ["a", "b"], "rush": True}

    def body(ctx: Any, config: Any) -> Any:
        return {"receipt": ctx.invoke("charge-card", payload, name="charge", config=config)}

    aws_run, our_run = both(
        lambda event, ctx: body(ctx, aws_config),
        lambda event, ctx: body(ctx, our_config),
        finish_invoke(OperationStatus.SUCCEEDED, '{"id": "r-1"}'),
    )
    assert_same(aws_run, our_run)
    (start_update,) = flat(aws_run)
    assert start_update["SubType"] == "ChainedInvoke"


@pytest.mark.parametrize(
    "status", [OperationStatus.FAILED, OperationStatus.TIMED_OUT, OperationStatus.STOPPED]
)
def test_invoke_failure(status: OperationStatus) -> None:
    def body(ctx: Any) -> Any:
        return ctx.invoke("fn", None)

    aws_run, our_run = both(
        lambda event, ctx: body(ctx),
        lambda event, ctx: body(ctx),
        finish_invoke(status, error_type="Boom", error_message="target crashed"),
    )
    assert our_run.updates_by_call() == aws_run.updates_by_call()
    assert [r["Status"] for r in aws_run.responses] == ["PENDING", "FAILED"]
    assert [r["Status"] for r in our_run.responses] == ["PENDING", "FAILED"]
    assert our_run.final["Error"]["ErrorMessage"] == aws_run.final["Error"]["ErrorMessage"]


# -- wait_for_condition ---------------------------------------------------------------


def check(state: dict[str, int], context: Any) -> dict[str, int]:
    return {"n": state["n"] + 1, "attempt": context.attempt}


def aws_condition(max_attempts: int = 60) -> Any:
    return AwsWaitForConditionConfig(
        wait_strategy=aws_create_wait_strategy(
            AwsWaitStrategyConfig(
                should_continue_polling=lambda s: s["n"] < 3,
                max_attempts=max_attempts,
                initial_delay=Duration.from_seconds(2),
                backoff_rate=2,
                jitter_strategy=JitterStrategy.NONE,
            )
        ),
        initial_state={"n": 0},
    )


def our_condition(max_attempts: int = 60) -> Any:
    return WaitForConditionConfig(
        wait_strategy=create_wait_strategy(
            WaitStrategyConfig(
                should_continue_polling=lambda s: s["n"] < 3,
                max_attempts=max_attempts,
                initial_delay_seconds=2,
                backoff_rate=2,
                jitter=Jitter.NONE,
            )
        ),
        initial_state={"n": 0},
    )


@pytest.mark.parametrize("name", ["poll", None])
def test_wait_for_condition(name: str | None) -> None:
    aws_run, our_run = both(
        lambda event, ctx: ctx.wait_for_condition(check, aws_condition(), name=name),
        lambda event, ctx: ctx.wait_for_condition(check, our_condition(), name=name),
        fire_timers,
    )
    assert_same(aws_run, our_run)
    retries = [u for u in flat(aws_run) if u["Action"] == "RETRY"]
    # initial 2 s, rate 2: 2 then 4 seconds.
    assert [u["StepOptions"]["NextAttemptDelaySeconds"] for u in retries] == [2, 4]


def test_wait_for_condition_exhausted() -> None:
    aws_run, our_run = both(
        lambda event, ctx: ctx.wait_for_condition(check, aws_condition(2), name="poll"),
        lambda event, ctx: ctx.wait_for_condition(check, our_condition(2), name="poll"),
        fire_timers,
    )
    expected, actual = flat(aws_run), flat(our_run)
    assert [u["Action"] for u in expected] == ["START", "RETRY", "START", "FAIL"]
    # Equal, error included: the type names AWS's WaitForConditionError, which AWS's SDK
    # reads back on replay.
    assert actual == expected
    assert expected[-1]["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.WaitForConditionError"
    )
    assert [r["Status"] for r in our_run.responses] == [r["Status"] for r in aws_run.responses]


# -- cross replay: one SDK starts, the other finishes --------------------------------


@pytest.mark.parametrize("first", ["aws", "ours"])
def test_cross_replay_of_polls_and_callbacks(first: str) -> None:
    def body(ctx: Any, condition: Any) -> Any:
        state = ctx.wait_for_condition(check, condition, name="poll")
        answer = ctx.wait_for_callback(submitter, name="approve")
        return {"state": state, "answer": answer}

    invokers = {
        "aws": aws_invoker(durable_execution(lambda event, ctx: body(ctx, aws_condition()))),
        "ours": our_invoker(lambda event, ctx: body(ctx, our_condition())),
    }
    second = "ours" if first == "aws" else "aws"

    def between(run: Run) -> None:
        callbacks = [op for op in run.operations() if op.type is OperationType.CALLBACK]
        if callbacks and callbacks[0].status is OperationStatus.STARTED:
            run.backend.complete(run.arn, callbacks[0].id, OperationStatus.SUCCEEDED, result='"y"')
        else:
            fire_timers(run)

    reference = drive(invokers["aws"], between)
    run = start()
    # The first SDK makes the first poll; the second SDK does everything after.
    run.responses.append(invokers[first](run, run.backend.invocation_event(run.arn)))
    between(run)
    for _ in range(10):
        response = invokers[second](run, run.backend.invocation_event(run.arn))
        run.responses.append(response)
        if response["Status"] != "PENDING":
            break
        between(run)
    assert run.responses == reference.responses
    assert flat(run) == flat(reference)
