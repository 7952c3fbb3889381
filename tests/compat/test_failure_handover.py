"""Failure records AWS's SDK reads as the same error, and hand-overs on failure paths.

Each workflow fails one way (a wait_for_callback whose callback failed, timed out or
whose submitter raised; a failing step, invoke or nested child inside a child context;
a failed map item or parallel branch; a failing step or invoke at the top), catches the
error with the ``except`` clause a user would write, then waits. Written once, it runs on
AWS's SDK and on ours with each SDK's own classes.

* Records: each SDK runs it alone; every FAIL it checkpoints (ErrorType, ErrorMessage,
  ErrorData) and its response are equal. AWS's SDK is the oracle.
* Hand-over: one SDK runs until the failure is recorded and caught, the other replays
  it from the record; the same ``except`` clause catches the same class with the same
  message, and the execution ends as it does on AWS's SDK alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_durable_execution_sdk_python.exceptions as aws_errors
import pytest
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.config import MapConfig as AwsMapConfig
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.config import StepConfig as AwsStepConfig
from aws_durable_execution_sdk_python.config import (
    WaitForCallbackConfig as AwsWaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.retries import RetryDecision
from durable_core import StepConfig, WaitForCallbackConfig, errors, no_retry
from durable_core.batch import MapConfig, ParallelConfig
from durable_core.types import ErrorObject, OperationStatus, OperationType

from tests.compat.conftest import (
    Invoker,
    Run,
    aws_invoker,
    our_invoker,
    start,
    without_stack_trace,
)

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Sdk:
    """What a workflow needs from one SDK: its error classes and its spelling of configs."""

    errors: Any
    no_retry: Any
    wait: Callable[[Any, str], None]
    map_config: Any
    parallel_config: Any
    callback_no_retry: Any


AWS = Sdk(
    errors=aws_errors,
    no_retry=AwsStepConfig(retry_strategy=lambda error, attempts: RetryDecision.no_retry()),
    wait=lambda ctx, name: ctx.wait(Duration.from_seconds(5), name=name),
    map_config=AwsMapConfig(max_concurrency=1),
    parallel_config=AwsParallelConfig(max_concurrency=1),
    callback_no_retry=AwsWaitForCallbackConfig(
        retry_strategy=lambda error, attempts: RetryDecision.no_retry()
    ),
)
OURS = Sdk(
    errors=errors,
    no_retry=StepConfig(retry=no_retry),
    wait=lambda ctx, name: ctx.wait(5, name=name),
    map_config=MapConfig(max_concurrency=1),
    parallel_config=ParallelConfig(max_concurrency=1),
    callback_no_retry=WaitForCallbackConfig(retry=no_retry),
)


def boom(_: Any) -> None:
    raise ValueError("boom")


def submit(callback_id: str, _: Any) -> None:
    return None


def submit_fails(callback_id: str, _: Any) -> None:
    raise KeyError("mailer down")


# Each scenario: the call that fails, and the name of the class that catches it there.
Failing = Callable[[Sdk, Any], Any]


def _step(sdk: Sdk, ctx: Any) -> Any:
    return ctx.step(boom, name="s", config=sdk.no_retry)


def _item(sdk: Sdk) -> Callable[[Any, int, int, Any], Any]:
    def item(c: Any, x: int, i: int, xs: Any) -> Any:
        return c.step(boom if i == 1 else (lambda _: x), name="item", config=sdk.no_retry)

    return item


SCENARIOS: dict[str, tuple[Failing, str]] = {
    "callback failed": (lambda s, c: c.wait_for_callback(submit, name="w"), "CallbackError"),
    "callback timed out": (lambda s, c: c.wait_for_callback(submit, name="w"), "CallbackError"),
    "submitter raised": (
        lambda s, c: c.wait_for_callback(submit_fails, name="w", config=s.callback_no_retry),
        "CallbackError",
    ),
    "step in child": (
        lambda s, c: c.run_in_child_context(lambda d: _step(s, d), name="child"),
        "ChildContextError",
    ),
    "invoke in child": (
        lambda s, c: c.run_in_child_context(lambda d: d.invoke("fn", None, name="i"), name="child"),
        "ChildContextError",
    ),
    "nested child": (
        lambda s, c: c.run_in_child_context(
            lambda d: d.run_in_child_context(lambda e: _step(s, e), name="inner"), name="outer"
        ),
        "ChildContextError",
    ),
    "map item": (
        lambda s, c: c.map([1, 2, 3], _item(s), name="m", config=s.map_config).throw_if_error(),
        "ChildContextError",
    ),
    "parallel branch": (
        lambda s, c: c.parallel(
            [lambda d: 1, lambda d: _step(s, d)], name="p", config=s.parallel_config
        ).throw_if_error(),
        "ChildContextError",
    ),
    "step": (_step, "StepError"),
    "invoke": (lambda s, c: c.invoke("fn", None, name="i"), "InvokeError"),
}


def workflow(sdk: Sdk, scenario: str) -> Handler:
    failing, catcher = SCENARIOS[scenario]
    caught_by = getattr(sdk.errors, catcher)

    def handler(event: Any, ctx: Any) -> Any:
        try:
            failing(sdk, ctx)
        except caught_by as exc:
            caught = {"class": type(exc).__name__, "message": exc.message}
        sdk.wait(ctx, "after")
        return caught

    return durable_execution(handler) if sdk is AWS else handler


def between(scenario: str) -> Callable[[Run], None]:
    """What the service does between invocations: answer, end an invoke, fire timers."""

    def advance(run: Run) -> None:
        for op in run.operations():
            if op.status is not OperationStatus.STARTED:
                continue
            if op.type is OperationType.CALLBACK:
                if scenario == "callback timed out":
                    status = OperationStatus.TIMED_OUT
                    error = ErrorObject(
                        error_message="Callback timed out", error_type="Callback.Timeout"
                    )
                else:
                    status = OperationStatus.FAILED
                    error = ErrorObject(
                        error_message="declined", error_type="Ext.Declined", error_data="d"
                    )
                run.backend.complete(run.arn, op.id, status, error=error)
                return
            if op.type is OperationType.CHAINED_INVOKE:
                error = ErrorObject(error_message="target failed", error_type="Remote.Error")
                run.backend.complete(run.arn, op.id, OperationStatus.FAILED, error=error)
                return
        assert run.backend.fire_timers(run.arn), "PENDING with nothing to do"

    return advance


def drive(run: Run, invoker: Invoker, scenario: str, *, until_wait: bool = False) -> Run:
    """Invoke until the execution ends (or, with ``until_wait``, until the failure was
    caught and the wait after it started)."""
    for _ in range(10):
        response = invoker(run, run.backend.invocation_event(run.arn))
        run.responses.append(response)
        if response["Status"] != "PENDING":
            return run
        if until_wait and any(op.name == "after" for op in run.operations()):
            run.backend.fire_timers(run.arn)
            return run
        between(scenario)(run)
    raise AssertionError("no terminal status after 10 invocations")


def fails(run: Run) -> list[dict[str, Any]]:
    return [u for call in run.updates_by_call() for u in call if u["Action"] == "FAIL"]


# A StackTrace inside a batch result's envelope; the sources raising here hold no "]}".
_ENVELOPED_STACK_TRACE = re.compile(r',"StackTrace":\{"t":"l","v":\[.*?\]\}')


def flat(run: Run) -> list[dict[str, Any]]:
    """Every update; the tracebacks our batch results carry (AWS's carry none) left out."""
    return [
        {**u, "Payload": _ENVELOPED_STACK_TRACE.sub("", u["Payload"])} if "Payload" in u else u
        for call in run.updates_by_call()
        for u in call
    ]


def alone(sdk: Sdk, scenario: str) -> Run:
    invoker = aws_invoker if sdk is AWS else our_invoker
    return drive(start({}), invoker(workflow(sdk, scenario)), scenario)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_failures_are_recorded_as_aws_records_them(scenario: str) -> None:
    aws_run, our_run = alone(AWS, scenario), alone(OURS, scenario)
    assert fails(our_run) == fails(aws_run)
    # Every update, the batch results that carry a failed item's error included.
    assert flat(our_run) == flat(aws_run)
    assert [without_stack_trace(r) for r in our_run.responses] == aws_run.responses
    assert aws_run.final["Status"] == "SUCCEEDED"


@pytest.mark.parametrize("first", ["aws", "ours"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_sdk_catches_the_others_failure_record_with_the_same_except(
    scenario: str, first: str
) -> None:
    recorder, replayer = (AWS, OURS) if first == "aws" else (OURS, AWS)
    invokers = {AWS: aws_invoker, OURS: our_invoker}
    run = drive(
        start({}), invokers[recorder](workflow(recorder, scenario)), scenario, until_wait=True
    )
    assert run.final["Status"] == "PENDING"
    recorded_by_first = len(run.responses)
    drive(run, invokers[replayer](workflow(replayer, scenario)), scenario)
    # The replaying SDK caught the recorded failure with the same clause, as the same
    # class with the same message, as AWS's SDK does when it runs the whole execution.
    assert run.final == alone(AWS, scenario).final
    assert run.final["Status"] == "SUCCEEDED"
    assert len(run.responses) == recorded_by_first + 1  # one invocation of the replayer


def unserialisable(sdk: Sdk, runs: list[str]) -> Handler:
    """A step whose result no serdes can write ({1, 2}: a set), caught as SerDesError."""

    def body(_: Any) -> Any:
        runs.append("ran")
        return {1, 2}

    def handler(event: Any, ctx: Any) -> Any:
        try:
            ctx.step(body, name="s", config=sdk.no_retry)
        except sdk.errors.SerDesError as exc:
            caught = type(exc).__name__
        sdk.wait(ctx, "after")
        return caught

    return durable_execution(handler) if sdk is AWS else handler


@pytest.mark.parametrize("first", ["aws", "ours"])
def test_a_serdes_failure_is_caught_as_serdes_error_after_a_hand_over(first: str) -> None:
    """AWS's SDK records a permanent serdes failure as a FAIL typed with its SerDesError
    and raises SerDesError, on the first run and on replay; so does ours."""
    recorder, replayer = (AWS, OURS) if first == "aws" else (OURS, AWS)
    invokers = {AWS: aws_invoker, OURS: our_invoker}
    runs: list[str] = []
    run = drive(
        start({}), invokers[recorder](unserialisable(recorder, runs)), "serdes", until_wait=True
    )
    (fail,) = fails(run)
    assert fail["Error"]["ErrorType"] == "aws_durable_execution_sdk_python.exceptions.SerDesError"
    drive(run, invokers[replayer](unserialisable(replayer, runs)), "serdes")
    assert run.final == {"Status": "SUCCEEDED", "Result": '"SerDesError"'}
    assert runs == ["ran"]


ASYNC_SCENARIOS = ["callback failed", "callback timed out", "submitter raised", "step in child"]


def async_workflow(scenario: str) -> Handler:
    """Our asyncio face of the same workflows: it writes and reads the same records."""

    async def failing(ctx: Any) -> Any:
        if scenario == "step in child":

            async def child(d: Any) -> Any:
                return await d.step(boom, name="s", config=OURS.no_retry)

            return await ctx.run_in_child_context(child, name="child")
        submitter = submit_fails if scenario == "submitter raised" else submit
        config = OURS.callback_no_retry if scenario == "submitter raised" else None
        return await ctx.wait_for_callback(submitter, name="w", config=config)

    caught_by = getattr(errors, SCENARIOS[scenario][1])

    async def handler(event: Any, ctx: Any) -> Any:
        try:
            await failing(ctx)
        except caught_by as exc:
            caught = {"class": type(exc).__name__, "message": exc.message}
        await ctx.wait(5, name="after")
        return caught

    return handler


@pytest.mark.parametrize("first", ["aws", "ours"])
@pytest.mark.parametrize("scenario", ASYNC_SCENARIOS)
def test_our_async_face_hands_failures_over_as_the_sync_one(scenario: str, first: str) -> None:
    recorder, replayer = (
        (aws_invoker(workflow(AWS, scenario)), our_invoker(async_workflow(scenario)))
        if first == "aws"
        else (our_invoker(async_workflow(scenario)), aws_invoker(workflow(AWS, scenario)))
    )
    run = drive(start({}), recorder, scenario, until_wait=True)
    drive(run, replayer, scenario)
    assert run.final == alone(AWS, scenario).final
    assert run.final["Status"] == "SUCCEEDED"
