"""``DurableContext``: what a durable handler calls.

Every method is a durable operation: its outcome is checkpointed under an id derived
from its position in the context, and on a later invocation the recorded outcome is
returned (or raised) without running the body again. Handlers must call operations in
the same order on every invocation; code between operations must be deterministic.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from durable_core._ids import IdNamespace
from durable_core._replay import CheckpointLog, OperationCall, check_identity
from durable_core.checkpoint import Checkpointer
from durable_core.config import ChildConfig, StepConfig, validate_name
from durable_core.logger import ReplaySafeLogger, default_logger
from durable_core.types import Operation, OperationType

__all__ = ["DurableContext", "StepContext"]

T = TypeVar("T")


@dataclass(frozen=True)
class StepContext:
    """Given to a step body: which attempt this is, and a logger tagged with the step."""

    attempt: int
    operation_id: str
    name: str | None
    logger: ReplaySafeLogger


class ExecutionState:
    """What every context of one invocation shares: the log, the checkpointer, options."""

    def __init__(
        self,
        execution_arn: str,
        log: CheckpointLog,
        checkpointer: Checkpointer,
        *,
        logger: Any = None,
        tracer: Callable[[str, OperationCall, dict[str, Any]], None] | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.log = log
        self.checkpointer = checkpointer
        self.base_logger = logger if logger is not None else default_logger()
        self.tracer = tracer


class DurableContext:
    """The durable operations of one context (the root, or a child context)."""

    def __init__(
        self,
        state: ExecutionState,
        *,
        parent_id: str | None = None,
        replaying: bool = False,
        lambda_context: Any = None,
    ) -> None:
        self._state = state
        self._parent_id = parent_id
        self._ids = IdNamespace(parent_id)
        self._replaying = replaying
        self._replay_lock = threading.Lock()
        self.lambda_context = lambda_context
        self.logger = ReplaySafeLogger(
            state.base_logger,
            lambda: self._replaying,
            {"execution_arn": state.execution_arn, "parent_id": parent_id},
        )

    # -- what handlers read -------------------------------------------------------

    @property
    def execution_arn(self) -> str:
        return self._state.execution_arn

    @property
    def is_replaying(self) -> bool:
        """True while this context is re-running operations that already completed."""
        return self._replaying

    # -- operations ---------------------------------------------------------------

    def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T:
        """Run ``func`` once and checkpoint its result; on replay return the recorded result.

        A failure is retried per ``config.retry`` (the invocation suspends during the
        backoff); when retries are exhausted ``StepError`` is raised, identically on replay.
        """
        from durable_core.operations.step import run_step

        config = config or StepConfig()
        call = self._call(OperationType.STEP, config.sub_type or "Step", name)
        return run_step(self, call, func, config)

    def wait(self, duration: float | dt.timedelta, name: str | None = None) -> None:
        """Suspend for ``duration`` (seconds or a timedelta, at least 1 s) at no Lambda cost."""
        from durable_core.operations.wait import run_wait

        seconds = duration.total_seconds() if isinstance(duration, dt.timedelta) else duration
        call = self._call(OperationType.WAIT, "Wait", name)
        run_wait(self, call, seconds)

    def run_in_child_context(
        self,
        func: Callable[[DurableContext], T],
        name: str | None = None,
        config: ChildConfig[T] | None = None,
    ) -> T:
        """Run ``func`` with a child context: its operations get their own id namespace.

        The child's result is checkpointed as one operation, so on replay a completed
        child returns without re-running any of its operations.
        """
        from durable_core.operations.child import run_child

        config = config or ChildConfig()
        call = self._call(OperationType.CONTEXT, config.sub_type or "RunInChildContext", name)
        return run_child(self, call, func, config)

    # -- engine plumbing ----------------------------------------------------------

    def _call(self, op_type: OperationType, sub_type: str, name: str | None) -> OperationCall:
        return OperationCall(
            self._ids.next_id(), op_type, sub_type, validate_name(name), self._parent_id
        )

    def _begin(self, call: OperationCall) -> Operation | None:
        """Look up and validate the record of ``call``; flip to executing at new work."""
        recorded = self._state.log.get(call.id)
        check_identity(call, recorded)
        if self._replaying and (
            recorded is None
            or (call.type is OperationType.STEP and not recorded.status.is_terminal)
        ):
            self._set_executing()
        self._trace("start", call, recorded)
        return recorded

    def _end(self, call: OperationCall, recorded: Operation | None, outcome: str) -> None:
        """After an operation: leave replay mode once the next operation has no record."""
        if self._replaying and (
            (recorded is not None and not recorded.status.is_terminal)
            or self._ids.peek_id() not in self._state.log
        ):
            self._set_executing()
        self._trace("end", call, recorded, outcome=outcome)

    def _set_executing(self) -> None:
        with self._replay_lock:
            self._replaying = False

    def _child(self, operation_id: str) -> DurableContext:
        return DurableContext(
            self._state,
            parent_id=operation_id,
            replaying=self._replaying,
            lambda_context=self.lambda_context,
        )

    def _trace(
        self, phase: str, call: OperationCall, recorded: Operation | None, **fields: Any
    ) -> None:
        if self._state.tracer is not None:
            status = recorded.status.value if recorded is not None else None
            self._state.tracer(phase, call, {"recorded_status": status, **fields})

    @property
    def _checkpointer(self) -> Checkpointer:
        return self._state.checkpointer

    def _record(self, operation_id: str) -> Operation | None:
        return self._state.log.get(operation_id)
