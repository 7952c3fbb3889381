"""ctx.race / ctx.any / ctx.all_settled: completion rules over parallel branches.

Expected semantics are those of JavaScript's Promise.race / Promise.any /
Promise.allSettled, which the names promise: race settles with the first outcome,
any with the first success (failing only when all fail), all_settled with every
outcome.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    BatchItemStatus,
    ChildContextError,
    DurableContext,
    MemoryBackend,
    StepConfig,
    ValidationError,
    no_retry,
)
from durable_core.combinators import AllBranchesFailedError
from durable_core.types import OperationStatus, OperationType
from durable_testing.cli import replay

from tests.driver import Execution, start

from .conftest import drive

NO_RETRY: StepConfig[Any] = StepConfig(retry=no_retry)


def _fail(message: str) -> Any:
    def body(c: DurableContext) -> None:
        def boom(s: Any) -> None:
            raise ValueError(message)

        c.step(boom, name=f"fail {message}", config=NO_RETRY)

    return body


def approval(event: Any, ctx: DurableContext) -> dict[str, Any]:
    winner = ctx.race(
        lambda c: c.create_callback("approval").result(),
        lambda c: c.wait(3600, name="approval timeout"),
        name="approval or timeout",
    )
    return {"index": winner.index, "value": winner.value}


def test_callback_answered_before_the_timeout_wins() -> None:
    execution = start(run(approval))
    assert execution.invoke()["Status"] == "PENDING"
    callback = execution.only(OperationType.CALLBACK)
    # Without a serdes the callback's result is the payload string as it was sent.
    execution.complete(callback, OperationStatus.SUCCEEDED, result="approved")
    response = execution.invoke()
    assert response["Status"] == "SUCCEEDED"
    assert json.loads(response["Result"]) == {"index": 0, "value": "approved"}
    # The timeout branch never resumes: its wait is still armed, and the execution is done.
    assert execution.by_name("approval timeout").status is OperationStatus.STARTED
    race = execution.by_name("approval or timeout")
    assert (race.type, race.sub_type, race.status) == (
        OperationType.CONTEXT,
        "Race",
        OperationStatus.SUCCEEDED,
    )
    branches = [op for op in execution.operations() if op.parent_id == race.id]
    assert {op.sub_type for op in branches} == {"ParallelBranch"}
    assert replay(run(approval), execution.operations()).divergence is None


def test_timeout_fires_before_the_callback_and_wins() -> None:
    execution = start(run(approval))
    assert execution.invoke()["Status"] == "PENDING"
    execution.fire_timers()
    response = execution.invoke()
    assert response["Status"] == "SUCCEEDED"
    assert json.loads(response["Result"]) == {"index": 1, "value": None}
    assert execution.only(OperationType.CALLBACK).status is OperationStatus.STARTED
    # Replaying the finished log gives the same winner without running anything.
    calls_before = execution.calls_count()
    assert replay(run(approval), execution.operations()).divergence is None
    assert execution.calls_count() == calls_before


def test_race_settles_with_the_first_failure() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.race(_fail("fast"), lambda c: c.wait(60, name="slow"), name="r").value

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    # The branch's ChildContextError, named as AWS's SDK names it.
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.ChildContextError"
    )
    assert driven.final["Error"]["ErrorMessage"] == "fast"


def test_any_skips_failures_and_returns_the_first_success() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[Any]:
        winner = ctx.any(
            _fail("one"),
            lambda c: c.step(lambda s: "second", name="ok"),
            name="first success",
        )
        return [winner.index, winner.value]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [1, "second"]
    assert driven.by_name("first success").sub_type == "Any"


def test_any_fails_only_when_every_branch_failed() -> None:
    seen: list[AllBranchesFailedError] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            return ctx.any(_fail("one"), _fail("two")).value
        except AllBranchesFailedError as exc:
            seen.append(exc)
            raise

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    assert [e.error_message if e else None for e in seen[-1].errors] == ["one", "two"]
    assert isinstance(seen[-1], ChildContextError)


def test_all_settled_reports_every_outcome_by_index() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[Any]:
        result = ctx.all_settled(
            _fail("bad"),
            lambda c: c.step(lambda s: 2, name="two"),
            lambda c: (c.wait(5, name="later"), 3)[1],
            name="settle",
        )
        return [
            (i.status.value, i.result, i.error.error_message if i.error else None)
            for i in result.all
        ]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [
        [BatchItemStatus.FAILED.value, None, "bad"],
        [BatchItemStatus.SUCCEEDED.value, 2, None],
        [BatchItemStatus.SUCCEEDED.value, 3, None],
    ]
    assert driven.by_name("settle").sub_type == "AllSettled"


def test_replay_returns_the_recorded_winner_without_rerunning_branches() -> None:
    runs: list[str] = []

    def wf(event: Any, ctx: DurableContext) -> list[Any]:
        def quick(c: DurableContext) -> str:
            runs.append("quick")
            return "quick"

        winner = ctx.race(quick, lambda c: c.wait(30, name="slow"), name="r")
        ctx.wait(5, name="after")
        return [winner.index, winner.value]

    backend = MemoryBackend()
    arn = backend.start_execution(None)["DurableExecutionArn"]
    execution = Execution(backend, arn, run(wf))
    assert execution.invoke()["Status"] == "PENDING"  # suspended in "after"
    execution.fire_timers()
    response = execution.invoke()
    assert json.loads(response["Result"]) == [0, "quick"]
    assert runs == ["quick"]


def test_combinators_need_branches() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.race().value

    with pytest.raises(ValidationError):
        wf(None, _context())


def _context() -> DurableContext:
    from durable_core._replay import CheckpointLog
    from durable_core.checkpoint import Checkpointer
    from durable_core.context import ExecutionState

    log = CheckpointLog()
    backend = MemoryBackend()
    arn = backend.start_execution(None)["DurableExecutionArn"]
    return DurableContext(ExecutionState(arn, log, Checkpointer(backend, arn, "t", log)))


@pytest.mark.parametrize(("answer", "expected"), [(True, [0, "approved"]), (False, [1, None])])
def test_on_the_local_service_the_losing_branch_does_not_keep_the_execution_alive(
    answer: bool, expected: list[Any]
) -> None:
    from durable_testing.local_service import LocalService

    service = LocalService()
    service.register("approval", run(approval))
    arn = service.start("approval")
    if answer:
        # Run only up to the callback's creation (the timeout is an hour away), answer it.
        first = service.run_until_complete(arn, until=service.clock.now())
        assert first.status.value == "RUNNING"
        (pending,) = service.callbacks(arn)
        service.send_callback_success(pending.callback_id, payload="approved")
    result = service.run_until_complete(arn)
    assert result.status.value == "SUCCEEDED"
    assert [result.result["index"], result.result["value"]] == expected
    assert result.event_types[-1] == "ExecutionSucceeded"
