"""No lock of the service is held while a handler runs.

A handler may answer a callback, describe an execution or start one from another
thread (as it does through the HTTP server) during its own invocation. Each thread is
joined with a short timeout, so a regression fails fast instead of hanging.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from durable_closure import run
from durable_core import DurableContext, StepContext
from durable_core.types import OperationAction, OperationType, OperationUpdate, WaitOptions
from durable_testing import (
    ExecutionStatus,
    LocalService,
    MemoryStore,
    StoredExecution,
    VirtualClock,
)


def on_another_thread(call: Any) -> Any:
    """Run ``call`` on a new thread and return its result, or fail if it is still blocked."""
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("value", call()), daemon=True)
    thread.start()
    thread.join(timeout=3)
    assert not thread.is_alive(), "the call waited for the invocation that made it"
    return outcome.get("value")


def test_a_handler_answers_its_own_callback_from_another_thread() -> None:
    service = LocalService()

    def workflow(event: Any, ctx: DurableContext) -> dict[str, Any]:
        def submit(callback_id: str, _: StepContext) -> None:
            on_another_thread(lambda: service.send_callback_success(callback_id, payload="yes"))

        decision = ctx.wait_for_callback(submit, name="approval")
        arn = ctx.step(lambda _: on_another_thread(lambda: service.start("echo", 7)), name="start")
        status = ctx.step(
            lambda _: on_another_thread(lambda: service.describe(arn).status.value),
            name="describe",
        )
        return {"decision": decision, "status": status, "arn": arn}

    service.register("approve", run(workflow))
    service.register("echo", run(lambda event, ctx: event))
    result = service.run("approve", timeout=10)

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.result["decision"] == "yes"
    assert result.result["status"] == "RUNNING"
    assert "CallbackSucceeded" in result.event_types
    assert service.run_until_complete(result.result["arn"]).result == 7


def test_a_second_driver_does_not_invoke_an_execution_being_invoked() -> None:
    service = LocalService()
    started = threading.Event()
    release = threading.Event()
    invocations: list[int] = []

    def workflow(event: Any, ctx: DurableContext) -> str:
        def slow(_: StepContext) -> str:
            invocations.append(1)
            started.set()
            assert release.wait(timeout=3), "the test never released the step"
            return "done"

        return str(ctx.step(slow, name="slow"))

    service.register("slow", run(workflow))
    arn = service.start("slow")
    first = threading.Thread(target=lambda: service.run_until_complete(arn, timeout=10))
    first.start()
    assert started.wait(timeout=3)
    second: dict[str, Any] = {}
    other = threading.Thread(
        target=lambda: second.setdefault("result", service.run_until_complete(arn, timeout=10))
    )
    other.start()
    release.set()
    first.join(timeout=5)
    other.join(timeout=5)

    assert not first.is_alive() and not other.is_alive()
    assert second["result"].status is ExecutionStatus.SUCCEEDED
    assert second["result"].result == "done"
    assert len(invocations) == 1
    assert second["result"].event_types.count("InvocationCompleted") == 1


class GatedClock(VirtualClock):
    """Holds the first ``now()`` of one thread until ``opened`` is set: a driver that found
    an execution due is paused right before it steps it."""

    def __init__(self) -> None:
        super().__init__()
        self.gated_thread: int | None = None
        self.at_gate = threading.Event()
        self.opened = threading.Event()

    def now(self) -> dt.datetime:
        if threading.get_ident() == self.gated_thread:
            self.gated_thread = None
            self.at_gate.set()
            assert self.opened.wait(timeout=3), "the gate was never opened"
        return super().now()


def test_a_driver_that_found_an_execution_due_leaves_it_to_the_one_invoking_it() -> None:
    """Two drivers both find an execution due; the first to step it invokes it. The other
    steps it while that invocation runs (and has made a timer due): it must not start a
    second invocation of the same execution at once (the re-entrancy guard)."""
    clock = GatedClock()
    service = LocalService(clock=clock)
    running = [0]
    peak = [0]
    count = threading.Lock()
    release = threading.Event()

    def handler(event: Any, lambda_context: Any) -> dict[str, Any]:
        with count:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            if any(op["Type"] == "WAIT" for op in event["InitialExecutionState"]["Operations"]):
                return {"Status": "SUCCEEDED", "Result": "1"}
            wait = OperationUpdate(
                id="w",
                type=OperationType.WAIT,
                action=OperationAction.START,
                wait_options=WaitOptions(wait_seconds=1),
            )
            service.backend.checkpoint(
                event["DurableExecutionArn"], event["CheckpointToken"], [wait]
            )
            clock.sleep_until(clock.now() + dt.timedelta(seconds=2))  # the wait is due
            clock.opened.set()
            release.wait(timeout=3)
            return {"Status": "PENDING"}
        finally:
            with count:
                running[0] -= 1

    service.register("once", handler)
    arn = service.start("once")
    outcomes: dict[str, Any] = {}

    def drive(name: str) -> None:
        if name == "late":
            clock.gated_thread = threading.get_ident()
        outcomes[name] = service.run_until_complete(arn, timeout=10)

    late = threading.Thread(target=drive, args=("late",), daemon=True)
    late.start()
    assert clock.at_gate.wait(timeout=3), "the late driver never found the execution due"
    first = threading.Thread(target=drive, args=("first",), daemon=True)
    first.start()
    assert clock.opened.wait(timeout=3)
    release.set()
    first.join(timeout=5)
    late.join(timeout=5)

    assert not first.is_alive() and not late.is_alive()
    assert peak == [1], "two invocations of one execution ran at once"
    assert outcomes["late"].status is ExecutionStatus.SUCCEEDED
    assert outcomes["late"].invocations == 2


class StuckStore(MemoryStore):
    """A store whose saves of one execution hang until released, as a slow disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck_arn: str | None = None
        self.stuck = threading.Event()
        self.release = threading.Event()

    def save(self, execution: StoredExecution) -> None:
        if execution.arn == self.stuck_arn:
            self.stuck.set()
            self.release.wait(timeout=5)
        super().save(execution)


def test_an_execution_runs_while_another_ones_bookkeeping_is_stuck() -> None:
    """Each execution has its own lock: one stuck mid-save holds up no other."""
    store = StuckStore()
    service = LocalService(store=store)
    service.register("echo", run(lambda event, ctx: ctx.step(lambda _: event, name="echo")))
    stuck = service.start("echo", "stuck")
    store.stuck_arn = stuck
    stopping = threading.Thread(target=lambda: service.stop(stuck), daemon=True)
    stopping.start()
    assert store.stuck.wait(timeout=3)
    try:
        other = on_another_thread(lambda: service.run("echo", "free"))
    finally:
        store.release.set()
        stopping.join(timeout=5)

    assert other.status is ExecutionStatus.SUCCEEDED
    assert other.result == "free"
    assert service.describe(stuck).status is ExecutionStatus.STOPPED
