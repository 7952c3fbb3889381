"""``await ctx.step(fn)`` has ``fn``'s result type, sync or ``async def`` (checked by mypy).

At run time ``assert_type`` returns its argument; the values are checked too, and a
step declared to return a dataclass gets an instance back, on replay as well (the
typed-results rule of the sync ``DurableContext``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, assert_type

from durable_closure import run
from durable_core import StepContext
from durable_core.aio import AsyncDurableContext

from .conftest import drive


@dataclass
class Order:
    id: int


async def fetch_order(step: StepContext) -> Order:
    return Order(7)


def order_total(step: StepContext) -> float:
    return 42.5


async def workflow(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    order = assert_type(await ctx.step(fetch_order), Order)
    total = assert_type(await ctx.step(order_total), float)
    label = assert_type(await ctx.step(lambda s: f"label-{order.id}"), str)

    async def child(c: AsyncDurableContext) -> int:
        return 3

    count = assert_type(await ctx.run_in_child_context(child), int)
    await ctx.wait(1)  # the second invocation replays everything above
    return {
        "order_is_an_order": isinstance(order, Order),
        "id": order.id,
        "total": total,
        "label": label,
        "count": count,
    }


def test_step_results_have_the_body_types_on_first_run_and_replay() -> None:
    driven = drive(run(workflow))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == {
        "order_is_an_order": True,
        "id": 7,
        "total": 42.5,
        "label": "label-7",
        "count": 3,
    }
