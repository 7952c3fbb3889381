"""Everything an invocation produced is persisted when it suspends, also when the
suspension itself sends nothing.

A wait started in an earlier invocation and still running suspends without a checkpoint
call of its own; whatever the invocation buffered before it (batched step results, a
pipelined result still in flight) is persisted only by the flush that ends the
invocation. Lost, the step would run again on the next invocation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    MemoryBackend,
    NestingType,
    ParallelConfig,
)
from durable_core.types import OperationStatus

from tests.core.test_perf_semantics import SlowBackend
from tests.driver import Execution

MODES = {
    # Batched: step results and branch results wait in the buffer for the next call.
    "batch": (ExecutionOptions(batch_checkpoints=True), NestingType.NESTED, MemoryBackend),
    # Pipelined: the step's result is sent in the background (FLAT: the branch's end
    # sends nothing that would carry it synchronously).
    "pipelined": (ExecutionOptions(pipeline_checkpoints=True), NestingType.FLAT, SlowBackend),
}


@pytest.mark.parametrize("mode", MODES)
def test_a_suspension_that_sends_nothing_still_persists_what_the_invocation_did(
    mode: str,
) -> None:
    options, nesting, backend_type = MODES[mode]
    runs: list[str] = []

    def after(_: Any) -> str:
        runs.append("after")
        return "done"

    def quick(c: DurableContext) -> str:
        c.wait(60, name="short")
        return c.step(after, name="after")

    def slow(c: DurableContext) -> None:
        c.wait(3600, name="long")

    def workflow(event: Any, ctx: DurableContext) -> Any:
        batch = ctx.parallel([quick, slow], config=ParallelConfig(nesting_type=nesting))
        return batch.get_results()

    backend = backend_type()
    event = backend.start_execution(None)
    execution = Execution(backend, event["DurableExecutionArn"], run(workflow, options=options))
    assert execution.invoke()["Status"] == "PENDING"  # both branches wait

    # The short wait ends; the long one goes on. The next invocation runs "after", then
    # suspends on the long wait, which was started before and sends nothing now.
    backend.fire_timers(execution.arn, until=backend.clock() + dt.timedelta(seconds=120))
    assert execution.invoke()["Status"] == "PENDING"
    assert execution.by_name("after").status is OperationStatus.SUCCEEDED
    assert runs == ["after"]

    execution.fire_timers()
    assert execution.invoke() == {"Status": "SUCCEEDED", "Result": '["done", null]'}
    assert runs == ["after"], "the step ran again: its result was lost at the suspension"
