"""Typed step errors across SDKs: AWS's SDK replays the failure our SDK recorded for a
listed exception type (its ``ErrorData`` is a string AWS carries, never interprets), and
ours rebuilds the listed type from a failure AWS's SDK recorded (no data: the message).
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.exceptions import StepError as AwsStepError
from aws_durable_execution_sdk_python.execution import durable_execution
from durable_core import StepConfig, no_retry

from tests.compat.conftest import aws_invoker, our_invoker, start
from tests.compat.workflows import AWS


class PaymentError(Exception):
    def __init__(self, order_id: int, amount: Decimal) -> None:
        super().__init__(f"payment of {amount} for order {order_id} declined")
        self.order_id = order_id
        self.amount = amount


def _bodies(calls: Counter[str]) -> Any:
    def pay(_: Any) -> None:
        calls["pay"] += 1
        raise PaymentError(7, Decimal("12.50"))

    return pay


def _ours(calls: Counter[str]) -> Any:
    pay = _bodies(calls)

    def workflow(event: Any, ctx: Any) -> dict[str, Any]:
        try:
            ctx.step(
                pay, name="pay", config=StepConfig(retry=no_retry, error_types=(PaymentError,))
            )
        except PaymentError as exc:
            seen = {"type": type(exc).__name__, "message": str(exc), **vars(exc)}
        ctx.wait(5, name="cool-off")
        return {k: str(v) for k, v in seen.items()}

    return workflow


def _aws(calls: Counter[str]) -> Any:
    pay = _bodies(calls)

    @durable_execution
    def workflow(event: Any, ctx: Any) -> dict[str, Any]:
        try:
            ctx.step(pay, name="pay", config=AWS.no_retry)
        except AwsStepError as exc:
            seen = {"type": exc.error_type, "message": exc.message, "data": exc.data}
        ctx.wait(Duration.from_seconds(5), name="cool-off")
        return {k: str(v) for k, v in seen.items()}

    return workflow


def test_aws_sdk_replays_the_failure_our_sdk_recorded_for_a_listed_type() -> None:
    ours_calls, aws_calls = Counter[str](), Counter[str]()
    run = start({})
    assert run.invoke(our_invoker(_ours(ours_calls)))["Status"] == "PENDING"
    final = run.until_done(aws_invoker(_aws(aws_calls)))
    assert final["Status"] == "SUCCEEDED", final
    seen = json.loads(final["Result"])
    assert seen["type"] == f"{__name__}.PaymentError"
    assert seen["message"] == "payment of 12.50 for order 7 declined"
    details = run.by_name("pay").step_details
    assert details is not None and details.error is not None
    assert details.error.error_data is not None
    assert seen["data"] == details.error.error_data
    assert aws_calls["pay"] == 0  # replayed, not run again


def test_our_sdk_rebuilds_a_listed_type_from_the_failure_aws_sdk_recorded() -> None:
    ours_calls, aws_calls = Counter[str](), Counter[str]()
    run = start({})
    assert run.invoke(aws_invoker(_aws(aws_calls)))["Status"] == "PENDING"
    final = run.until_done(our_invoker(_ours(ours_calls)))
    assert final["Status"] == "SUCCEEDED", final
    # AWS's record has the message only: the type and message come back, no attributes.
    assert json.loads(final["Result"]) == {
        "type": "PaymentError",
        "message": "payment of 12.50 for order 7 declined",
    }
    assert ours_calls["pay"] == 0
