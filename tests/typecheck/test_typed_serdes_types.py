"""What mypy infers for results read by ``TypedSerDes``, sync and async (issues 14, 18):
``make typecheck`` runs mypy --strict over this file.

``TypedSerDes(Order)`` is a ``TypedSerDes[Order]``: ``assert_type`` fails the gate when an
inferred type drifts (``Any``, ``Never``); each ``type: ignore[...]`` marks a mismatch mypy
must reject (with ``warn_unused_ignores`` an ignore no longer needed is itself an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

from durable_core import (
    CallbackConfig,
    ChildConfig,
    DurableContext,
    InvokeConfig,
    StepConfig,
    StepContext,
    TypedSerDes,
    WaitForCallbackConfig,
)
from durable_core.aio import AsyncDurableContext


@dataclass
class Order:
    id: int


def fetch(step: StepContext) -> Order:
    return Order(1)


def count(step: StepContext) -> int:
    return 1


def child(ctx: DurableContext) -> Order:
    return Order(1)


def submit(callback_id: str, step: StepContext) -> None:
    return None


ORDER = TypedSerDes(Order)
assert_type(ORDER, TypedSerDes[Order])
assert_type(TypedSerDes(list[Order]), TypedSerDes[list[Order]])


def sync_results(ctx: DurableContext) -> None:
    callback = ctx.create_callback(config=CallbackConfig(serdes=ORDER))
    assert_type(callback.result(), Order)
    assert_type(ctx.wait_for_callback(submit, config=WaitForCallbackConfig(serdes=ORDER)), Order)
    assert_type(ctx.invoke("pricing", {"id": 1}, config=InvokeConfig(result_serdes=ORDER)), Order)
    assert_type(ctx.step(fetch, config=StepConfig(serdes=ORDER)), Order)
    assert_type(ctx.run_in_child_context(child, config=ChildConfig(serdes=ORDER)), Order)
    # Without a serdes there is no type to read into: Any, not Never.
    assert_type(ctx.create_callback().result(), Any)
    assert_type(ctx.invoke("pricing", {"id": 1}), Any)


def sync_mismatches(ctx: DurableContext) -> None:
    ctx.step(count, config=StepConfig(serdes=ORDER))  # type: ignore[arg-type]
    ctx.run_in_child_context(lambda c: 1, config=ChildConfig(serdes=ORDER))  # type: ignore[arg-type,return-value]
    wrong: int = ctx.create_callback(config=CallbackConfig(serdes=ORDER)).result()  # type: ignore[assignment]
    also_wrong: str = ctx.invoke("f", 1, config=InvokeConfig(result_serdes=ORDER))  # type: ignore[assignment]
    del wrong, also_wrong


async def async_results(ctx: AsyncDurableContext) -> None:
    callback = await ctx.create_callback(config=CallbackConfig(serdes=ORDER))
    assert_type(await callback.result(), Order)
    answer = await ctx.wait_for_callback(submit, config=WaitForCallbackConfig(serdes=ORDER))
    assert_type(answer, Order)
    result = await ctx.invoke("pricing", {"id": 1}, config=InvokeConfig(result_serdes=ORDER))
    assert_type(result, Order)
    assert_type(await ctx.step(fetch, config=StepConfig(serdes=ORDER)), Order)


async def async_mismatches(ctx: AsyncDurableContext) -> None:
    await ctx.step(count, config=StepConfig(serdes=ORDER))  # type: ignore[arg-type]
    wrong: int = await (await ctx.create_callback(config=CallbackConfig(serdes=ORDER))).result()  # type: ignore[assignment]
    del wrong
