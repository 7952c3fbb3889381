"""parallel and map: ids from 0, bounded concurrency across suspensions, completion rules."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    ChildContextError,
    DurableContext,
    ExtendedSerDes,
    MemoryBackend,
    StepConfig,
    ValidationError,
    no_retry,
    use_backend,
)
from durable_core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    MapConfig,
    NestingType,
    ParallelConfig,
)
from durable_core.types import ErrorObject, OperationStatus, OperationType

from .conftest import drive


def _branch(i: int, wait: bool = False) -> Any:
    def body(c: DurableContext) -> int:
        value: int = c.step(lambda s: i * 10, name=f"s{i}")
        if wait:
            c.wait(5, name=f"w{i}")
        return value

    return body


def test_parallel_branches_are_child_contexts_numbered_from_zero() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[int]:
        result = ctx.parallel([_branch(i) for i in range(3)], name="fan-out")
        return result.get_results()

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [0, 10, 20]
    batch = driven.by_name("fan-out")
    assert (batch.type, batch.sub_type) == (OperationType.CONTEXT, "Parallel")
    for i in range(3):
        branch = driven.by_name(f"parallel-branch-{i}")
        expected_id = hashlib.blake2b(f"{batch.id}-{i}".encode()).hexdigest()[:64]
        assert branch.id == expected_id
        assert branch.sub_type == "ParallelBranch"
        assert branch.parent_id == batch.id
        assert driven.by_name(f"s{i}").parent_id == branch.id


def test_max_concurrency_counts_waiting_branches() -> None:
    backend = MemoryBackend()

    def wf(event: Any, ctx: DurableContext) -> list[int]:
        config: ParallelConfig[int] = ParallelConfig(max_concurrency=2)
        return ctx.parallel([_branch(i, wait=True) for i in range(5)], config=config).get_results()

    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    started_per_invocation = []
    response: dict[str, Any] = {"Status": "PENDING"}
    while response["Status"] == "PENDING":
        with use_backend(backend):
            response = run(wf)(event, None)
        branches = [op for op in backend.operations(arn) if op.sub_type == "ParallelBranch"]
        started_per_invocation.append(len(branches))
        backend.fire_timers(arn)
        event = backend.invocation_event(arn)
    assert json.loads(response["Result"]) == [0, 10, 20, 30, 40]
    # Two slots: branches waiting hold theirs, so two more start per invocation.
    assert started_per_invocation == [2, 4, 5, 5]


def test_map_passes_item_index_and_items_and_names_iterations() -> None:
    seen: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def square(c: DurableContext, item: str, index: int, items: Any) -> str:
        with lock:
            seen.append((item, index, len(items)))
        return c.step(lambda s: item * 2, name="double")

    def wf(event: Any, ctx: DurableContext) -> list[str]:
        config: MapConfig[str] = MapConfig(item_namer=lambda item, i: f"item-{item}")
        return ctx.map(["a", "b", "c"], square, name="m", config=config).get_results()

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == ["aa", "bb", "cc"]
    assert sorted(seen) == [("a", 0, 3), ("b", 1, 3), ("c", 2, 3)]
    assert driven.by_name("m").sub_type == "Map"
    assert driven.by_name("item-b").sub_type == "MapIteration"


def _failing(i: int) -> Any:
    def body(c: DurableContext) -> int:
        return c.step(lambda s: 1 // 0, name=f"bad{i}", config=StepConfig(retry=no_retry))

    return body


def test_first_failure_stops_the_batch_by_default() -> None:
    def wf(event: Any, ctx: DurableContext) -> dict[str, Any]:
        config: ParallelConfig[int] = ParallelConfig(max_concurrency=1)
        result = ctx.parallel([_branch(0), _failing(1), _branch(2)], config=config)
        return {
            "reason": result.completion_reason.value,
            "statuses": [item.status.value for item in result.all],
            "errors": [e.error_type if e else None for e in result.get_errors()],
        }

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == {
        "reason": "FAILURE_TOLERANCE_EXCEEDED",
        "statuses": ["SUCCEEDED", "FAILED"],
        # The type the branch escaped with, as AWS's SDK records it (_branch_error_object).
        "errors": ["aws_durable_execution_sdk_python.exceptions.StepError"],
    }
    assert not any(op.name == "parallel-branch-2" for op in driven.operations())


def test_tolerated_failures_let_every_branch_run() -> None:
    def wf(event: Any, ctx: DurableContext) -> dict[str, Any]:
        config: ParallelConfig[int] = ParallelConfig(
            completion_config=CompletionConfig(tolerated_failure_count=1)
        )
        result = ctx.parallel([_failing(0), _branch(1), _branch(2)], config=config)
        return {"reason": result.completion_reason.value, "ok": result.get_results()}

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == {"reason": "ALL_COMPLETED", "ok": [10, 20]}


def test_min_successful_completes_early() -> None:
    def wf(event: Any, ctx: DurableContext) -> dict[str, Any]:
        config: ParallelConfig[int] = ParallelConfig(
            max_concurrency=1, completion_config=CompletionConfig.first_successful()
        )
        result = ctx.parallel([_branch(i) for i in range(3)], config=config)
        return {"reason": result.completion_reason.value, "count": result.total_count}

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == {"reason": "MIN_SUCCESSFUL_REACHED", "count": 1}


def test_throw_if_error_raises_the_branch_error() -> None:
    caught: list[ChildContextError] = []

    def wf(event: Any, ctx: DurableContext) -> None:
        result = ctx.parallel([_failing(0)])
        try:
            result.throw_if_error()
        except ChildContextError as exc:
            caught.append(exc)

    drive(run(wf))
    assert caught and caught[0].error_type == (
        "aws_durable_execution_sdk_python.exceptions.StepError"
    )


def test_completed_batch_replays_without_running_branches() -> None:
    runs: list[int] = []
    lock = threading.Lock()

    def body(c: DurableContext) -> int:
        with lock:
            runs.append(1)
        return c.step(lambda s: 1, name="one")

    def wf(event: Any, ctx: DurableContext) -> int:
        total = sum(ctx.parallel([body, body], name="p").get_results())
        ctx.wait(1)
        return total

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == 2
    assert len(runs) == 2


def test_suspension_inside_a_branch_is_not_a_failure() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[str]:
        result = ctx.parallel([_branch(0, wait=True), _branch(1, wait=True)])
        return [item.status.value for item in result.all]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == ["SUCCEEDED", "SUCCEEDED"]
    assert all(op.status is not OperationStatus.FAILED for op in driven.operations()), (
        "a waiting branch was recorded as failed"
    )


def test_flat_nesting_records_no_branch_contexts() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[int]:
        config: ParallelConfig[int] = ParallelConfig(nesting_type=NestingType.FLAT)
        return ctx.parallel([_branch(0), _branch(1)], name="flat", config=config).get_results()

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [0, 10]
    batch = driven.by_name("flat")
    assert not any(op.sub_type == "ParallelBranch" for op in driven.operations())
    assert driven.by_name("s0").parent_id == batch.id


@pytest.mark.parametrize(
    "make",
    [
        lambda: ParallelConfig(max_concurrency=0),
        lambda: CompletionConfig(tolerated_failure_count=-1),
        lambda: CompletionConfig(tolerated_failure_percentage=101),
        lambda: CompletionConfig(min_successful=0),
    ],
)
def test_invalid_configs_fail_at_construction(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def test_min_successful_above_the_item_count_fails_at_the_call() -> None:
    backend = MemoryBackend()
    config: MapConfig[int] = MapConfig(completion_config=CompletionConfig(min_successful=3))
    handler = run(lambda e, ctx: ctx.map([1, 2], lambda c, x, i, xs: x, config=config))
    with use_backend(backend):
        response = handler(backend.start_execution(None), None)
    assert response["Error"]["ErrorType"] == "durable_core.errors.ValidationError"
    assert backend.calls == []


def test_batch_result_round_trips_through_the_default_serdes() -> None:
    result = BatchResult(
        [
            BatchItem(0, BatchItemStatus.SUCCEEDED, result={"k": (1, 2)}),
            BatchItem(1, BatchItemStatus.FAILED, error=ErrorObject(error_message="x")),
        ],
        CompletionReason.ALL_COMPLETED,
    )
    payload = ExtendedSerDes().serialize(result)
    assert json.loads(payload)["t"] == "br"
    assert ExtendedSerDes().deserialize(payload) == result


class TimersFireDuringCalls(MemoryBackend):
    """A service whose timers fire while the function runs: every checkpoint answer also
    carries the operations that changed meanwhile, as the real service's answers do."""

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        arn = args[0]
        fired = [change.after for change in self.fire_timers(arn)]
        response = super().checkpoint(*args, **kwargs)
        return type(response)(response.checkpoint_token, [*fired, *response.operations])


def test_a_branch_whose_wait_ends_mid_invocation_resumes_in_it() -> None:
    backend = TimersFireDuringCalls()

    def waiter(c: DurableContext) -> str:
        c.wait(1, name="short")
        return "waited"

    def after_the_wait_started(s: Any) -> None:
        # The other branch has started its wait (and so suspends) before this step's
        # result is checkpointed: the service's answer then carries the fired timer.
        deadline = time.monotonic() + 5
        while not any(op.name == "short" for op in backend.operations(arn)):
            assert time.monotonic() < deadline, "the wait never started"
            time.sleep(0.001)

    def worker(c: DurableContext) -> str:
        c.step(after_the_wait_started, name="work-1")
        return c.step(lambda s: "worked", name="work-2")

    config: ParallelConfig[str] = ParallelConfig(max_concurrency=2)
    handler = run(lambda e, ctx: ctx.parallel([waiter, worker], config=config).get_results())
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        response = handler(event, None)
    # The wait ended while the other branch checkpointed: one invocation, no PENDING.
    assert response == {"Status": "SUCCEEDED", "Result": '["waited", "worked"]'}


class LateThreads:
    """Branch threads that start every branch after the first one late (``LATE`` s)."""

    LATE = 0.2

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, task: Any) -> None:
        delay = self.LATE if self.submitted else 0.0
        self.submitted += 1
        threading.Timer(delay, task).start()


def test_a_branch_not_begun_when_its_batch_completed_never_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``any`` has its winner before the second branch's thread begins: that branch
    checkpoints nothing (a START after the batch's end would be a branch left STARTED
    under a completed batch), and the batch still waits for its thread."""
    from durable_core.operations import batch as batch_module

    threads = LateThreads()
    monkeypatch.setattr(batch_module, "BRANCH_THREADS", threads)

    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.any(lambda c: "first", lambda c: "second", name="either").value

    driven = drive(run(wf))
    assert driven.final == {"Status": "SUCCEEDED", "Result": '"first"'}
    assert threads.submitted == 2
    names = [op.name for op in driven.operations() if op.type is OperationType.CONTEXT]
    assert "any-branch-1" not in names
    assert "any-branch-0" in names
