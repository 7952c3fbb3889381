"""A deployment that drops branches of a running parallel or map: detected, not orphaned.

An execution suspends with three branches started; the next invocation runs code with
two. AWS's SDK (3.0.0) runs the two, completes the batch and leaves the third branch's
context STARTED forever (shown below, as the reference of what goes wrong). Ours
fails the execution with ``NonDeterministicExecutionError`` at the batch, sync and
async, NESTED and FLAT, parallel and map, also when AWS's SDK began the execution.
Growing a batch is not affected: new branches just run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.execution import durable_execution
from durable_core import AsyncDurableContext, DurableContext
from durable_core.batch import MapConfig, NestingType, ParallelConfig
from durable_core.types import OperationStatus, OperationType

from tests.compat.conftest import Invoker, Run, aws_invoker, our_invoker, start

NON_DETERMINISTIC = "durable_core.errors.NonDeterministicExecutionError"


def aws_parallel(n: int) -> Any:
    @durable_execution
    def workflow(event: Any, ctx: Any) -> Any:
        def branch(i: int) -> Callable[[Any], int]:
            def body(c: Any) -> int:
                c.wait(Duration.from_seconds(1), name=f"w{i}")
                return i

            return body

        return ctx.parallel([branch(i) for i in range(n)], name="fan").get_results()

    return workflow


def our_parallel(n: int, nesting: NestingType = NestingType.NESTED) -> Any:
    def workflow(event: Any, ctx: DurableContext) -> Any:
        def branch(i: int) -> Callable[[DurableContext], int]:
            def body(c: DurableContext) -> int:
                c.wait(1, name=f"w{i}")
                return i

            return body

        config: ParallelConfig[int] = ParallelConfig(nesting_type=nesting)
        return ctx.parallel([branch(i) for i in range(n)], "fan", config).get_results()

    return workflow


def our_map_async(n: int, nesting: NestingType = NestingType.NESTED) -> Any:
    async def workflow(event: Any, ctx: AsyncDurableContext) -> Any:
        async def item(c: AsyncDurableContext, x: int, i: int, xs: Any) -> int:
            await c.wait(1, name=f"w{i}")
            return x

        config: MapConfig[int] = MapConfig(nesting_type=nesting)
        return (await ctx.map(list(range(n)), item, "items", config)).get_results()

    return workflow


def _then(run: Run, first: Invoker, second: Invoker) -> dict[str, Any]:
    assert run.invoke(first)["Status"] == "PENDING"  # three branches started, waiting
    return run.invoke(second)


def test_aws_sdk_orphans_the_dropped_branch() -> None:
    run = start(None)
    response = _then(run, aws_invoker(aws_parallel(3)), aws_invoker(aws_parallel(2)))
    assert response == {"Status": "SUCCEEDED", "Result": "[0, 1]"}
    branches = [op for op in run.operations() if op.sub_type == "ParallelBranch"]
    assert [op.status for op in branches] == [
        OperationStatus.SUCCEEDED,
        OperationStatus.SUCCEEDED,
        OperationStatus.STARTED,  # orphaned: nothing will ever end it
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(our_parallel(3), our_parallel(2), id="parallel"),
        pytest.param(
            our_parallel(3, NestingType.FLAT), our_parallel(1, NestingType.FLAT), id="flat"
        ),
        pytest.param(our_map_async(3), our_map_async(2), id="map-async"),
        pytest.param(
            our_map_async(3, NestingType.FLAT), our_map_async(2, NestingType.FLAT), id="flat-map"
        ),
    ],
)
def test_dropping_branches_of_a_running_batch_is_non_deterministic(before: Any, after: Any) -> None:
    run = start(None)
    response = _then(run, our_invoker(before), our_invoker(after))
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == NON_DETERMINISTIC
    assert "started branch" in response["Error"]["ErrorMessage"]
    batch = next(op for op in run.operations() if op.type is OperationType.CONTEXT)
    assert batch.status is OperationStatus.STARTED  # no result recorded for the batch


def test_dropping_branches_of_an_execution_aws_began_is_detected() -> None:
    run = start(None)
    response = _then(run, aws_invoker(aws_parallel(3)), our_invoker(our_parallel(2)))
    assert response["Error"]["ErrorType"] == NON_DETERMINISTIC


@pytest.mark.parametrize("nesting", [NestingType.NESTED, NestingType.FLAT])
def test_the_same_or_more_branches_replay(nesting: NestingType) -> None:
    for now in (3, 4):
        run = start(None)
        assert run.invoke(our_invoker(our_parallel(3, nesting)))["Status"] == "PENDING"
        final = run.until_done(our_invoker(our_parallel(now, nesting)))
        assert final == {"Status": "SUCCEEDED", "Result": str(list(range(now)))}
