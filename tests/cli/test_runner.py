"""``DurableTestRunner`` and the ``durable_runner`` fixture: whole executions with time skipped.

Expected values: arithmetic on the input, the retry policy's attempt count, and the
callback payload the test itself sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, Jitter, RetryPolicy, StepConfig, StepContext
from durable_testing.runner import DurableTestRunner

THREE_TRIES = StepConfig[str](
    retry=RetryPolicy(max_attempts=3, initial_delay_seconds=60, jitter=Jitter.NONE)
)


def charge(step: StepContext) -> str:
    if step.attempt < 3:
        raise ConnectionError(f"processor down (attempt {step.attempt})")
    return "ch_1"


def order(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    total = ctx.step(lambda _: sum(event["items"]), name="total")
    receipt = ctx.step(charge, name="charge", config=THREE_TRIES)
    ctx.wait(7 * 24 * 3600, name="a-week")
    label = ctx.run_in_child_context(
        lambda c: c.step(lambda _: f"box-{total}", name="pack"), name="ship"
    )
    return {"total": total, "receipt": receipt, "label": label}


def approval(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    callback = ctx.create_callback(name="approval")
    answer = json.loads(callback.result())
    return {"approved": answer["ok"], "by": answer["by"]}


def test_run_skips_time_and_shows_operations_by_name() -> None:
    result = DurableTestRunner(run(order)).run({"items": [2, 3, 5]})
    assert result.status == "SUCCEEDED"
    assert result.result == {"total": 10, "receipt": "ch_1", "label": "box-10"}
    charge_op = result.operation("charge")
    assert (charge_op.attempts, charge_op.status, charge_op.result) == (3, "SUCCEEDED", "ch_1")
    ship = result.operation("ship")
    assert [c.name for c in ship.children] == ["pack"]
    assert ship.child("pack").result == "box-10"
    assert result.operation("a-week").status == "SUCCEEDED"
    with pytest.raises(KeyError, match="no operation named 'missing'"):
        result.operation("missing")


def test_a_failed_execution_reports_its_error() -> None:
    def broken(event: Any, ctx: DurableContext) -> None:
        ctx.step(
            lambda _: 1 / 0, name="divide", config=StepConfig(retry=RetryPolicy(max_attempts=1))
        )

    result = DurableTestRunner(run(broken)).run()
    assert result.status == "FAILED"
    assert result.error is not None and "division by zero" in (result.error.error_message or "")
    assert result.operation("divide").status == "FAILED"


def test_callback_flow_with_start_send_and_wait() -> None:
    runner = DurableTestRunner(run(approval))
    waiting = runner.start()
    assert waiting.status == "RUNNING"
    callback_id = waiting.operation("approval").callback_id
    assert callback_id
    runner.send_callback_heartbeat(callback_id)
    runner.send_callback_success(callback_id, {"ok": True, "by": "ana"})
    done = runner.wait()
    assert done.status == "SUCCEEDED"
    assert done.result == {"approved": True, "by": "ana"}


def test_callback_failure_fails_the_execution() -> None:
    runner = DurableTestRunner(run(approval))
    callback_id = runner.start().operation("approval").callback_id
    assert callback_id
    runner.send_callback_failure(callback_id, "Rejected", "over budget")
    done = runner.wait()
    assert done.status == "FAILED"
    assert done.error is not None and done.error.error_message == "over budget"


def test_the_pytest_fixture_builds_runners(
    durable_runner: Callable[[Any], DurableTestRunner],
) -> None:
    result = durable_runner(run(order)).run({"items": [1]})
    assert result.result["total"] == 1
