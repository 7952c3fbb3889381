"""Parallel and map: their configuration, completion rules and ``BatchResult``.

The data here is pure: which branches count as done, when a batch is complete, how a
result is encoded. ``operations/batch.py`` runs the branches. The encoded form of a
``BatchResult`` (``{"all": [...], "completionReason": ...}``, tag ``br`` in the
default serdes) is AWS's SDK's, so either SDK replays the other's batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from durable_core.config import validate_name
from durable_core.errors import ChildContextError, ValidationError
from durable_core.types import ErrorObject

if TYPE_CHECKING:
    from durable_core.context import DurableContext
    from durable_core.serdes import SerDes

__all__ = [
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "CompletionConfig",
    "CompletionReason",
    "MapConfig",
    "NestingType",
    "ParallelBranch",
    "ParallelConfig",
    "branch_names",
]

R = TypeVar("R")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class BatchItemStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STARTED = "STARTED"


class CompletionReason(StrEnum):
    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"


class NestingType(StrEnum):
    """NESTED: each branch is a checkpointed child context. FLAT: branches are virtual
    (no checkpoint of their own; their operations hang off the batch operation)."""

    NESTED = "NESTED"
    FLAT = "FLAT"


@dataclass(frozen=True)
class CompletionConfig:
    """When a batch is done. With nothing set, the first failure ends it (fail fast).

    ``min_successful``: complete as soon as that many branches succeeded.
    ``tolerated_failure_count`` / ``tolerated_failure_percentage``: stop starting new
    branches once failures exceed the tolerance.
    """

    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None

    def __post_init__(self) -> None:
        if self.min_successful is not None and self.min_successful < 1:
            raise ValidationError(f"min_successful must be at least 1, got {self.min_successful}")
        if self.tolerated_failure_count is not None and self.tolerated_failure_count < 0:
            raise ValidationError(
                f"tolerated_failure_count must not be negative, got {self.tolerated_failure_count}"
            )
        percentage = self.tolerated_failure_percentage
        if percentage is not None and not 0 <= percentage <= 100:
            raise ValidationError(
                f"tolerated_failure_percentage must be between 0 and 100, got {percentage}"
            )

    @staticmethod
    def first_successful() -> CompletionConfig:
        return CompletionConfig(min_successful=1)

    @staticmethod
    def all_completed() -> CompletionConfig:
        return CompletionConfig(tolerated_failure_percentage=100)

    @staticmethod
    def all_successful() -> CompletionConfig:
        return CompletionConfig(tolerated_failure_count=0, tolerated_failure_percentage=0)

    def validate_for(self, total: int) -> None:
        if self.min_successful is not None and self.min_successful > total:
            raise ValidationError(
                f"min_successful ({self.min_successful}) exceeds the number of items ({total})"
            )

    def _has_criteria(self) -> bool:
        return (
            self.min_successful is not None
            or self.tolerated_failure_count is not None
            or self.tolerated_failure_percentage is not None
        )

    def tolerance_exceeded(self, failed: int, total: int) -> bool:
        if not self._has_criteria():
            return failed > 0
        if self.tolerated_failure_count is not None and failed > self.tolerated_failure_count:
            return True
        percentage = self.tolerated_failure_percentage
        return percentage is not None and total > 0 and failed / total * 100 > percentage

    def is_complete(self, succeeded: int, failed: int, total: int) -> bool:
        if succeeded + failed >= total:
            return True
        return self.min_successful is not None and succeeded >= self.min_successful

    def reason(self, succeeded: int, failed: int, total: int) -> CompletionReason:
        if self.tolerance_exceeded(failed, total):
            return CompletionReason.FAILURE_TOLERANCE_EXCEEDED
        if succeeded + failed < total and (
            self.min_successful is not None and succeeded >= self.min_successful
        ):
            return CompletionReason.MIN_SUCCESSFUL_REACHED
        return CompletionReason.ALL_COMPLETED


def _check_concurrency(max_concurrency: int | None) -> None:
    if max_concurrency is not None and max_concurrency < 1:
        raise ValidationError(f"max_concurrency must be at least 1, got {max_concurrency}")


@dataclass(frozen=True)
class ParallelConfig(Generic[T]):
    """``serdes`` encodes the whole ``BatchResult``; ``item_serdes`` each branch's result."""

    max_concurrency: int | None = None
    completion_config: CompletionConfig = field(default_factory=CompletionConfig)
    serdes: SerDes[Any] | None = None
    item_serdes: SerDes[T] | None = None
    nesting_type: NestingType = NestingType.NESTED

    def __post_init__(self) -> None:
        _check_concurrency(self.max_concurrency)


@dataclass(frozen=True)
class MapConfig(Generic[T]):
    """As ``ParallelConfig``, plus ``item_namer(item, index)`` naming each iteration."""

    max_concurrency: int | None = None
    completion_config: CompletionConfig = field(default_factory=CompletionConfig)
    serdes: SerDes[Any] | None = None
    item_serdes: SerDes[Any] | None = None
    nesting_type: NestingType = NestingType.NESTED
    item_namer: Callable[[T, int], str] | None = None

    def __post_init__(self) -> None:
        _check_concurrency(self.max_concurrency)


@dataclass(frozen=True)
class ParallelBranch(Generic[T_co]):
    """A branch of ``parallel`` (or of ``race``, ``any``, ``all_settled``) with a name.

    The name is recorded as the branch's child context name, where AWS's SDK records
    its ``ParallelBranch`` name, instead of ``parallel-branch-{i}``: the console and the
    history show it. It is part of the branch's identity, so renaming a branch of a
    running execution is a non-deterministic change. ``name=None`` keeps the default.
    A ``ParallelBranch`` is called like its function, so it goes wherever a branch
    function goes, sync or ``async def`` (for mypy, a list mixing ``async def``
    functions and ``ParallelBranch``es needs ``name=None`` branches for the plain ones).
    """

    func: Callable[[Any], T_co]
    name: str | None = None

    def __call__(self, context: Any) -> T_co:
        return self.func(context)


def branch_names(
    branches: Sequence[Callable[..., Any]], default: Callable[[int], str]
) -> list[str]:
    """Each branch's recorded name: its ``ParallelBranch`` name, else ``default(index)``."""
    names = []
    for index, branch in enumerate(branches):
        name = validate_name(branch.name) if isinstance(branch, ParallelBranch) else None
        names.append(default(index) if name is None else name)
    return names


@dataclass(frozen=True, slots=True)
class Branch:
    """One unit of a batch: its display name and the function run in its child context."""

    name: str
    func: Callable[[DurableContext], Any]


@dataclass(frozen=True)
class BatchItem(Generic[R]):
    """One branch: its index (from 0), status, result or error."""

    index: int
    status: BatchItemStatus
    result: R | None = None
    error: ErrorObject | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "result": self.result,
            "error": self.error.to_wire() if self.error else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchItem[Any]:
        error = data.get("error")
        return cls(
            index=int(data["index"]),
            status=BatchItemStatus(data["status"]),
            result=data.get("result"),
            error=ErrorObject.from_wire(error) if error else None,
        )


@dataclass(frozen=True)
class BatchResult(Generic[R]):
    """What ``parallel`` and ``map`` return: every started branch, in index order.

    Branches never started (the batch completed first) are absent; branches still
    running when it completed are ``STARTED``. Failures do not raise by themselves:
    call ``throw_if_error()`` for all-or-nothing semantics.
    """

    all: list[BatchItem[R]]
    completion_reason: CompletionReason

    def succeeded(self) -> list[BatchItem[R]]:
        return [i for i in self.all if i.status is BatchItemStatus.SUCCEEDED]

    def failed(self) -> list[BatchItem[R]]:
        return [i for i in self.all if i.status is BatchItemStatus.FAILED]

    def started(self) -> list[BatchItem[R]]:
        return [i for i in self.all if i.status is BatchItemStatus.STARTED]

    @property
    def has_failure(self) -> bool:
        return any(i.status is BatchItemStatus.FAILED for i in self.all)

    @property
    def status(self) -> BatchItemStatus:
        return BatchItemStatus.FAILED if self.has_failure else BatchItemStatus.SUCCEEDED

    def get_results(self) -> list[R]:
        """Results of the succeeded branches, in index order."""
        return [i.result for i in self.all if i.status is BatchItemStatus.SUCCEEDED]  # type: ignore[misc]

    def get_errors(self) -> list[ErrorObject | None]:
        return [i.error for i in self.all if i.status is BatchItemStatus.FAILED]

    @property
    def errors(self) -> list[ErrorObject | None]:
        return self.get_errors()

    def throw_if_error(self) -> None:
        """Raise the first failed branch's error as a ``ChildContextError``."""
        first = next((i for i in self.all if i.status is BatchItemStatus.FAILED), None)
        if first is not None:
            raise ChildContextError.from_error_object(
                first.error or ErrorObject(error_message=f"batch item {first.index} failed")
            )

    @property
    def success_count(self) -> int:
        return len(self.succeeded())

    @property
    def failure_count(self) -> int:
        return len(self.failed())

    @property
    def started_count(self) -> int:
        return len(self.started())

    @property
    def total_count(self) -> int:
        return len(self.all)

    def to_dict(self) -> dict[str, Any]:
        return {
            "all": [item.to_dict() for item in self.all],
            "completionReason": self.completion_reason.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchResult[Any]:
        reason = data.get("completionReason") or CompletionReason.ALL_COMPLETED.value
        return cls(
            [BatchItem.from_dict(item) for item in data["all"]],
            CompletionReason(reason),
        )
