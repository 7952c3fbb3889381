"""A waiting branch runs again in the invocation only when the service brought news.

AWS's SDK resumes a suspended branch in the invocation when its wait is due (a refresh
shows it ended); it never re-runs a branch whose wait is still armed. Ours resumes a
branch once an answer of the service carried an operation the invocation did not send
(a timer fired, a callback arrived). Answers to the batch's own checkpoints are no
news: a branch is not run again for them (it would only suspend again, and plugins
would see a body run for nothing).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from durable_closure import run
from durable_core import AsyncDurableContext, DurableContext, MemoryBackend, use_backend
from durable_core.batch import ParallelConfig

from .test_batch import TimersFireDuringCalls


def _wait_recorded(backend: MemoryBackend, arn: str) -> None:
    deadline = time.monotonic() + 5
    while not any(op.name == "long" for op in backend.operations(arn)):
        assert time.monotonic() < deadline, "the wait never started"
        time.sleep(0.001)


def _workflow(runs: Counter[str], backend: MemoryBackend, arn: list[str]) -> Any:
    def waiter(c: DurableContext) -> str:
        runs["waiter"] += 1
        c.wait(60, name="long")
        return "waited"

    def worker(c: DurableContext) -> str:
        c.step(lambda _: _wait_recorded(backend, arn[0]), name="after the wait started")
        return c.step(lambda _: "worked", name="more work")

    config: ParallelConfig[str] = ParallelConfig(max_concurrency=2)
    return lambda event, ctx: ctx.parallel([waiter, worker], config=config).get_results()


def _async_workflow(runs: Counter[str], backend: MemoryBackend, arn: list[str]) -> Any:
    async def waiter(c: AsyncDurableContext) -> str:
        runs["waiter"] += 1
        await c.wait(60, name="long")
        return "waited"

    async def worker(c: AsyncDurableContext) -> str:
        await c.step(lambda _: _wait_recorded(backend, arn[0]), name="after the wait started")
        return str(await c.step(lambda _: "worked", name="more work"))

    async def workflow(event: Any, ctx: AsyncDurableContext) -> Any:
        config: ParallelConfig[str] = ParallelConfig(max_concurrency=2)
        return (await ctx.parallel([waiter, worker], config=config)).get_results()

    return workflow


@pytest.mark.parametrize("make", [_workflow, _async_workflow], ids=["sync", "async"])
def test_a_waiting_branch_is_not_rerun_for_the_batch_own_answers(make: Any) -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    runs: Counter[str] = Counter()
    handler = run(make(runs, backend, [event["DurableExecutionArn"]]))
    with use_backend(backend):
        assert handler(event, None)["Status"] == "PENDING"
    assert runs["waiter"] == 1


@pytest.mark.parametrize("make", [_workflow, _async_workflow], ids=["sync", "async"])
def test_a_waiting_branch_is_rerun_when_the_service_brings_its_end(make: Any) -> None:
    backend = TimersFireDuringCalls()
    event = backend.start_execution(None)
    runs: Counter[str] = Counter()
    handler = run(make(runs, backend, [event["DurableExecutionArn"]]))
    with use_backend(backend):
        response = handler(event, None)
    assert response == {"Status": "SUCCEEDED", "Result": '["waited", "worked"]'}
    assert runs["waiter"] == 2
