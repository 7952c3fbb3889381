"""Named parallel branches: recorded where AWS's SDK records a ``ParallelBranch`` name.

AWS's SDK names a branch's child context after its ``ParallelBranch.name`` (default
``parallel-branch-{i}``). The same workflow written with AWS's ``ParallelBranch`` and
with ours, sync and async, must send the same checkpoints call by call, and an
execution started by one SDK must finish on the other (a name recorded elsewhere would
be non-deterministic on replay).
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.config import ParallelBranch as AwsParallelBranch
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.execution import durable_execution
from durable_core import AsyncDurableContext, DurableContext, ParallelBranch
from durable_core.batch import ParallelConfig
from durable_core.types import OperationType

from tests.compat.conftest import Invoker, Run, aws_invoker, our_invoker, start


@durable_execution
def aws_named(event: Any, ctx: Any) -> Any:
    def fetch_user(c: Any) -> Any:
        user = c.step(lambda _: "ann", name="user")
        c.wait(Duration.from_seconds(1), name="pause")
        return user

    result = ctx.parallel(
        [
            AwsParallelBranch(fetch_user, name="fetch-user"),
            lambda c: c.step(lambda _: 2, name="count"),
            AwsParallelBranch(lambda c: c.step(lambda _: 3, name="three")),
        ],
        name="load",
        config=AwsParallelConfig(max_concurrency=1),
    )
    return result.get_results()


def our_named(event: Any, ctx: DurableContext) -> Any:
    def fetch_user(c: DurableContext) -> Any:
        user = c.step(lambda _: "ann", name="user")
        c.wait(1, name="pause")
        return user

    result = ctx.parallel(
        [
            ParallelBranch(fetch_user, name="fetch-user"),
            lambda c: c.step(lambda _: 2, name="count"),
            ParallelBranch(lambda c: c.step(lambda _: 3, name="three")),
        ],
        name="load",
        config=ParallelConfig(max_concurrency=1),
    )
    return result.get_results()


async def our_named_async(event: Any, ctx: AsyncDurableContext) -> Any:
    async def fetch_user(c: AsyncDurableContext) -> Any:
        user = await c.step(lambda _: "ann", name="user")
        await c.wait(1, name="pause")
        return user

    async def count(c: AsyncDurableContext) -> Any:
        return await c.step(lambda _: 2, name="count")

    async def three(c: AsyncDurableContext) -> Any:
        return await c.step(lambda _: 3, name="three")

    result = await ctx.parallel(
        [ParallelBranch(fetch_user, name="fetch-user"), count, ParallelBranch(three)],
        name="load",
        config=ParallelConfig(max_concurrency=1),
    )
    return result.get_results()


def _branch_names(run: Run) -> list[str | None]:
    return [
        op.name
        for op in run.operations()
        if op.type is OperationType.CONTEXT and op.sub_type == "ParallelBranch"
    ]


@pytest.mark.parametrize("ours", [our_named, our_named_async], ids=["sync", "async"])
def test_named_branches_checkpoint_as_aws(ours: Any) -> None:
    aws_run = start(None)
    aws_run.until_done(aws_invoker(aws_named))
    our_run = start(None)
    our_run.until_done(our_invoker(ours))
    assert _branch_names(aws_run) == ["fetch-user", "parallel-branch-1", "parallel-branch-2"]
    assert our_run.updates_by_call() == aws_run.updates_by_call()
    assert our_run.responses == aws_run.responses


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (aws_invoker(aws_named), our_invoker(our_named)),
        (our_invoker(our_named), aws_invoker(aws_named)),
        (our_invoker(our_named_async), aws_invoker(aws_named)),
    ],
    ids=["aws-then-ours", "ours-then-aws", "async-then-aws"],
)
def test_an_execution_with_named_branches_changes_sdk_mid_way(
    first: Invoker, then: Invoker
) -> None:
    run = start(None)
    assert run.invoke(first)["Status"] == "PENDING"  # suspended in fetch-user's wait
    assert run.until_done(then) == {"Status": "SUCCEEDED", "Result": '["ann", 2, 3]'}
