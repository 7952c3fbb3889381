"""No lock of the service is held while a handler runs.

A handler may answer a callback, describe an execution or start one from another
thread (as it does through the HTTP server) during its own invocation. Each thread is
joined with a short timeout, so a regression fails fast instead of hanging.
"""

from __future__ import annotations

import threading
from typing import Any

from durable_closure import run
from durable_core import DurableContext, StepContext
from durable_testing import ExecutionStatus, LocalService


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
