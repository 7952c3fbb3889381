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
from durable_core import (
    CallbackConfig,
    DurableContext,
    Jitter,
    RetryPolicy,
    StepConfig,
    StepContext,
    WaitForCallbackConfig,
)
from durable_testing import VirtualClock
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


def timed_approval(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """A day to answer, a heartbeat every hour: the deadlines a test must not trip over."""
    config = CallbackConfig[str](timeout_seconds=24 * 3600, heartbeat_timeout_seconds=3600)
    callback = ctx.create_callback(name="approval", config=config)
    return {"answer": json.loads(callback.result())}


def waited_approval(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    answer = ctx.wait_for_callback(
        lambda callback_id, step: None,
        name="approval",
        config=WaitForCallbackConfig(timeout_seconds=600),
    )
    return {"answer": json.loads(answer)}


@pytest.mark.parametrize("flow", [timed_approval, waited_approval])
def test_a_callback_with_a_timeout_waits_for_the_test_to_answer(flow: Any) -> None:
    runner = DurableTestRunner(run(flow))
    assert runner.start().status == "RUNNING"
    callback_id = runner.wait_for_callback("approval")
    assert runner.wait().status == "RUNNING", "time stops short of the deadline"
    runner.send_callback_success(callback_id, {"ok": True})
    done = runner.wait()
    assert done.status == "SUCCEEDED"
    assert done.result == {"answer": {"ok": True}}


def test_heartbeats_keep_a_callback_alive_and_time_out_only_when_asked() -> None:
    runner = DurableTestRunner(run(timed_approval))
    runner.start()
    callback_id = runner.wait_for_callback("approval")
    clock = runner.service.clock
    assert isinstance(clock, VirtualClock)
    for _ in range(3):  # 3 x 50 minutes: past the hour only thanks to the heartbeats
        clock.advance(50 * 60)
        runner.send_callback_heartbeat(callback_id)
        assert runner.wait().status == "RUNNING"
    timed_out = runner.wait(time_out_callbacks=True)
    assert timed_out.status == "FAILED"
    approval_op = timed_out.operation("approval")
    assert approval_op.status == "TIMED_OUT"
    # AWS's SDK names a missed heartbeat Callback.Heartbeat (CallbackTimeoutType).
    assert approval_op.error is not None and approval_op.error.error_type == "Callback.Heartbeat"


def test_wait_for_says_where_the_operation_is_instead() -> None:
    runner = DurableTestRunner(run(timed_approval))
    runner.start()
    with pytest.raises(AssertionError, match="'approval' is STARTED, not SUCCEEDED"):
        runner.wait_for("approval", "SUCCEEDED")
    with pytest.raises(AssertionError, match="no operation named 'missing'"):
        runner.wait_for("missing")
