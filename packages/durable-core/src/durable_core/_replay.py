"""Sans-IO replay decisions: what an operation does now, from its record alone.

Each function looks at the checkpointed ``Operation`` for an id (or None) and the
call being made, and answers what to do: return the recorded result, raise the
recorded error, run the body, or suspend. No backend, no clock, no threads here,
so every replay rule is testable with plain data and shared by every driver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from durable_core.config import StepSemantics
from durable_core.errors import NonDeterministicExecutionError
from durable_core.types import Operation, OperationStatus, OperationType

__all__ = [
    "Action",
    "CheckpointLog",
    "OperationCall",
    "StepPlan",
    "check_identity",
    "child_action",
    "plan_step",
    "resumed_condition_state",
    "wait_action",
    "wait_for_callback_failure",
]


class CheckpointLog:
    """The operations of one execution known to this invocation, by id.

    Filled from the initial state (every page) and kept current with the operations
    each checkpoint response returns.
    """

    __slots__ = ("_lock", "_ops")

    def __init__(self, operations: Iterable[Operation] = ()) -> None:
        self._ops: dict[str, Operation] = {op.id: op for op in operations}
        self._lock = threading.Lock()

    def get(self, operation_id: str) -> Operation | None:
        return self._ops.get(operation_id)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._ops

    def __len__(self) -> int:
        return len(self._ops)

    def update(self, operations: Iterable[Operation]) -> None:
        with self._lock:
            for op in operations:
                self._ops[op.id] = op

    def execution(self) -> Operation | None:
        return next((op for op in self._ops.values() if op.type is OperationType.EXECUTION), None)

    def has_history(self) -> bool:
        """True when anything beyond the EXECUTION operation was recorded: a replay."""
        return any(op.type is not OperationType.EXECUTION for op in self._ops.values())


@dataclass(frozen=True, slots=True)
class OperationCall:
    """The identity of the operation the code is calling now."""

    id: str
    type: OperationType
    sub_type: str
    name: str | None
    parent_id: str | None

    def describe(self) -> str:
        label = f"{self.name!r} " if self.name else ""
        return f"{self.type.value} {label}(id {self.id})"


def check_identity(call: OperationCall, recorded: Operation | None) -> None:
    """Raise ``NonDeterministicExecutionError`` if the record at this id is another operation."""
    if recorded is None:
        return
    differences = []
    if recorded.type is not call.type:
        differences.append(f"type recorded {recorded.type.value}, now {call.type.value}")
    if (recorded.sub_type or None) != call.sub_type:
        differences.append(f"subtype recorded {recorded.sub_type!r}, now {call.sub_type!r}")
    if (recorded.name or None) != (call.name or None):
        differences.append(f"name recorded {recorded.name!r}, now {call.name!r}")
    if (recorded.parent_id or None) != (call.parent_id or None):
        differences.append(f"parent recorded {recorded.parent_id!r}, now {call.parent_id!r}")
    if differences:
        raise NonDeterministicExecutionError(
            f"Non-deterministic replay at {call.describe()}: {'; '.join(differences)}. "
            "The code no longer calls the operations it called when this execution ran; "
            "deploy changes as a new version or guard them.",
            operation_id=call.id,
        )


class Action(Enum):
    RETURN = "return"  # recorded success: return the result
    RAISE = "raise"  # recorded failure: raise the error
    EXECUTE = "execute"  # run the body now
    SUSPEND = "suspend"  # wait for the service (timer, retry delay)
    START_AND_SUSPEND = "start_and_suspend"  # checkpoint START, then suspend


@dataclass(frozen=True, slots=True)
class StepPlan:
    action: Action
    attempt: int = 1  # the attempt about to run (1-based)
    send_start: bool = False  # a START must be checkpointed before the body
    interrupted: bool = False  # an at-most-once attempt died mid-body: count it as failed


def plan_step(recorded: Operation | None, semantics: StepSemantics) -> StepPlan:
    if recorded is None:
        return StepPlan(Action.EXECUTE, 1, send_start=True)
    attempts_made = (recorded.step_details.attempt or 0) if recorded.step_details else 0
    status = recorded.status
    if status is OperationStatus.SUCCEEDED:
        return StepPlan(Action.RETURN)
    if status.is_terminal:
        return StepPlan(Action.RAISE)
    if status is OperationStatus.PENDING:
        return StepPlan(Action.SUSPEND)
    if status is OperationStatus.READY:
        return StepPlan(Action.EXECUTE, attempts_made + 1, send_start=True)
    # STARTED: the previous invocation began this attempt and never finished it.
    if semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
        return StepPlan(Action.EXECUTE, attempts_made + 1, interrupted=True)
    return StepPlan(Action.EXECUTE, attempts_made + 1)


def wait_action(recorded: Operation | None) -> Action:
    if recorded is None:
        return Action.START_AND_SUSPEND
    if recorded.status is OperationStatus.SUCCEEDED:
        return Action.RETURN
    if recorded.status.is_terminal:
        return Action.RAISE
    return Action.SUSPEND


@dataclass(frozen=True, slots=True)
class ChildPlan:
    action: Action
    send_start: bool = False
    replay_children: bool = False  # the result was too large to record: re-run the body


def child_action(recorded: Operation | None) -> ChildPlan:
    if recorded is None:
        return ChildPlan(Action.EXECUTE, send_start=True)
    if recorded.status is OperationStatus.SUCCEEDED:
        replay_children = bool(
            recorded.context_details and recorded.context_details.replay_children
        )
        if replay_children:
            return ChildPlan(Action.EXECUTE, replay_children=True)
        return ChildPlan(Action.RETURN)
    if recorded.status.is_terminal:
        return ChildPlan(Action.RAISE)
    return ChildPlan(Action.EXECUTE)


def resumed_condition_state(recorded: Operation | None) -> str | None:
    """The state a ``wait_for_condition`` poll resumes from: what its last RETRY recorded.

    None means the first poll (or a record with no state): start from the initial state.
    """
    if recorded is None or recorded.status not in (OperationStatus.STARTED, OperationStatus.READY):
        return None
    return recorded.result or None


def wait_for_callback_failure(
    callback: Operation | None, submitter: Operation | None
) -> Operation | None:
    """Which inner operation failed a ``wait_for_callback`` context, from the records alone.

    The submitter step runs before the callback's result is read, so a failed submitter
    is the cause even when the callback failed too. None: neither (another error).
    """
    if submitter is not None and submitter.status is OperationStatus.FAILED:
        return submitter
    if (
        callback is not None
        and callback.status.is_terminal
        and callback.status is not OperationStatus.SUCCEEDED
    ):
        return callback
    return None
