"""Every API style takes an ``async def`` handler as it is, and checkpoints as for sync."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from durable_builder import DurableBuilder
from durable_class import AsyncDurableHandler
from durable_closure import run
from durable_core import DurableContext, MemoryBackend, StepContext
from durable_core.aio import AsyncDurableContext
from durable_decorator import durable_execution

from .conftest import drive


def sync_workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    order = ctx.step(lambda s: {"id": event["order"]}, name="load")
    ctx.wait(3, name="cool-off")
    shipped = ctx.run_in_child_context(
        lambda c: c.step(lambda s: f"label-{order['id']}", name="label"), name="shipping"
    )
    return {"order": order, "shipped": shipped}


async def async_workflow(event: dict[str, Any], ctx: AsyncDurableContext) -> dict[str, Any]:
    async def load(s: StepContext) -> dict[str, Any]:
        return {"id": event["order"]}

    order = await ctx.step(load, name="load")
    await ctx.wait(3, name="cool-off")

    async def ship(c: AsyncDurableContext) -> str:
        return await c.step(lambda s: f"label-{order['id']}", name="label")

    shipped = await ctx.run_in_child_context(ship, name="shipping")
    return {"order": order, "shipped": shipped}


@durable_execution
async def decorated(event: dict[str, Any], ctx: AsyncDurableContext) -> dict[str, Any]:
    return await async_workflow(event, ctx)


class AsyncFlow(AsyncDurableHandler):
    async def handle(self, event: Any, ctx: AsyncDurableContext) -> Any:
        return await async_workflow(event, ctx)


ASYNC_STYLES: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "closure": run(async_workflow),
    "decorator": decorated,
    "class": AsyncFlow(),
    "builder": DurableBuilder(async_workflow).with_tracing().build(),
}


def _stream(handler: Callable[[Any, Any], dict[str, Any]]) -> tuple[list[list[str]], str]:
    backend = MemoryBackend()
    driven = drive(handler, {"order": 7}, backend=backend)
    calls = [[json.dumps(u.to_wire(), sort_keys=True) for u in c.updates] for c in backend.calls]
    return calls, driven.final["Result"]


@pytest.mark.parametrize("style", sorted(ASYNC_STYLES))
def test_an_async_handler_in_each_style_checkpoints_as_the_sync_one(style: str) -> None:
    reference = _stream(run(sync_workflow))
    assert json.loads(reference[1]) == {"order": {"id": 7}, "shipped": "label-7"}
    assert _stream(ASYNC_STYLES[style]) == reference
