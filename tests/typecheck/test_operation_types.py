"""Every operation's result type, sync and ``async def`` (issue 18): checked by mypy.

``make typecheck`` runs ``mypy --strict`` over this file: each ``assert_type`` fails
the gate if the inferred type differs, ``Any`` included, so a result type that leaks
``Any`` (as ``await ctx.step(fn)`` did for ``fn`` returning ``dict[str, Any]``) is
caught. The bodies' results contain ``Any`` on purpose: that is where overloads go
wrong. Serdes are spelled as ``SerDes[Order]`` here (``TypedSerDes``'s own type
parameter is another issue's). At run time the sync and async workflows run on the
memory backend and return the same values (the test at the bottom).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, assert_type

from durable_closure import run
from durable_core import (
    BatchResult,
    CallbackConfig,
    DurableContext,
    InvokeConfig,
    StepConfig,
    StepContext,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    condition,
    fixed_wait,
)
from durable_core.aio import AsyncCallback, AsyncDurableContext
from durable_core.combinators import Winner
from durable_core.operations.callback import Callback
from durable_core.operations.saga import CompensationResult

from tests.core.conftest import drive


@dataclass
class Order:
    id: int


class OrderSerDes:
    """A ``SerDes[Order]`` (structurally): what types the callback and invoke results."""

    def serialize(self, value: Order) -> str:
        return json.dumps(asdict(value))

    def deserialize(self, data: str) -> Order:
        return Order(**json.loads(data))


def load(step: StepContext) -> dict[str, Any]:
    return {"id": 7}


def names(step: StepContext) -> list[Any]:
    return ["a", "b"]


async def load_async(step: StepContext) -> dict[str, Any]:
    return {"id": 7}


async def names_async(step: StepContext) -> list[Any]:
    return ["a", "b"]


def undo(result: dict[str, Any], step: StepContext) -> None:
    return None


async def fetch_order(step: StepContext) -> dict:  # type: ignore[type-arg]
    """The README's spelling (``-> dict``, which --strict asks to parametrise)."""
    return {"id": 7}


async def undo_async(result: dict[str, Any], step: StepContext) -> None:
    return None


def poll(state: int, step: StepContext) -> int:
    return state + 1


async def poll_async(state: int, step: StepContext) -> int:
    return state + 1


POLL = WaitForConditionConfig(
    wait_strategy=condition(lambda s: s < 1, fixed_wait(1)), initial_state=0
)


def in_child_sync(c: DurableContext) -> dict[str, Any]:
    return c.step(load)


def sync_workflow(event: Any, ctx: DurableContext) -> dict[str, Any]:
    order = assert_type(ctx.step(load), dict[str, Any])
    listed = assert_type(ctx.step(names), list[Any])
    lambda_result = assert_type(ctx.step(lambda s: load(s)), dict[str, Any])
    saga = assert_type(ctx.step_with_compensation(load, undo), dict[str, Any])
    child = assert_type(ctx.run_in_child_context(lambda c: c.step(load)), dict[str, Any])
    polled = assert_type(ctx.wait_for_condition(poll, POLL), int)
    assert_type(ctx.wait(1), None)
    assert_type(ctx.patched("v2"), bool)
    # (A lambda inside the list literal would be Any: mypy infers no lambda in a list.)
    assert_type(ctx.parallel([in_child_sync]), BatchResult[dict[str, Any]])
    mapped = ctx.map([1, 2], lambda c, item, i, items: c.step(load))
    assert_type(mapped, BatchResult[dict[str, Any]])
    assert_type(ctx.race(lambda c: c.step(load)), Winner[dict[str, Any]])
    assert_type(ctx.any(lambda c: c.step(load)), Winner[dict[str, Any]])
    assert_type(ctx.all_settled(lambda c: c.step(load)), BatchResult[dict[str, Any]])
    assert_type(ctx.run_compensations(), CompensationResult)
    return {
        "order": order,
        "listed": listed,
        "lambda": lambda_result,
        "saga": saga,
        "child": child,
        "polled": polled,
    }


def sync_callbacks(event: Any, ctx: DurableContext) -> None:
    """Operations answered from outside: typed by their serdes (not run below)."""
    config = CallbackConfig[Order](serdes=OrderSerDes())
    callback = assert_type(ctx.create_callback("approval", config), Callback[Order])
    assert_type(callback.result(), Order)
    waited = WaitForCallbackConfig[Order](serdes=OrderSerDes())
    assert_type(ctx.wait_for_callback(lambda cid, s: None, config=waited), Order)
    invoked = InvokeConfig[Any, Order](result_serdes=OrderSerDes())
    assert_type(ctx.invoke("billing", {"id": 7}, config=invoked), Order)


async def async_workflow(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    order = assert_type(await ctx.step(load_async), dict[str, Any])
    listed = assert_type(await ctx.step(names_async), list[Any])
    assert_type(await ctx.step(load), dict[str, Any])
    assert_type(await ctx.step(names), list[Any])
    assert_type(await ctx.step(fetch_order), dict[Any, Any])  # the README's "inferred: dict"
    lambda_result = assert_type(await ctx.step(lambda s: load_async(s)), dict[str, Any])
    assert_type(await ctx.step(lambda s: load(s)), dict[str, Any])
    saga = assert_type(await ctx.step_with_compensation(load_async, undo_async), dict[str, Any])
    assert_type(await ctx.step_with_compensation(load, undo), dict[str, Any])
    assert_type(await ctx.step_with_compensation(lambda s: load_async(s), undo), dict[str, Any])

    async def in_child(c: AsyncDurableContext) -> dict[str, Any]:
        return await c.step(load_async)

    child = assert_type(await ctx.run_in_child_context(in_child), dict[str, Any])
    polled = assert_type(await ctx.wait_for_condition(poll_async, POLL), int)
    assert_type(await ctx.wait_for_condition(poll, POLL), int)
    assert_type(await ctx.wait(1), None)
    assert_type(await ctx.patched("v2"), bool)
    assert_type(await ctx.parallel([in_child]), BatchResult[dict[str, Any]])

    async def per_item(c: AsyncDurableContext, item: int, i: int, items: Sequence[int]) -> str:
        return await c.step(lambda s: f"item-{item}")

    assert_type(await ctx.map([1, 2], per_item), BatchResult[str])
    assert_type(await ctx.race(in_child), Winner[dict[str, Any]])
    assert_type(await ctx.any(in_child), Winner[dict[str, Any]])
    assert_type(await ctx.all_settled(in_child), BatchResult[dict[str, Any]])
    assert_type(await ctx.run_compensations(), CompensationResult)
    return {
        "order": order,
        "listed": listed,
        "lambda": lambda_result,
        "saga": saga,
        "child": child,
        "polled": polled,
    }


async def async_callbacks(event: Any, ctx: AsyncDurableContext) -> None:
    """As ``sync_callbacks``, awaited (not run below)."""
    config = CallbackConfig[Order](serdes=OrderSerDes())
    callback = assert_type(await ctx.create_callback("approval", config), AsyncCallback[Order])
    assert_type(await callback.result(), Order)
    waited = WaitForCallbackConfig[Order](serdes=OrderSerDes())
    assert_type(await ctx.wait_for_callback(lambda cid, s: None, config=waited), Order)
    invoked = InvokeConfig[Any, Order](result_serdes=OrderSerDes())
    assert_type(await ctx.invoke("billing", {"id": 7}, config=invoked), Order)


def sync_serdes_disagreeing(event: Any, ctx: DurableContext) -> None:
    """A serdes whose type is not the body's is a type error, not a run-time surprise."""
    ctx.step(load, config=StepConfig(serdes=OrderSerDes()))  # type: ignore[arg-type]


async def async_serdes_disagreeing(event: Any, ctx: AsyncDurableContext) -> None:
    await ctx.step(load_async, config=StepConfig(serdes=OrderSerDes()))  # type: ignore[arg-type]
    await ctx.step(load, config=StepConfig(serdes=OrderSerDes()))  # type: ignore[arg-type]
    await ctx.step_with_compensation(
        load_async,  # type: ignore[arg-type]
        lambda result, s: None,
        config=StepConfig(serdes=OrderSerDes()),
    )


def test_the_typed_workflows_run_and_agree() -> None:
    sync = drive(run(sync_workflow)).final
    assert sync["Status"] == "SUCCEEDED"
    assert json.loads(sync["Result"]) == {
        "order": {"id": 7},
        "listed": ["a", "b"],
        "lambda": {"id": 7},
        "saga": {"id": 7},
        "child": {"id": 7},
        "polled": 1,
    }
    assert drive(run(async_workflow)).final["Result"] == sync["Result"]
