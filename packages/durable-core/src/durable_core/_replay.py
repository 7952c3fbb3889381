"""Sans-IO replay decisions: what an operation does now, from its record alone.

Each function looks at the checkpointed ``Operation`` for an id (or None) and the
call being made, and answers what to do: return the recorded result, raise the
recorded error, run the body, or suspend. No backend, no clock, no threads here,
so every replay rule is testable with plain data and shared by every driver.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from durable_core.config import StepSemantics
from durable_core.errors import InvalidEventError, NonDeterministicExecutionError
from durable_core.types import Operation, OperationStatus, OperationType, WireFormatError

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

    The event's operations stay the wire dicts they arrived as (``add_wire``): their
    identity fields (Id, Type, Status) are checked up front, and the whole operation is
    validated into an ``Operation`` only when the engine reads it (``get``), and not
    kept. A replay reads each record once, so a log of 100k operations costs an index,
    not 100k models (memory, and the cyclic GC walking them). Operations from
    the backend (checkpoint responses, later pages) are models already and are kept.
    """

    __slots__ = ("_lock", "_ops", "_wire")

    def __init__(self, operations: Iterable[Operation] = ()) -> None:
        self._ops: dict[str, Operation] = {op.id: op for op in operations}
        self._wire: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add_wire(self, operations: Iterable[Any]) -> None:
        """Add operations in their wire form (PascalCase dicts), later ones winning.

        Raises ``InvalidEventError`` if one is not an object with a non-empty Id and a
        known Type and Status; the rest of each operation is checked when it is read.
        """
        wire = self._wire
        with self._lock:
            for raw in operations:
                op_id = _checked_identity(raw)
                self._ops.pop(op_id, None)
                wire[op_id] = raw

    def get(self, operation_id: str) -> Operation | None:
        op = self._ops.get(operation_id)
        if op is not None:
            return op
        raw = self._wire.get(operation_id)
        return None if raw is None else _validated(raw)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self._ops or operation_id in self._wire

    def __len__(self) -> int:
        return len(self._ops) + sum(1 for op_id in self._wire if op_id not in self._ops)

    def update(self, operations: Iterable[Operation]) -> None:
        with self._lock:
            for op in operations:
                self._ops[op.id] = op

    def operations(self) -> Iterator[Operation]:
        """Every operation of the log (each wire record validated as it is reached)."""
        for op_id, raw in list(self._wire.items()):
            if op_id not in self._ops:
                yield _validated(raw)
        yield from list(self._ops.values())

    def execution(self) -> Operation | None:
        for op in self._ops.values():
            if op.type is OperationType.EXECUTION:
                return op
        for raw in self._wire.values():
            if raw["Type"] == "EXECUTION":
                return self.get(raw["Id"])
        return None

    def has_history(self) -> bool:
        """True when anything beyond the EXECUTION operation was recorded: a replay."""
        return any(op.type is not OperationType.EXECUTION for op in self._ops.values()) or any(
            raw["Type"] != "EXECUTION" for raw in self._wire.values()
        )


_TYPES = frozenset(t.value for t in OperationType)
_STATUSES = frozenset(s.value for s in OperationStatus)


def _checked_identity(raw: Any) -> str:
    """The Id of a wire operation whose identity fields are usable, else InvalidEventError."""
    if type(raw) is not dict:
        raise InvalidEventError(f"A checkpointed operation is not an object: {str(raw)[:80]!r}")
    op_id = raw.get("Id")
    if not isinstance(op_id, str) or not op_id:
        raise InvalidEventError(f"A checkpointed operation has no usable Id: {str(raw)[:80]!r}")
    op_type, status = raw.get("Type"), raw.get("Status")
    if not isinstance(op_type, str) or op_type not in _TYPES:
        raise InvalidEventError(f"Checkpointed operation {op_id} has unknown Type {op_type!r}")
    if not isinstance(status, str) or status not in _STATUSES:
        raise InvalidEventError(f"Checkpointed operation {op_id} has unknown Status {status!r}")
    return op_id


def _validated(raw: dict[str, Any]) -> Operation:
    try:
        return Operation.from_wire(raw)
    except WireFormatError as exc:
        raise InvalidEventError(f"Checkpointed operation {raw['Id']} is malformed: {exc}") from None


class OperationCall(NamedTuple):
    """The identity of the operation the code is calling now.

    A named tuple, not a frozen dataclass: one is built per operation, and a tuple is
    built in a third of the time, immutable all the same.
    """

    id: str
    type: OperationType
    sub_type: str
    name: str | None
    parent_id: str | None

    def describe(self) -> str:
        # A StrEnum formats as its value; reading ``.value`` costs an enum descriptor call
        # on a path every operation takes.
        if self.name:
            return f"{self.type} {self.name!r} (id {self.id})"
        return f"{self.type} (id {self.id})"


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


# The plans that do not depend on the attempt, built once: replay and first runs are hot.
_FIRST_RUN = StepPlan(Action.EXECUTE, 1, send_start=True)
_RETURN = StepPlan(Action.RETURN)
_RAISE = StepPlan(Action.RAISE)
_SUSPEND = StepPlan(Action.SUSPEND)


def plan_step(recorded: Operation | None, semantics: StepSemantics) -> StepPlan:
    if recorded is None:
        return _FIRST_RUN
    status = recorded.status
    if status is OperationStatus.SUCCEEDED:
        return _RETURN
    if status.is_terminal:
        return _RAISE
    if status is OperationStatus.PENDING:
        return _SUSPEND
    attempts_made = (recorded.step_details.attempt or 0) if recorded.step_details else 0
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
