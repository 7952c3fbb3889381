"""Parallel and map: run branches as child contexts on threads, bounded and replayable.

A batch is one CONTEXT operation (subtype Parallel or Map). Each branch is a child
context (ParallelBranch / MapIteration) whose id is derived from its index, counted
from 0, so ids do not depend on the order branches happen to run in.

Scheduling: branches start in index order while fewer than ``max_concurrency`` are in
flight. A branch that suspends (a wait, a retry backoff, a callback) keeps its slot:
only a terminal branch frees one, so the bound holds across invocations. When no
branch can run, the batch suspends and the service re-invokes later; completed
branches then replay from their checkpoints. When the completion rule is met, branches
not yet started are never started, and branches still running are cancelled at their
next operation and reported as STARTED.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from durable_core._ids import operation_id
from durable_core._replay import OperationCall
from durable_core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    Branch,
    CompletionConfig,
    NestingType,
)
from durable_core.config import ChildConfig
from durable_core.errors import (
    BranchCancelled,
    DurableOperationError,
    SuspendExecution,
    error_object_from_exception,
)
from durable_core.types import ErrorObject, OperationType

if TYPE_CHECKING:
    from durable_core.context import DurableContext


class _Outcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class _Event:
    index: int
    outcome: _Outcome
    result: Any = None
    error: ErrorObject | None = None
    fatal: BaseException | None = None


def run_branches(
    batch_ctx: DurableContext,
    branches: Sequence[Branch],
    *,
    sub_type: str,
    max_concurrency: int | None,
    completion: CompletionConfig,
    item_config: ChildConfig[Any],
    nesting: NestingType,
) -> BatchResult[Any]:
    """The body of the batch's child context: returns the ``BatchResult`` it records."""
    from durable_core.operations.child import run_child

    total = len(branches)
    if total == 0:
        return BatchResult([], completion.reason(0, 0, 0))
    batch_id = batch_ctx._parent_id
    assert batch_id is not None
    limit = max_concurrency or total
    cancel = threading.Event()
    events: queue.Queue[_Event] = queue.Queue()
    statuses: dict[int, BatchItem[Any]] = {}

    def work(index: int) -> None:
        branch = branches[index]
        call = OperationCall(
            operation_id(batch_id, index), OperationType.CONTEXT, sub_type, branch.name, batch_id
        )
        try:
            value = run_child(
                batch_ctx,
                call,
                branch.func,
                item_config,
                virtual=nesting is NestingType.FLAT,
                cancel=cancel,
            )
        except BranchCancelled:
            events.put(_Event(index, _Outcome.CANCELLED))
        except SuspendExecution:
            events.put(_Event(index, _Outcome.SUSPENDED))
        except DurableOperationError as exc:
            events.put(_Event(index, _Outcome.FAILED, error=error_object_from_exception(exc)))
        except BaseException as exc:
            events.put(_Event(index, _Outcome.FATAL, fatal=exc))
        else:
            events.put(_Event(index, _Outcome.SUCCEEDED, result=value))

    succeeded = failed = in_flight = running = 0
    next_index = 0
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="durable-branch")
    try:
        while not completion.is_complete(succeeded, failed, total):
            if completion.tolerance_exceeded(failed, total):
                break
            while next_index < total and in_flight < limit:
                statuses[next_index] = BatchItem(next_index, BatchItemStatus.STARTED)
                pool.submit(work, next_index)
                next_index += 1
                in_flight += 1
                running += 1
            if running == 0:
                # Every branch in flight is suspended and no slot is free.
                raise SuspendExecution(f"batch {batch_id}: every running branch is waiting")
            event = events.get()
            running -= 1
            if event.outcome is _Outcome.FATAL:
                assert event.fatal is not None
                raise event.fatal
            if event.outcome is _Outcome.SUCCEEDED:
                statuses[event.index] = BatchItem(
                    event.index, BatchItemStatus.SUCCEEDED, result=event.result
                )
                succeeded += 1
                in_flight -= 1
            elif event.outcome is _Outcome.FAILED:
                statuses[event.index] = BatchItem(
                    event.index, BatchItemStatus.FAILED, error=event.error
                )
                failed += 1
                in_flight -= 1
    finally:
        cancel.set()
        # Branches still running stop at their next operation; wait for them so no
        # thread outlives the invocation or checkpoints after the batch completed.
        pool.shutdown(wait=True, cancel_futures=True)
    _drain_raced(events, statuses)
    reason = completion.reason(succeeded, failed, total)
    return BatchResult([statuses[i] for i in sorted(statuses)], reason)


def _drain_raced(events: queue.Queue[_Event], statuses: dict[int, BatchItem[Any]]) -> None:
    """Branches that finished while the batch was completing report their true outcome."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if event.outcome is _Outcome.FATAL and event.fatal is not None:
            raise event.fatal
        if event.outcome is _Outcome.SUCCEEDED:
            statuses[event.index] = BatchItem(
                event.index, BatchItemStatus.SUCCEEDED, result=event.result
            )
        elif event.outcome is _Outcome.FAILED:
            statuses[event.index] = BatchItem(
                event.index, BatchItemStatus.FAILED, error=event.error
            )
