"""Each API style types its handler by the context the engine passes (issue 18).

A sync handler gets ``DurableContext``, an ``async def`` one ``AsyncDurableContext``.
An ``async def`` handler that declares ``DurableContext`` type-checked before, and at run
time its un-awaited ``ctx.step(...)`` never ran while the execution succeeded. Here each
style accepts the right pairs and rejects the wrong ones: every ``# type: ignore[...]``
below marks an error mypy must report (``--strict`` warns about an unused ignore, so the
gate fails if a wrong pair type-checks again). At run time the wrong pairs fail the
invocation with ``UnawaitedOperationError`` instead of succeeding.
"""

from __future__ import annotations

from typing import Any

import pytest
from durable_builder import DurableBuilder
from durable_class import AsyncDurableHandler, DurableHandler
from durable_closure import run
from durable_core import DurableContext, ExecutionOptions, LambdaHandler, StepContext
from durable_core.aio import AsyncDurableContext
from durable_decorator import durable_execution

from tests.core.conftest import drive


def load(step: StepContext) -> dict[str, Any]:
    return {"id": 7}


def sync_handler(event: Any, ctx: DurableContext) -> dict[str, Any]:
    return ctx.step(load)


async def async_handler(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    return await ctx.step(load)


async def async_handler_with_sync_context(event: Any, ctx: DurableContext) -> dict[str, Any]:
    return ctx.step(load)  # at run time a coroutine never awaited: the step never runs


def sync_handler_with_async_context(event: Any, ctx: AsyncDurableContext) -> int:
    return 1


run(sync_handler)
run(async_handler)
run(lambda event, ctx: ctx.step(load))
run(async_handler_with_sync_context)  # type: ignore[arg-type]
run(sync_handler_with_async_context)  # type: ignore[arg-type]

durable_execution(sync_handler)
durable_execution(async_handler)
durable_execution(options=ExecutionOptions())(async_handler)
durable_execution(async_handler_with_sync_context)  # type: ignore[arg-type]
durable_execution(options=ExecutionOptions())(async_handler_with_sync_context)  # type: ignore[arg-type]


@durable_execution  # type: ignore[arg-type]
async def decorated_with_sync_context(event: Any, ctx: DurableContext) -> dict[str, Any]:
    return ctx.step(load)


DurableBuilder(sync_handler).build()
DurableBuilder(async_handler).with_tracing().build()
DurableBuilder().handler(async_handler).build()
DurableBuilder(async_handler_with_sync_context)  # type: ignore[arg-type]
DurableBuilder().handler(async_handler_with_sync_context)  # type: ignore[arg-type]


class SyncFlow(DurableHandler):
    def handle(self, event: Any, ctx: DurableContext) -> dict[str, Any]:
        return ctx.step(load)


class AsyncFlow(AsyncDurableHandler):
    async def handle(self, event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
        return await ctx.step(load)


class AsyncFlowWithSyncContext(DurableHandler):
    async def handle(self, event: Any, ctx: DurableContext) -> dict[str, Any]:  # type: ignore[override]
        return ctx.step(load)


class AsyncFlowDeclaringSyncContext(AsyncDurableHandler):
    async def handle(self, event: Any, ctx: DurableContext) -> dict[str, Any]:  # type: ignore[override]
        return ctx.step(load)


class SyncFlowWithAsyncContext(AsyncDurableHandler):
    def handle(self, event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:  # type: ignore[override]
        return {}


WRONG_PAIRS: dict[str, LambdaHandler] = {
    "closure": run(async_handler_with_sync_context),  # type: ignore[arg-type]
    "decorator": decorated_with_sync_context,
    "class": AsyncFlowWithSyncContext(),
    "builder": DurableBuilder(async_handler_with_sync_context).build(),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("style", sorted(WRONG_PAIRS))
def test_a_wrong_pair_fails_at_run_time_where_it_once_succeeded(style: str) -> None:
    final = drive(WRONG_PAIRS[style]).final
    assert final["Status"] == "FAILED"
    assert final["Error"]["ErrorType"] == "durable_core.errors.UnawaitedOperationError"


@pytest.mark.parametrize(
    "handler", [run(async_handler), AsyncFlow(), run(sync_handler), SyncFlow()], ids=repr
)
def test_the_right_pairs_succeed(handler: LambdaHandler) -> None:
    assert drive(handler).final["Result"] == '{"id": 7}'
