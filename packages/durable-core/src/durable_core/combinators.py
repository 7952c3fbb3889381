"""``race``, ``any`` and ``all_settled``: completion rules over branches of durable code.

Operations block, so a combinator takes branches the way ``parallel`` does: functions
of a child context, e.g. a callback against a timeout::

    winner = ctx.race(
        lambda c: c.create_callback("approval").result(),
        lambda c: c.wait(3600, name="approval timeout"),
        name="approval or timeout",
    )
    if winner.index == 1: ...  # timed out

Each is a parallel batch with its own completion rule, recorded as a CONTEXT of
subtype ``Race``, ``Any`` or ``AllSettled`` whose branches are ``ParallelBranch``
contexts; the checkpointed ``BatchResult`` is the decision, so replay returns the same
winner without running anything again. When the rule is met, branches not started are
never started, a running branch stops at its next operation, and a branch suspended in
a wait or a callback is simply never resumed: the execution goes on without it.

Which branch won is read from the recorded ``BatchResult``: of the branches that had
finished when the race was decided, the lowest index with the deciding outcome. Two
branches finishing in the same instant therefore resolve by index, identically on
every replay.

Sync only: these run branches on threads, like ``parallel``; an asyncio face does not
exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from durable_core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    Branch,
    CompletionConfig,
    CompletionReason,
    ParallelConfig,
)
from durable_core.errors import ChildContextError, ValidationError
from durable_core.types import ErrorObject

if TYPE_CHECKING:
    from durable_core.context import DurableContext

__all__ = ["AllBranchesFailedError", "Winner", "all_settled", "any_of", "race"]

T = TypeVar("T")

# A race ends at the first outcome: one success reaches min_successful, one failure
# exceeds a tolerance of zero.
_FIRST_COMPLETED = CompletionConfig(min_successful=1, tolerated_failure_count=0)


@dataclass(frozen=True)
class Winner(Generic[T]):
    """The branch that decided a ``race`` or an ``any``: its index (from 0) and value."""

    index: int
    value: T


class AllBranchesFailedError(ChildContextError):
    """Every branch of an ``any`` failed; ``errors`` holds each branch's error, by index."""

    def __init__(self, message: str, errors: Sequence[ErrorObject | None] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


def race(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> Winner[T]:
    result = _run(ctx, "Race", "race", branches, name, _FIRST_COMPLETED)
    decided_by_failure = result.completion_reason is CompletionReason.FAILURE_TOLERANCE_EXCEEDED
    status = BatchItemStatus.FAILED if decided_by_failure else BatchItemStatus.SUCCEEDED
    first = _lowest(result, status)
    if first.status is BatchItemStatus.FAILED:
        raise ChildContextError.from_error_object(first.error)
    return Winner(first.index, first.result)  # type: ignore[arg-type]


def any_of(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> Winner[T]:
    result = _run(ctx, "Any", "any", branches, name, CompletionConfig.first_successful())
    if not result.succeeded():
        errors = result.get_errors()
        details = "; ".join(
            f"branch {item.index}: {item.error.error_type if item.error else None}: "
            f"{item.error.error_message if item.error else None}"
            for item in result.failed()
        )
        raise AllBranchesFailedError(f"every branch of {name or 'any'} failed ({details})", errors)
    first = _lowest(result, BatchItemStatus.SUCCEEDED)
    return Winner(first.index, first.result)  # type: ignore[arg-type]


def all_settled(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> BatchResult[T]:
    return _run(ctx, "AllSettled", "all-settled", branches, name, CompletionConfig.all_completed())


def _run(
    ctx: DurableContext,
    sub_type: str,
    label: str,
    branches: Sequence[Callable[[DurableContext], T]],
    name: str | None,
    completion: CompletionConfig,
) -> BatchResult[T]:
    if not branches:
        raise ValidationError(f"{label} needs at least one branch")
    if not all(callable(fn) for fn in branches):
        raise ValidationError(f"every branch of {label} must be a function of a DurableContext")
    items = [Branch(f"{label}-branch-{i}", fn) for i, fn in enumerate(branches)]
    config: ParallelConfig[Any] = ParallelConfig(completion_config=completion)
    return ctx._batch(sub_type, "ParallelBranch", name, items, config)


def _lowest(result: BatchResult[T], status: BatchItemStatus) -> BatchItem[T]:
    return next(item for item in result.all if item.status is status)
