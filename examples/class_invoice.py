"""Class style: monthly invoicing for one customer. Usage is summed per service in a
child context, the invoice is issued, and reminders go out weekly until it is paid.

    durable run examples/class_invoice.py:handler \
        --input '{"customer": "c-9", "usage": {"api": 1200, "storage": 300}}'
"""

from __future__ import annotations

from functools import partial
from typing import Any

from durable_class import DurableHandler
from durable_core import DurableContext, RetryPolicy, StepConfig, StepContext

LEDGER_RETRIES = StepConfig[bool](retry=RetryPolicy(max_attempts=3, initial_delay_seconds=5))
PRICES_PER_UNIT_CENTS = {"api": 2, "storage": 10}


class Invoice(DurableHandler):
    """One execution per customer and month; ``paid_after_reminders`` simulates the payer."""

    paid_after_reminders = 2

    def handle(self, event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        customer = str(event["customer"])
        usage: dict[str, int] = event["usage"]
        total = ctx.run_in_child_context(lambda c: self.rate(c, usage), name="rate")
        number = ctx.step(lambda _: f"INV-{customer}-{total}", name="issue")
        reminders = 0
        while not ctx.step(
            partial(self.is_paid, reminders), name="check-paid", config=LEDGER_RETRIES
        ):
            ctx.wait(7 * 24 * 60 * 60, name="a-week")
            reminders += 1
        return {"invoice": number, "total_cents": total, "reminders": reminders}

    def rate(self, ctx: DurableContext, usage: dict[str, int]) -> int:
        lines = [
            ctx.step(partial(line_cents, service, usage[service]), name=f"rate-{service}")
            for service in sorted(usage)
        ]
        return sum(lines)

    def is_paid(self, reminders_sent: int, _: StepContext) -> bool:
        """Stands in for a ledger lookup; a step body, bound to its input with ``partial``."""
        return reminders_sent >= self.paid_after_reminders


def line_cents(service: str, units: int, _: StepContext) -> int:
    """A step body that takes its input as arguments: bound with ``functools.partial`` in a
    loop, it keeps the loop's current values and its type is known to mypy."""
    return units * PRICES_PER_UNIT_CENTS[service]


handler = Invoice()
