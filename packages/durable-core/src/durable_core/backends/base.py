"""The one I/O boundary of the SDK: what a durable execution service must answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from durable_core.types import Operation, OperationUpdate

__all__ = ["CheckpointResponse", "DurableBackend", "StatePage"]


@dataclass(frozen=True, slots=True)
class CheckpointResponse:
    """What CheckpointDurableExecution answers: the next token and the touched operations."""

    checkpoint_token: str | None
    operations: list[Operation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StatePage:
    """One page of GetDurableExecutionState."""

    operations: list[Operation]
    next_marker: str | None = None


@runtime_checkable
class DurableBackend(Protocol):
    """CheckpointDurableExecution and GetDurableExecutionState, nothing else.

    Implementations raise ``CheckpointError`` (with ``retryable``) for failed calls;
    the checkpointer owns retries, tokens and batching.
    """

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse: ...

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage: ...
