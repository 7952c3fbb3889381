"""Sagas: step_with_compensation registers, run_compensations undoes in reverse.

Expected orders are the saga rule (last done, first undone); names and subtype are
the documented ``compensate-<step name>`` steps inside a ``Compensations`` child.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from durable_closure import run
from durable_core import (
    CompensationOutcome,
    CompensationResult,
    DurableContext,
    StepConfig,
    StepContext,
    StepError,
    no_retry,
    use_backend,
)
from durable_core._ids import operation_id
from durable_core.types import OperationStatus, OperationType

from .conftest import drive


def booking_workflow(undone: list[str], results: list[CompensationResult]) -> Any:
    def undo(what: str) -> Any:
        def compensate(result: Any, step: StepContext) -> None:
            undone.append(f"{what}:{result}")

        return compensate

    def fail(_: StepContext) -> None:
        raise RuntimeError("payment declined")

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: "F1", undo("flight"), name="flight")
        ctx.wait(5, name="pause")
        ctx.step_with_compensation(lambda s: "H2", undo("hotel"), name="hotel")
        ctx.step_with_compensation(lambda s: "C3", undo("car"))
        try:
            ctx.step(fail, name="pay", config=StepConfig(retry=no_retry))
        except StepError:
            result = ctx.run_compensations(name="rollback")
            results.append(result)
            return {"rolled_back": [o.name for o in result.outcomes], "ok": result.all_succeeded}
        return "booked"

    return run(wf)


def test_compensations_run_in_reverse_with_each_step_result() -> None:
    undone: list[str] = []
    results: list[CompensationResult] = []
    driven = drive(booking_workflow(undone, results))
    assert driven.final["Status"] == "SUCCEEDED"
    assert undone == ["car:C3", "hotel:H2", "flight:F1"]
    assert json.loads(driven.final["Result"]) == {
        "rolled_back": ["compensate", "compensate-hotel", "compensate-flight"],
        "ok": True,
    }
    assert results[-1].outcomes == (
        CompensationOutcome("compensate", True),
        CompensationOutcome("compensate-hotel", True),
        CompensationOutcome("compensate-flight", True),
    )
    # The registrations before the wait were made again by replay, not lost.
    rollback = driven.by_name("rollback")
    assert (rollback.type, rollback.sub_type, rollback.status) == (
        OperationType.CONTEXT,
        "Compensations",
        OperationStatus.SUCCEEDED,
    )
    # Operations 1-5 are flight, pause, hotel, car, pay; the child is the 6th.
    assert rollback.id == operation_id(None, 6)
    inner = [op for op in driven.operations() if op.parent_id == rollback.id]
    assert [(op.id, op.name, op.type) for op in inner] == [
        (operation_id(rollback.id, 1), "compensate", OperationType.STEP),
        (operation_id(rollback.id, 2), "compensate-hotel", OperationType.STEP),
        (operation_id(rollback.id, 3), "compensate-flight", OperationType.STEP),
    ]


def test_replay_after_compensating_runs_nothing_again() -> None:
    undone: list[str] = []
    results: list[CompensationResult] = []
    handler = booking_workflow(undone, results)
    driven = drive(handler)
    calls = len(driven.backend.calls)
    with use_backend(driven.backend):
        again = handler(driven.backend.invocation_event(driven.arn), None)
    assert again == driven.final
    assert len(undone) == 3 and len(driven.backend.calls) == calls
    assert results[-1] == results[-2]


def test_every_compensation_runs_even_when_one_fails() -> None:
    undone: list[str] = []
    attempts: list[int] = []

    def broken(result: Any, step: StepContext) -> None:
        attempts.append(step.attempt)
        raise ConnectionError("refund service down")

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: 1, lambda r, s: undone.append("a"), name="a")
        ctx.step_with_compensation(lambda s: 2, broken, name="b")
        ctx.step_with_compensation(lambda s: 3, lambda r, s: undone.append("c"), name="c")
        result = ctx.run_compensations()
        return [
            [
                o.name,
                o.succeeded,
                o.error.error_type if o.error else None,
                o.error and o.error.message,
            ]
            for o in result.outcomes
        ]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [
        ["compensate-c", True, None, None],
        ["compensate-b", False, "ConnectionError", "refund service down"],
        ["compensate-a", True, None, None],
    ]
    assert undone == ["c", "a"]
    # Compensations are retried (the default step policy) before counting as failed.
    assert len(attempts) > 1 and attempts == list(range(1, len(attempts) + 1))


def test_failed_step_registers_no_compensation() -> None:
    undone: list[str] = []

    def fail(_: StepContext) -> str:
        raise ValueError("no")

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: 1, lambda r, s: undone.append("ok"), name="ok")
        with contextlib.suppress(StepError):
            ctx.step_with_compensation(
                fail,
                lambda r, s: undone.append("failed"),
                name="bad",
                config=StepConfig(retry=no_retry),
            )
        return len(ctx.run_compensations().outcomes)

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == 1
    assert undone == ["ok"]


def test_compensations_belong_to_their_context() -> None:
    undone: list[str] = []

    def child(c: DurableContext) -> int:
        c.step_with_compensation(lambda s: 1, lambda r, s: undone.append("inner"), name="inner")
        return len(c.run_compensations(name="inner-rollback").outcomes)

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: 1, lambda r, s: undone.append("outer"), name="outer")
        inner_count = ctx.run_in_child_context(child, name="child")
        outer_count = len(ctx.run_compensations(name="outer-rollback").outcomes)
        # Compensations that ran are forgotten: a second run has nothing to do.
        again = len(ctx.run_compensations(name="nothing-left").outcomes)
        return [inner_count, outer_count, again]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [1, 1, 0]
    assert undone == ["inner", "outer"]


def test_long_step_names_are_cut_to_the_service_limit() -> None:
    name = "x" * 256

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: 1, lambda r, s: None, name=name)
        return ctx.run_compensations().outcomes[0].name

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == ("compensate-" + name)[:256]
