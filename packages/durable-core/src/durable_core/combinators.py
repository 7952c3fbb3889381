"""``race``, ``any`` and ``all_settled``: completion rules over branches of durable code.

Operations block, so a combinator takes branches the way ``parallel`` does: functions
of a child context, e.g. a callback against a timeout::

    winner = ctx.race(
        lambda c: c.create_callback("approval").result(),
        lambda c: c.wait(3600, name="approval timeout"),
        name="approval or timeout",
    )
    if winner.index == 1: ...  # timed out

A branch wrapped in ``ParallelBranch(fn, name=...)`` is recorded under that name.

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

The sync context runs the branches on threads, the asyncio one (``durable_core.aio``)
as tasks, each through its own ``parallel`` machinery; both take their rule (subtype,
branch names, completion) from ``Combinator`` and read the outcome with the functions
here, so a workflow and its async rewrite record and decide the same.
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
    branch_names,
)
from durable_core.errors import ChildContextError, ValidationError
from durable_core.types import ErrorObject

if TYPE_CHECKING:
    from durable_core.context import DurableContext

__all__ = [
    "ALL_SETTLED",
    "ANY",
    "RACE",
    "AllBranchesFailedError",
    "Combinator",
    "Winner",
    "all_settled",
    "any_of",
    "any_winner",
    "race",
    "race_winner",
]

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


@dataclass(frozen=True)
class Combinator:
    """What distinguishes one combinator's batch: its subtype, branch names and rule."""

    sub_type: str
    label: str
    completion: CompletionConfig

    def branch_names(self, branches: Sequence[Callable[..., Any]]) -> list[str]:
        """Branch ``i``'s name (``<label>-branch-<i>`` unless it is a ``ParallelBranch``
        with a name), once the branches are known to be callables."""
        if not branches:
            raise ValidationError(f"{self.label} needs at least one branch")
        if not all(callable(fn) for fn in branches):
            raise ValidationError(f"every branch of {self.label} must be a function of a context")
        return branch_names(branches, lambda i: f"{self.label}-branch-{i}")

    def config(self) -> ParallelConfig[Any]:
        return ParallelConfig(completion_config=self.completion)


RACE = Combinator("Race", "race", _FIRST_COMPLETED)
ANY = Combinator("Any", "any", CompletionConfig.first_successful())
ALL_SETTLED = Combinator("AllSettled", "all-settled", CompletionConfig.all_completed())


def race(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> Winner[T]:
    return race_winner(_run(ctx, RACE, branches, name))


def any_of(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> Winner[T]:
    return any_winner(_run(ctx, ANY, branches, name), name)


def all_settled(
    ctx: DurableContext, branches: Sequence[Callable[[DurableContext], T]], name: str | None
) -> BatchResult[T]:
    return _run(ctx, ALL_SETTLED, branches, name)


def race_winner(result: BatchResult[T]) -> Winner[T]:
    """The race's outcome: the first branch to finish, raised if it failed."""
    decided_by_failure = result.completion_reason is CompletionReason.FAILURE_TOLERANCE_EXCEEDED
    status = BatchItemStatus.FAILED if decided_by_failure else BatchItemStatus.SUCCEEDED
    first = _lowest(result, status)
    if first.status is BatchItemStatus.FAILED:
        raise ChildContextError.from_error_object(first.error)
    return Winner(first.index, first.result)  # type: ignore[arg-type]


def any_winner(result: BatchResult[T], name: str | None) -> Winner[T]:
    """The first success of an ``any``, or ``AllBranchesFailedError`` when there is none."""
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


def _run(
    ctx: DurableContext,
    combinator: Combinator,
    branches: Sequence[Callable[[DurableContext], T]],
    name: str | None,
) -> BatchResult[T]:
    names = combinator.branch_names(branches)
    items = [Branch(branch_name, fn) for branch_name, fn in zip(names, branches, strict=True)]
    return ctx._batch(combinator.sub_type, "ParallelBranch", name, items, combinator.config())


def _lowest(result: BatchResult[T], status: BatchItemStatus) -> BatchItem[T]:
    return next(item for item in result.all if item.status is status)
