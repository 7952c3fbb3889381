"""An ``AsyncDurableContext`` operation never awaited fails the invocation (issue 18).

Python only warns about a coroutine never awaited: without a check the execution would
succeed as if the operation had run. Likewise a plain function (a lambda) returning a
coroutine was given the sync context, which no async workflow can use: refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, StepContext
from durable_core.aio import AsyncDurableContext

from .conftest import drive

UNAWAITED = "durable_core.errors.UnawaitedOperationError"


@contextlib.contextmanager
def no_never_awaited_warning() -> Iterator[None]:
    """The coroutines never started are closed: Python has nothing left to warn about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_step_called_without_await_fails_the_invocation_and_never_ran() -> None:
    ran: list[str] = []

    async def wf(event: Any, ctx: AsyncDurableContext) -> str:
        ctx.step(lambda s: ran.append("charge"), name="charge")  # type: ignore[unused-coroutine]
        return await ctx.step(lambda s: "shipped", name="ship")

    with no_never_awaited_warning():
        driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"] == UNAWAITED
    assert "step('charge')" in driven.final["Error"]["ErrorMessage"]
    assert ran == []
    assert [op.name for op in driven.operations() if op.name] == ["ship"]


def test_an_operation_never_awaited_before_a_suspension_fails_too() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        async def child(c: AsyncDurableContext) -> None:
            c.wait(5, name="forgotten")  # type: ignore[unused-coroutine]
            await c.wait(5, name="cool-off")

        await ctx.run_in_child_context(child, name="inner")

    driven = drive(run(wf))
    assert [r["Status"] for r in driven.responses] == ["FAILED"]
    assert "wait('forgotten')" in driven.final["Error"]["ErrorMessage"]


def test_one_forgotten_among_many_awaited_operations_is_still_found() -> None:
    # The runtime drops started coroutines from its list as it goes; not the forgotten one.
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        cb = await ctx.create_callback(name="approval")
        cb.result()  # type: ignore[unused-coroutine]
        for i in range(200):
            await ctx.step(lambda s: None, name=f"s{i}")

    driven = drive(run(wf))
    assert driven.final["Error"]["ErrorType"] == UNAWAITED
    assert "AsyncCallback.result()" in driven.final["Error"]["ErrorMessage"]


def test_operations_awaited_through_tasks_and_gather_pass() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> list[int]:
        first = asyncio.create_task(ctx.step(lambda s: 1, name="one"))
        rest = await asyncio.gather(ctx.step(lambda s: 2, name="two"))
        return [await first, *rest]

    assert drive(run(wf)).final["Result"] == "[1, 2]"


def test_the_handlers_own_failure_wins_over_a_forgotten_operation() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> None:
        ctx.step(lambda s: 1, name="never")  # type: ignore[unused-coroutine]
        raise KeyError("boom")

    with no_never_awaited_warning():
        driven = drive(run(wf))
    assert driven.final["Error"]["ErrorType"] == "KeyError"


@pytest.mark.parametrize("context", ["sync", "async"])
def test_a_plain_function_returning_a_coroutine_is_refused(context: str) -> None:
    ran: list[str] = []

    async def sync_typed(event: Any, ctx: DurableContext) -> int:
        ran.append("body")
        return ctx.step(lambda s: 5, name="five")

    async def async_typed(event: Any, ctx: AsyncDurableContext) -> int:
        ran.append("body")
        return await ctx.step(lambda s: 5, name="five")

    workflow: Any = sync_typed if context == "sync" else async_typed
    with no_never_awaited_warning():
        driven = drive(run(lambda event, ctx: workflow(event, ctx)))
    assert driven.final["Status"] == "FAILED"
    error = driven.final["Error"]
    assert error["ErrorType"] == "durable_core.errors.ValidationError"
    assert "async def handler" in error["ErrorMessage"]
    assert ran == [] and driven.operations()[1:] == []


def test_the_same_shapes_awaited_succeed() -> None:
    # Control: the same shapes, awaited, succeed (the checks above fail only what is wrong).
    async def wf(event: Any, ctx: AsyncDurableContext) -> int:
        async def body(s: StepContext) -> int:
            return s.attempt

        cb = await ctx.create_callback(name="cb")
        assert cb.callback_id
        return await ctx.step(body, name="attempt")

    assert drive(run(wf)).final["Result"] == "1"
