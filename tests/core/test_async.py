"""``async def`` handlers: real concurrency, replay, non-determinism, typed errors, loops."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

from durable_closure import run
from durable_core import (
    CallbackExternalError,
    ChildContextError,
    DurableContext,
    InvokeError,
    MemoryBackend,
    StepConfig,
    StepContext,
    StepError,
    no_retry,
)
from durable_core.aio import AsyncDurableContext
from durable_core.backends.base import CheckpointResponse
from durable_core.batch import CompletionConfig, MapConfig, ParallelConfig
from durable_core.types import ErrorObject, OperationStatus, OperationUpdate

from tests.driver import start

from .conftest import drive

NO_RETRY = StepConfig[Any](retry=no_retry)


def test_parallel_branches_with_async_bodies_run_concurrently() -> None:
    # Each branch's step waits for an event only the other branch sets: run one after
    # the other, the first would wait forever (bounded here so a failure is not a hang).
    async def wf(event: Any, ctx: AsyncDurableContext) -> list[str]:
        events = [asyncio.Event(), asyncio.Event()]

        def branch(mine: int) -> Any:
            async def meet(s: StepContext) -> str:
                events[1 - mine].set()
                await asyncio.wait_for(events[mine].wait(), timeout=30)
                return f"met-{mine}"

            async def body(c: AsyncDurableContext) -> str:
                return await c.step(meet, name=f"meet-{mine}")

            return body

        result = await ctx.parallel([branch(0), branch(1)], name="rendezvous")
        result.throw_if_error()
        return result.get_results()

    driven = drive(run(wf))
    assert driven.final["Status"] == "SUCCEEDED"
    assert json.loads(driven.final["Result"]) == ["met-0", "met-1"]


def test_max_concurrency_bounds_the_branches_in_flight() -> None:
    running = 0
    peak = 0

    async def wf(event: Any, ctx: AsyncDurableContext) -> list[int]:
        # Bodies meet in pairs: two at a time must be in flight (or the barrier never
        # fills), and a third would show in ``peak`` before its pair met.
        pairs = asyncio.Barrier(2)

        async def item(c: AsyncDurableContext, n: int, i: int, items: Sequence[int]) -> int:
            async def body(s: StepContext) -> int:
                nonlocal running, peak
                running += 1
                peak = max(peak, running)
                await asyncio.wait_for(pairs.wait(), timeout=30)
                running -= 1
                return n * 2

            return await c.step(body)

        result = await ctx.map(list(range(6)), item, config=MapConfig(max_concurrency=2))
        return result.get_results()

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [0, 2, 4, 6, 8, 10]
    assert peak == 2


def test_replay_returns_recorded_results_without_running_bodies() -> None:
    runs: list[str] = []

    async def wf(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
        async def fetch(s: StepContext) -> dict[str, int]:
            runs.append("fetch")
            return {"total": 42}

        def tax(s: StepContext) -> float:
            runs.append("tax")
            return 4.2

        order = await ctx.step(fetch, name="fetch")
        rate = await ctx.step(tax, name="tax")

        async def child(c: AsyncDurableContext) -> str:
            runs.append("child")
            return await c.step(lambda s: "inner")

        inner = await ctx.run_in_child_context(child, name="child")
        replaying = ctx.is_replaying
        await ctx.wait(5, name="pause")
        return {"order": order, "rate": rate, "inner": inner, "replayed": replaying}

    driven = drive(run(wf))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == {
        "order": {"total": 42},
        "rate": 4.2,
        "inner": "inner",
        # The result is the second invocation's, which re-ran the completed operations.
        "replayed": True,
    }
    assert runs == ["fetch", "tax", "child"]


def test_a_changed_async_workflow_is_non_deterministic() -> None:
    def recorded(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="charge")
        ctx.wait(5)

    async def changed(event: Any, ctx: AsyncDurableContext) -> None:
        await ctx.step(lambda s: 1, name="refund")

    execution = start(run(recorded))
    assert execution.invoke()["Status"] == "PENDING"
    execution.fire_timers()
    execution.handler = run(changed)
    response = execution.invoke()
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.NonDeterministicExecutionError"
    assert "name recorded 'charge', now 'refund'" in response["Error"]["ErrorMessage"]


def test_failures_raise_the_typed_errors_of_the_sync_engine() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> dict[str, str]:
        caught: dict[str, str] = {}

        async def boom(s: StepContext) -> None:
            raise ValueError("bad input")

        try:
            await ctx.step(boom, name="boom", config=NO_RETRY)
        except StepError as exc:
            caught["step"] = f"{type(exc).__name__}: {exc.error_type}"

        async def failing_child(c: AsyncDurableContext) -> None:
            raise KeyError("missing")

        try:
            await ctx.run_in_child_context(failing_child, name="child")
        except ChildContextError as exc:
            caught["child"] = f"{type(exc).__name__}: {exc.error_type}"

        callback = await ctx.create_callback(name="approval")
        try:
            await callback.result()
        except CallbackExternalError as exc:
            caught["callback"] = f"{type(exc).__name__}: {exc}"
        try:
            await ctx.invoke("billing", {}, name="bill")
        except InvokeError as exc:
            caught["invoke"] = type(exc).__name__
        return caught

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    rejected = ErrorObject(error_type="Rejected", error_message="no")
    execution.complete(execution.by_name("approval"), OperationStatus.FAILED, error=rejected)
    assert execution.invoke()["Status"] == "PENDING"
    execution.complete(execution.by_name("bill"), OperationStatus.FAILED, error=rejected)
    response = execution.invoke()
    assert json.loads(response["Result"]) == {
        "step": "StepError: ValueError",
        "child": "ChildContextError: KeyError",
        "callback": "CallbackExternalError: no",
        "invoke": "InvokeError",
    }


def test_an_uncaught_error_fails_the_execution_with_its_type() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        async def boom(s: StepContext) -> None:
            raise ZeroDivisionError("division by zero")

        await ctx.step(boom, name="div", config=NO_RETRY)

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    # As the sync engine (tests/core/test_replay.py): the StepError AWS's SDK reports.
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.StepError"
    )
    assert driven.by_name("div").status is OperationStatus.FAILED


def test_a_failing_branch_is_in_the_batch_result() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
        async def ok(c: AsyncDurableContext) -> int:
            return 1

        async def bad(c: AsyncDurableContext) -> int:
            raise RuntimeError("branch broke")

        config = ParallelConfig[int](completion_config=CompletionConfig.all_completed())
        result = await ctx.parallel([ok, bad], config=config)
        return {
            "results": result.get_results(),
            "errors": [e.error_type for e in result.errors if e],
        }

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == {"results": [1], "errors": ["RuntimeError"]}


class ThreadRecordingBackend(MemoryBackend):
    """Records the thread of every checkpoint call."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        self.threads.append(threading.current_thread())
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


def test_checkpoint_calls_do_not_run_on_the_event_loop_thread() -> None:
    loop_threads: list[threading.Thread] = []

    async def wf(event: Any, ctx: AsyncDurableContext) -> int:
        loop_threads.append(threading.current_thread())
        first = await ctx.step(lambda s: 1, name="one")
        return first + await ctx.step(lambda s: 2, name="two")

    backend = ThreadRecordingBackend()
    assert drive(run(wf), backend=backend).final["Result"] == "3"
    assert len(backend.threads) == 2  # each step's SUCCEED (STARTs are buffered)
    assert all(thread not in loop_threads for thread in backend.threads)


def test_an_async_handler_called_from_a_running_loop_gets_its_own_loop() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> str:
        return await ctx.step(lambda s: "inside", name="one")

    async def caller() -> dict[str, Any]:
        # A test or notebook calling the (synchronous) Lambda handler from a coroutine.
        return drive(run(wf)).final

    assert asyncio.run(caller())["Result"] == '"inside"'


def test_an_async_step_over_its_timeout_fails_with_step_timeout() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        async def never(s: StepContext) -> None:
            await asyncio.Event().wait()

        config = StepConfig[None](retry=no_retry, timeout_seconds=0.01)
        await ctx.step(never, name="slow", config=config)

    driven = drive(run(wf))
    error = driven.by_name("slow").error
    assert error is not None and error.error_type == "durable_core.errors.StepTimeoutError"
