"""Our handlers under AWS's in-process ``DurableFunctionTestRunner``.

A team moving from AWS's SDK keeps its tests: AWS's runner calls the handler with an
invocation object (its service client inside) instead of the Lambda event, and our
handlers accept it. Each workflow here is asserted as such a test would assert it:
status, result, and the operations the runner recorded, by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from aws_durable_execution_sdk_python.lambda_service import InvocationStatus, OperationStatus
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from durable_closure import run
from durable_core import DurableContext, StepConfig, StepContext, no_retry
from durable_core.batch import MapConfig
from durable_decorator import durable_execution


@pytest.fixture
def runner_for() -> Iterator[Any]:
    runners: list[DurableFunctionTestRunner] = []

    def make(handler: Any) -> DurableFunctionTestRunner:
        runner = DurableFunctionTestRunner(handler=handler, poll_interval=0.01)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()  # type: ignore[no-untyped-call]


def steps_and_wait(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    price = ctx.step(lambda s: event["quantity"] * 15, name="price")
    ctx.wait(3600, name="cool off")  # the runner skips time
    total = ctx.step(lambda s: price + price // 5, name="total")
    return {"price": price, "total": total}


def test_steps_and_a_wait(runner_for: Any) -> None:
    runner = runner_for(run(steps_and_wait))
    result = runner.run(input=json.dumps({"quantity": 4}), execution_timeout=60)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result) == {"price": 60, "total": 72}
    assert json.loads(result.get_step("price").result) == 60
    assert json.loads(result.get_step("total").result) == 72
    assert result.get_wait("cool off").status is OperationStatus.SUCCEEDED


@durable_execution
def approval(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    answer = ctx.wait_for_callback(lambda callback_id, step: None, name="approve")
    return {"order": event["order"], "answer": answer}


def test_a_callback_answered_by_the_test(runner_for: Any) -> None:
    runner = runner_for(approval)
    arn = runner.run_async(input=json.dumps({"order": 7}), execution_timeout=60)
    callback_id = runner.wait_for_callback(arn, name="approve create callback id", timeout=30)
    runner.send_callback_success(callback_id, result=json.dumps("approved").encode())
    result = runner.wait_for_result(arn, timeout=60)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result) == {"order": 7, "answer": '"approved"'}
    assert result.get_context("approve").status is OperationStatus.SUCCEEDED


def squares(event: list[int], ctx: DurableContext) -> list[int]:
    def item(c: DurableContext, x: int, i: int, xs: Sequence[int]) -> int:
        return c.step(lambda s: x * x, name="square")

    return ctx.map(event, item, name="squares", config=MapConfig(max_concurrency=2)).get_results()


def test_a_map(runner_for: Any) -> None:
    runner = runner_for(run(squares))
    result = runner.run(input=json.dumps([1, 2, 3]), execution_timeout=60)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result) == [1, 4, 9]
    assert result.get_context("squares").status is OperationStatus.SUCCEEDED


def declined(event: Any, ctx: DurableContext) -> None:
    def charge(step: StepContext) -> None:
        raise PermissionError("card declined")

    ctx.step(charge, name="charge", config=StepConfig(retry=no_retry))


def test_a_failing_step(runner_for: Any) -> None:
    runner = runner_for(run(declined))
    result = runner.run(input="{}", execution_timeout=60)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.message == "card declined"
    assert result.error.type == "aws_durable_execution_sdk_python.exceptions.StepError"
    step = result.get_step("charge")
    assert step.status is OperationStatus.FAILED
    assert step.error is not None and step.error.type == "PermissionError"
