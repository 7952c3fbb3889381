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

Those rules live in ``BatchTally`` (and ``BranchEvent``, ``branch_call``), which the
asyncio driver (``durable_core.aio``) shares: only the threads here are its tasks there.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, Union

from durable_core._ids import operation_id
from durable_core._replay import OperationCall
from durable_core._threads import BRANCH_THREADS
from durable_core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    Branch,
    CompletionConfig,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
)
from durable_core.config import ChildConfig
from durable_core.errors import (
    BranchCancelled,
    DurableOperationError,
    NonDeterministicExecutionError,
    SerDesError,
    SuspendExecution,
    recorded_error,
)
from durable_core.serdes import EXTENDED_SERDES
from durable_core.typed import TypedSerDes, inferred_serdes
from durable_core.types import ErrorObject, OperationType

if TYPE_CHECKING:
    from durable_core.context import DurableContext

T = TypeVar("T")
U = TypeVar("U")


class _Outcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    FATAL = "fatal"


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

    batch_id = batch_ctx._parent_id
    assert batch_id is not None
    check_branch_count(batch_ctx, batch_id, len(branches), nesting)
    checkpointer = batch_ctx._checkpointer
    tally = BatchTally(
        batch_id, len(branches), max_concurrency, completion, lambda: checkpointer.news
    )
    if tally.total == 0:
        return tally.result()
    cancel = threading.Event()
    events: queue.Queue[BranchEvent] = queue.Queue()
    early = tally.releases_early
    settle = settles_ends(tally, nesting, batch_ctx)

    # Each branch submitted releases ``ran`` once it no longer runs or checkpoints (its
    # end queued, or it never began), and ``settled`` once its end is persisted and its
    # end hook has run.
    ran = threading.Semaphore(0)
    settled = threading.Semaphore(0)

    def work(index: int) -> None:
        call = branch_call(batch_id, index, branches[index].name, sub_type)
        event: BranchEvent | None = None
        try:
            # A branch the batch completed before it began never starts.
            if not cancel.is_set():
                event = run_branch(index, call)
                # The slot is free: the batch starts the next branch now. Until it has
                # handled this event, it counts as a branch about to checkpoint.
                checkpointer.count_branches(1)
                events.put(event)
        finally:
            ran.release()
        try:
            if settle and event is not None and event.ended:
                checkpointer.persist_through(checkpointer.queued)
                branch_settled(batch_ctx, call)
        except (Exception, SuspendExecution):
            pass  # the checkpointer keeps it: the batch raises it at its next call
        finally:
            checkpointer.count_branches(-1)
            settled.release()

    def run_branch(index: int, call: OperationCall) -> BranchEvent:
        try:
            value = run_child(
                batch_ctx,
                call,
                branches[index].func,
                item_config,
                virtual=nesting is NestingType.FLAT,
                cancel=cancel,
                branch=early,
            )
        except BaseException as exc:
            return BranchEvent.of_error(index, exc)
        return BranchEvent.of_success(index, value)

    submitted = 0
    handled = 0  # events handled whose count the branches they start take over
    try:
        while not tally.complete():
            runnable = tally.start_next() + tally.resume_or_suspend()
            checkpointer.count_branches(len(runnable) - handled)
            handled = 0
            for index in runnable:
                BRANCH_THREADS.submit(partial(work, index))
                submitted += 1
            tally.record(events.get())
            handled = 1
    finally:
        cancel.set()
        # Branches still running stop at their next operation; wait for them so no
        # branch checkpoints after the batch completed.
        for _ in range(submitted):
            ran.acquire()
        unhandled = events.qsize()  # their ends' counts too (the queue is drained below)

        def join() -> None:
            """After the batch's own end is sent: the branches' ends, still settling,
            share its call, and their end hooks run before the batch's. Until then the
            batch counts as a branch about to checkpoint (its end), so the settling
            branches' call waits for it."""
            for _ in range(submitted):
                settled.acquire()
            checkpointer.count_branches(-handled - unhandled)

        batch_ctx._joins.append(join)
    while not events.empty():
        tally.record_raced(events.get_nowait())
    return tally.result()


def check_branch_count(
    batch_ctx: DurableContext, batch_id: str, total: int, nesting: NestingType
) -> None:
    """Fail as non-deterministic a batch with fewer branches than its execution started.

    Branches start in index order, so a recorded branch at index ``total`` (for a FLAT
    batch, its first operation, since the branch records nothing itself) means this
    deployment dropped branches of a running execution: they would be orphaned, left
    STARTED forever (AWS's SDK leaves them so). One lookup, whatever the batch's size.
    """
    branch_id = operation_id(batch_id, total)
    probe = operation_id(branch_id, 1) if nesting is NestingType.FLAT else branch_id
    if probe not in batch_ctx._state.log:
        return
    batch = batch_ctx._state.log.get(batch_id)
    what = f"{batch.sub_type} {batch.name!r}" if batch and batch.name else f"batch {batch_id}"
    raise NonDeterministicExecutionError(
        f"{what} now has {total} branches, but this execution started branch {total} "
        "(index from 0) on the code it began with: a running execution cannot lose "
        "branches. Deploy the change for new executions only (see ctx.patched).",
        operation_id=batch_id,
    )


def settles_ends(tally: BatchTally, nesting: NestingType, batch_ctx: DurableContext) -> bool:
    """Whether a branch that ended waits, on its own thread, for its end to be persisted
    once its slot is free (``BatchTally.releases_early``), to run its end hook then: only
    with plugins to report it to (a thread kept waiting is one more for the GIL to wake
    after every call), for a NESTED branch (a FLAT one records no end), and not with
    batched checkpoints, where ends stay buffered by design. The batch's own end, sent
    after the branches', persists them in any case."""
    return (
        tally.releases_early
        and nesting is NestingType.NESTED
        and batch_ctx._state.plugins is not None
        and not batch_ctx._checkpointer.batch
    )


def branch_settled(batch_ctx: DurableContext, call: OperationCall) -> None:
    """A branch's outcome is persisted: report its end to the plugins now, on the
    branch's thread, as AWS's SDK does once the terminal checkpoint is confirmed (the
    branch returned to the batch before that, see ``child_flow``'s ``branch``)."""
    plugins = batch_ctx._state.plugins
    if plugins is not None:
        plugins.operation_ended(call)


def branch_call(batch_id: str, index: int, name: str, sub_type: str) -> OperationCall:
    """Branch ``index``'s child context: its id depends on the index, not on run order."""
    return OperationCall(
        operation_id(batch_id, index), OperationType.CONTEXT, sub_type, name, batch_id
    )


def parallel_branch_name(index: int) -> str:
    return f"parallel-branch-{index}"


def map_item_name(config: MapConfig[U], item: U, index: int) -> str:
    namer = config.item_namer
    return namer(item, index) if namer else f"map-item-{index}"


def item_config(config: ParallelConfig[Any] | MapConfig[Any]) -> ChildConfig[Any]:
    """The child config of each branch: its result encoded by ``item_serdes``."""
    return ChildConfig(serdes=config.item_serdes or config.serdes)


class TypedBatchSerDes:
    """A ``BatchResult`` whose item results are typed: each result is recorded as the JSON
    data its ``TypedSerDes`` writes (AWS's SDK reads the batch with plain dicts), and read
    back as instances of the item type."""

    def __init__(self, item_serdes: TypedSerDes[Any]) -> None:
        self.item_serdes = item_serdes

    def serialize(self, value: BatchResult[Any]) -> str:
        as_data = self._map(
            value, lambda r: EXTENDED_SERDES.deserialize(self.item_serdes.serialize(r))
        )
        return EXTENDED_SERDES.serialize(as_data)

    def deserialize(self, data: str) -> BatchResult[Any]:
        recorded = EXTENDED_SERDES.deserialize(data)
        if not isinstance(recorded, BatchResult):
            raise SerDesError("the recorded value is not a batch result")
        return self._map(
            recorded, lambda d: self.item_serdes.deserialize(EXTENDED_SERDES.serialize(d))
        )

    @staticmethod
    def _map(batch: BatchResult[Any], convert: Callable[[Any], Any]) -> BatchResult[Any]:
        items = [
            BatchItem(i.index, i.status, None if i.result is None else convert(i.result), i.error)
            for i in batch.all
        ]
        return BatchResult(items, batch.completion_reason)


def batch_config(config: ParallelConfig[Any] | MapConfig[Any]) -> ChildConfig[Any]:
    """The child config of the batch itself: ``serdes``, or, when the items are typed,
    a batch encoding that records each item as JSON data and reads it back typed."""
    if config.serdes is None and isinstance(config.item_serdes, TypedSerDes):
        return ChildConfig(serdes=TypedBatchSerDes(config.item_serdes))
    return ChildConfig(serdes=config.serdes)


def typed_map_config(config: MapConfig[U], func: Callable[..., Any]) -> MapConfig[U]:
    """``config`` with the item serdes the map function's return annotation asks for
    (a pydantic model, a dataclass...), unless a serdes is set."""
    if config.item_serdes is not None or config.serdes is not None:
        return config
    serdes = inferred_serdes(func)
    return config if serdes is None else dataclasses.replace(config, item_serdes=serdes)


def typed_parallel_config(
    config: ParallelConfig[T], branches: Sequence[Callable[..., Any]]
) -> ParallelConfig[T]:
    """``config`` with the item serdes the branches' return annotations ask for, unless a
    serdes is set: so branches declared to return models give models, as map's items do.

    Only when every branch declares a type that needs validation: one type, or the
    union of them when branches return different types (a result reads back as the
    first of them it is valid as, pydantic's "smart" union). A branch without such an
    annotation leaves the default serdes, which only takes plain values.
    """
    if config.item_serdes is not None or config.serdes is not None or not branches:
        return config
    # A named branch declares its type on its function.
    found = [
        inferred_serdes(branch.func if isinstance(branch, ParallelBranch) else branch)
        for branch in branches
    ]
    declared = [serdes.tp for serdes in found if serdes is not None]
    if len(declared) < len(branches):
        return config
    distinct = list(dict.fromkeys(declared))
    item_serdes = found[0] if len(distinct) == 1 else TypedSerDes(Union[tuple(distinct)])  # noqa: UP007
    return dataclasses.replace(config, item_serdes=item_serdes)


@dataclass(frozen=True, slots=True)
class BranchEvent:
    """How one run of a branch ended (it may end again on a later invocation)."""

    index: int
    outcome: _Outcome
    result: Any = None
    error: ErrorObject | None = None
    fatal: BaseException | None = None

    @classmethod
    def of_success(cls, index: int, value: Any) -> BranchEvent:
        return cls(index, _Outcome.SUCCEEDED, result=value)

    @property
    def ended(self) -> bool:
        """Whether the branch reached its outcome (and queued it, unless replayed)."""
        return self.outcome in (_Outcome.SUCCEEDED, _Outcome.FAILED)

    @classmethod
    def of_error(cls, index: int, exc: BaseException) -> BranchEvent:
        if isinstance(exc, BranchCancelled):
            return cls(index, _Outcome.CANCELLED)
        if isinstance(exc, SuspendExecution):
            return cls(index, _Outcome.SUSPENDED)
        if isinstance(exc, DurableOperationError):
            # AWS's record of a failed branch: the type it escaped with (``recorded_error``).
            return cls(index, _Outcome.FAILED, error=recorded_error(exc))
        return cls(index, _Outcome.FATAL, fatal=exc)


class BatchTally:
    """Where a batch stands, and what it may do next; the same for every driver.

    Branches start in index order while fewer than ``limit`` are in flight; a
    suspended branch keeps its slot (``in_flight``) but no longer runs (``running``).
    ``progress`` counts the service's answers with news (``Checkpointer.news``): a branch
    that suspended may be able to go on if news came since its run began (its wait may
    have ended meanwhile; news that came while it ran may have come too late for it).
    """

    def __init__(
        self,
        batch_id: str,
        total: int,
        max_concurrency: int | None,
        completion: CompletionConfig,
        progress: Callable[[], int],
    ) -> None:
        self.batch_id = batch_id
        self.total = total
        self.limit = max_concurrency or total
        self.completion = completion
        self.statuses: dict[int, BatchItem[Any]] = {}
        self.succeeded = self.failed = self.in_flight = self.running = self.next_index = 0
        self._progress = progress
        self._run_began: dict[int, int] = {}  # the news known when each run began
        self._suspended: dict[int, int] = {}

    @property
    def releases_early(self) -> bool:
        """Whether a branch frees its slot once its outcome is queued, before it is
        persisted (``child_flow``'s ``branch``): with more than one slot, where threads
        are not ordered with each other anyway. A batch of one slot is sequential by the
        user's choice: each branch starts once the one before has ended, persisted, as
        in AWS's SDK (the same calls, the same plugin hook order)."""
        return self.limit > 1

    def complete(self) -> bool:
        return self.completion.is_complete(
            self.succeeded, self.failed, self.total
        ) or self.completion.tolerance_exceeded(self.failed, self.total)

    def start_next(self) -> list[int]:
        """The branches to start now (marked STARTED): as many as free slots allow."""
        started = []
        while self.next_index < self.total and self.in_flight < self.limit:
            self.statuses[self.next_index] = BatchItem(self.next_index, BatchItemStatus.STARTED)
            started.append(self.next_index)
            self._run_began[self.next_index] = self._progress()
            self.next_index += 1
            self.in_flight += 1
            self.running += 1
        return started

    def resume_or_suspend(self) -> list[int]:
        """When no branch runs: the waiting branches to run again because the service has
        brought news since they suspended (an answer carried an operation it changed by
        itself: a timer fired, a callback arrived), as AWS's SDK resumes branches in the
        invocation; with none, the batch suspends. Answers to the batch's own updates
        wake no branch, so a branch is not re-run for nothing."""
        if self.running:
            return []
        answers = self._progress()
        ready = [index for index, seen in self._suspended.items() if seen < answers]
        if not ready:
            raise SuspendExecution(f"batch {self.batch_id}: every running branch is waiting")
        for index in ready:
            del self._suspended[index]
            self._run_began[index] = answers
        self.running += len(ready)
        return ready

    def record(self, event: BranchEvent) -> None:
        self.running -= 1
        if event.outcome is _Outcome.SUSPENDED:
            self._suspended[event.index] = self._run_began[event.index]
        if event.outcome in (_Outcome.SUCCEEDED, _Outcome.FAILED):
            self.in_flight -= 1
            if event.outcome is _Outcome.SUCCEEDED:
                self.succeeded += 1
            else:
                self.failed += 1
        self.record_raced(event)

    def record_raced(self, event: BranchEvent) -> None:
        """A branch's true outcome (also one that finished while the batch was completing)."""
        if event.outcome is _Outcome.FATAL:
            assert event.fatal is not None
            raise event.fatal
        if event.outcome is _Outcome.SUCCEEDED:
            self.statuses[event.index] = BatchItem(
                event.index, BatchItemStatus.SUCCEEDED, result=event.result
            )
        elif event.outcome is _Outcome.FAILED:
            self.statuses[event.index] = BatchItem(
                event.index, BatchItemStatus.FAILED, error=event.error
            )

    def result(self) -> BatchResult[Any]:
        reason = self.completion.reason(self.succeeded, self.failed, self.total)
        return BatchResult([self.statuses[i] for i in sorted(self.statuses)], reason)
