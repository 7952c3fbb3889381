"""Closure style: an order is priced, charged (retried on processor errors), cooled off
for a day, then shipped in a child context. Deploy with ``handler`` as the entry point.

    durable run examples/closure_order.py:handler \
        --input '{"order_id": "o-1", "items": [1250, 800]}'
"""

from __future__ import annotations

from typing import Any

from durable_closure import run
from durable_core import DurableContext, RetryPolicy, StepConfig, StepContext

CHARGE_RETRIES = StepConfig[str](retry=RetryPolicy(max_attempts=5, initial_delay_seconds=2))


def charge_card(order_id: str, cents: int) -> str:
    """Stands in for a payment API call: idempotent per order, so retries are safe."""
    return f"ch_{order_id}_{cents}"


def ship(ctx: DurableContext, order_id: str) -> str:
    parcel = ctx.step(lambda _: f"parcel-{order_id}", name="pack")
    return ctx.step(lambda _: f"1Z-{parcel}", name="label")


def process_order(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    order_id = str(event["order_id"])
    cents = ctx.step(lambda _: sum(int(c) for c in event["items"]), name="price")

    def charge(step: StepContext) -> str:
        step.logger.info("charging %d cents for %s", cents, order_id)
        return charge_card(order_id, cents)

    charge_id = ctx.step(charge, name="charge", config=CHARGE_RETRIES)
    ctx.wait(24 * 60 * 60, name="cooling-off")
    tracking = ctx.run_in_child_context(lambda child: ship(child, order_id), name="ship")
    return {"order_id": order_id, "cents": cents, "charge": charge_id, "tracking": tracking}


handler = run(process_order)
