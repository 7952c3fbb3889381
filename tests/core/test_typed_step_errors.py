"""Typed step errors: a step that raised ``PaymentError`` raises a ``PaymentError`` again
when the caller lists it in ``StepConfig.error_types``, on the run that recorded the
failure and on every replay; unlisted types stay a ``StepError`` naming them.

The record keeps AWS's shape: ``ErrorType`` is the qualified class name, the message is
``str(exc)``, and the args and attributes are JSON data in ``ErrorData`` that AWS's own
serdes reads. Nothing from the record is imported or called.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from aws_durable_execution_sdk_python.serdes import ExtendedTypeSerDes
from durable_closure import run
from durable_core import (
    DurableContext,
    StepConfig,
    StepContext,
    StepError,
    ValidationError,
    no_retry,
)
from durable_core.aio import AsyncDurableContext

from .conftest import drive

built: list[str] = []


class PaymentError(Exception):
    """A user's exception whose constructor does more than store a message."""

    def __init__(self, order_id: int, amount: Decimal) -> None:
        built.append("PaymentError.__init__")
        super().__init__(f"payment of {amount} for order {order_id} declined")
        self.order_id = order_id
        self.amount = amount


class CardExpired(PaymentError):
    pass


def _declined(step: StepContext) -> None:
    raise PaymentError(7, Decimal("12.50"))


def _expired(step: StepContext) -> None:
    raise CardExpired(8, Decimal("3.10"))


def _key_error(step: StepContext) -> None:
    raise KeyError("sku")


TYPED = StepConfig[None](retry=no_retry, error_types=(PaymentError,))


def _seen(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "order_id": getattr(exc, "order_id", None),
        "amount": str(getattr(exc, "amount", None)),
        "cause": type(exc.__cause__).__name__,
    }


def _sync_workflow(event: Any, ctx: DurableContext) -> list[dict[str, Any]]:
    seen = []
    for body in (_declined, _expired):
        try:
            ctx.step(body, name=body.__name__, config=TYPED)
        except PaymentError as exc:
            seen.append(_seen(exc))
    ctx.wait(1)  # the next invocation replays both failures from the record
    return seen


async def _async_workflow(event: Any, ctx: AsyncDurableContext) -> list[dict[str, Any]]:
    seen = []
    for body in (_declined, _expired):
        try:
            await ctx.step(body, name=body.__name__, config=TYPED)
        except PaymentError as exc:
            seen.append(_seen(exc))
    await ctx.wait(1)
    return seen


EXPECTED = [
    {
        "type": "PaymentError",
        "message": "payment of 12.50 for order 7 declined",
        "order_id": 7,
        "amount": "12.50",
        "cause": "StepError",
    },
    {
        "type": "CardExpired",
        "message": "payment of 3.10 for order 8 declined",
        "order_id": 8,
        "amount": "3.10",
        "cause": "StepError",
    },
]


@pytest.mark.parametrize("workflow", [_sync_workflow, _async_workflow], ids=["sync", "async"])
def test_listed_exception_types_come_back_as_themselves_on_first_run_and_replay(
    workflow: Any,
) -> None:
    built.clear()
    driven = drive(run(workflow))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    # The replay's (second) invocation saw exactly what the first saw.
    assert json.loads(driven.final["Result"]) == EXPECTED
    # Rebuilt from data: only the two bodies ran a constructor; replay called none.
    assert built == ["PaymentError.__init__", "PaymentError.__init__"]


def test_the_record_keeps_aws_shape_and_aws_serdes_reads_its_data() -> None:
    driven = drive(run(_sync_workflow))
    error = driven.by_name("_declined").step_details
    assert error is not None and error.error is not None
    recorded = error.error
    assert recorded.error_type == f"{__name__}.PaymentError"
    assert recorded.error_message == "payment of 12.50 for order 7 declined"
    assert recorded.error_data is not None
    assert ExtendedTypeSerDes().deserialize(recorded.error_data) == {
        "args": ["payment of 12.50 for order 7 declined"],
        "attributes": {"order_id": 7, "amount": Decimal("12.50")},
    }


def test_unlisted_types_stay_a_step_error_that_names_them() -> None:
    def wf(event: Any, ctx: DurableContext) -> dict[str, Any]:
        try:
            ctx.step(_key_error, name="lookup", config=TYPED)
        except StepError as exc:
            return {"type": type(exc).__name__, "error_type": exc.error_type}
        return {}

    assert json.loads(drive(run(wf)).final["Result"]) == {
        "type": "StepError",
        "error_type": "KeyError",
    }


def test_without_error_types_a_step_error_is_raised_and_no_data_is_recorded() -> None:
    def wf(event: Any, ctx: DurableContext) -> str:
        try:
            ctx.step(_declined, name="pay", config=StepConfig(retry=no_retry))
        except StepError as exc:
            return exc.error_type or ""
        return ""

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == f"{__name__}.PaymentError"
    details = driven.by_name("pay").step_details
    assert details is not None and details.error is not None
    assert details.error.error_data is None  # as AWS's SDK records a user's exception


def test_a_typed_error_escaping_the_handler_fails_the_execution_with_its_type() -> None:
    def wf(event: Any, ctx: DurableContext) -> None:
        ctx.step(_declined, name="pay", config=TYPED)

    final = drive(run(wf)).final
    assert final["Status"] == "FAILED"
    assert final["Error"]["ErrorType"] == f"{__name__}.PaymentError"
    assert final["Error"]["ErrorMessage"] == "payment of 12.50 for order 7 declined"


def test_error_types_must_be_exception_classes() -> None:
    with pytest.raises(ValidationError, match="error_types"):
        StepConfig(error_types=("PaymentError",))  # type: ignore[arg-type]
