"""Cancellation and step timeouts in the async context, as in sync (issue 18, points 3-4).

``asyncio.CancelledError`` is a ``BaseException``: raised by a step body or an async
compensation it used to escape the invocation and leave the step STARTED forever. It
is the body's failure, recorded under its own type and retried per the step's policy,
as any exception of a body is. A step's ``timeout_seconds`` bounds a lambda returning a
coroutine too, and a plain body abandoned at its timeout does not hold the invocation
open (the sync driver abandons it in a daemon thread; so does the async one).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from durable_closure import run
from durable_core import RetryPolicy, StepConfig, StepContext, StepError, no_retry
from durable_core.aio import AsyncDurableContext
from durable_core.types import OperationStatus

from .conftest import drive

CANCELLED = "asyncio.exceptions.CancelledError"
TIMED_OUT = "durable_core.errors.StepTimeoutError"


def test_a_cancelled_error_from_a_step_body_is_its_failure_retried_per_policy() -> None:
    attempts: list[int] = []

    async def wf(event: Any, ctx: AsyncDurableContext) -> str:
        async def cancelled(s: StepContext) -> str:
            attempts.append(s.attempt)
            raise asyncio.CancelledError("the client gave up")

        policy = RetryPolicy(max_attempts=2, initial_delay_seconds=1)
        try:
            return await ctx.step(cancelled, name="fetch", config=StepConfig[str](retry=policy))
        except StepError as exc:
            return f"caught {exc.error_type}: {exc.message}"

    driven = drive(run(wf))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == f"caught {CANCELLED}: the client gave up"
    assert attempts == [1, 2]
    step = driven.by_name("fetch")
    assert step.status is OperationStatus.FAILED
    assert step.error is not None and step.error.error_type == CANCELLED


def test_a_cancelled_error_from_an_async_compensation_is_its_failure() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> list[Any]:
        async def refund(result: str, s: StepContext) -> None:
            raise asyncio.CancelledError

        async def charge(s: StepContext) -> str:
            return "charged"

        await ctx.step_with_compensation(charge, refund, name="charge")
        undone = await ctx.run_compensations()
        return [(o.name, o.succeeded, o.error and o.error.error_type) for o in undone.outcomes]

    driven = drive(run(wf))
    assert driven.final["Status"] == "SUCCEEDED"
    # The default policy retries the compensation before it is recorded failed.
    assert json.loads(driven.final["Result"]) == [["compensate-charge", False, CANCELLED]]
    assert driven.by_name("compensate-charge").status is OperationStatus.FAILED


def test_cancelling_the_task_that_awaits_a_step_is_not_the_steps_failure() -> None:
    # The workflow itself cancels an operation it started: that is asyncio's own
    # cancellation, which goes on unwinding the task; nothing is recorded as the outcome.
    async def wf(event: Any, ctx: AsyncDurableContext) -> str:
        started = asyncio.Event()

        async def slow(s: StepContext) -> str:
            started.set()
            await asyncio.Event().wait()
            return "never"

        task = asyncio.create_task(ctx.step(slow, name="slow"))
        await started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "not cancelled"

    driven = drive(run(wf))
    assert driven.final["Result"] == '"cancelled"'
    assert driven.by_name("slow").status is OperationStatus.STARTED


def test_a_step_timeout_bounds_a_lambda_returning_a_coroutine() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        async def slow(s: StepContext) -> str:
            await asyncio.sleep(1)
            return "too late"

        config = StepConfig[str](retry=no_retry, timeout_seconds=0.05)
        await ctx.step(lambda s: slow(s), name="slow", config=config)

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    error = driven.by_name("slow").error
    assert error is not None and error.error_type == TIMED_OUT


def test_a_plain_body_past_its_timeout_does_not_hold_the_invocation_open() -> None:
    release = threading.Event()
    events: list[str] = []

    def stuck(s: StepContext) -> str:
        release.wait(10)  # bounded, so a regression fails the test instead of hanging it
        events.append("body ended")
        return "late"

    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        config = StepConfig[str](retry=no_retry, timeout_seconds=0.05)
        await ctx.step(stuck, name="stuck", config=config)

    try:
        driven = drive(run(wf))
        events.append("invocation ended")
    finally:
        release.set()
    assert events[0] == "invocation ended"
    assert driven.final["Status"] == "FAILED"
    error = driven.by_name("stuck").error
    assert error is not None and error.error_type == TIMED_OUT


def test_a_plain_body_within_its_timeout_returns_its_value_and_errors() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> list[str]:
        config = StepConfig[str](retry=no_retry, timeout_seconds=30)
        value = await ctx.step(lambda s: "in time", name="ok", config=config)

        def fails(s: StepContext) -> str:
            raise KeyError("missing")

        try:
            await ctx.step(fails, name="fails", config=config)
        except StepError as exc:
            return [value, str(exc.error_type)]
        return [value]

    assert json.loads(drive(run(wf)).final["Result"]) == ["in time", "KeyError"]
