"""``LocalService``: what Lambda and the durable execution service do, in this process.

It starts executions, invokes registered handlers with the event the service would
send, applies their checkpoints with ``MemoryBackend``'s rules (the one
implementation of them), fires wait timers and step retries when due, re-invokes
crashed invocations a bounded number of times, records the history in the format
of ``GetDurableExecutionHistory`` and persists every change in a store, so a
SQLite-backed service killed mid-wait carries on in a new process.

Invocations run one at a time on the calling thread; handlers reach the service
through ``durable_core.execution.use_backend``, so any API style works unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from durable_core.backends.memory import ExecutionRecord, MemoryBackend, OperationChange
from durable_core.errors import qualified_type_name
from durable_core.execution import LambdaHandler, use_backend
from durable_core.types import (
    ErrorObject,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
)

from durable_testing.clock import Clock, VirtualClock
from durable_testing.history import (
    HistoryEvent,
    append_event,
    events_for_change,
    execution_completed_event,
    execution_started_event,
    invocation_completed_event,
)
from durable_testing.stores import ExecutionStatus, ExecutionStore, MemoryStore, StoredExecution

__all__ = ["ExecutionResult", "LocalLambdaContext", "LocalService"]


_log = logging.getLogger("durable_testing.local_service")


@dataclass(frozen=True)
class LocalLambdaContext:
    """The parts of Lambda's context object a handler may read."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout_seconds: float = 900.0
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class ExecutionResult:
    """An execution as ``GetDurableExecution`` and ``GetDurableExecutionHistory`` show it.

    ``result`` is the parsed JSON result (``None`` when there is none);
    ``status`` stays ``RUNNING`` when the run stopped before the execution ended.
    """

    arn: str
    function_name: str
    status: ExecutionStatus
    result_payload: str | None
    error: ErrorObject | None
    history: list[HistoryEvent]
    operations: list[Operation]
    invocations: int

    @property
    def result(self) -> Any:
        return json.loads(self.result_payload) if self.result_payload else None

    @property
    def event_types(self) -> list[str]:
        return [event["EventType"] for event in self.history]

    def operation(self, name: str) -> Operation:
        """The operation recorded with ``name`` (the first, if several share it)."""
        for op in self.operations:
            if op.name == name:
                return op
        raise KeyError(f"no operation named {name!r} in {self.arn}")


def _error(error_type: str, message: str) -> ErrorObject:
    return ErrorObject(error_type=error_type, error_message=message)


class LocalService:
    """Runs durable handlers as Lambda would: invoke, suspend, fire timers, re-invoke.

    ``max_invocation_attempts`` consecutive crashed invocations (a handler that raises
    instead of returning a status) fail the execution, each retry ``invocation_retry_delay``
    seconds after the crash, like AWS's local runner. With ``VirtualClock`` (the
    default) every wait and delay is skipped; with ``RealClock`` the service sleeps.
    """

    def __init__(
        self,
        store: ExecutionStore | None = None,
        clock: Clock | None = None,
        *,
        max_invocation_attempts: int = 5,
        invocation_retry_delay: float = 5.0,
    ) -> None:
        self.store: ExecutionStore = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.max_invocation_attempts = max_invocation_attempts
        self.invocation_retry_delay = invocation_retry_delay
        self.backend = MemoryBackend(
            self.clock.now, on_changes=self._record_changes, on_checkpoint=self._persist
        )
        self._handlers: dict[str, LambdaHandler] = {}
        self._executions: dict[str, StoredExecution] = {}

    # -- public API ---------------------------------------------------------------

    def register(self, name: str, handler: LambdaHandler) -> None:
        """Make ``handler`` the function called ``name`` (again, in a new process)."""
        self._handlers[name] = handler

    def start(
        self, name: str, input_value: Any = None, *, execution_name: str | None = None
    ) -> str:
        """Create an execution of function ``name``; returns its ARN. Nothing runs yet."""
        if name not in self._handlers:
            raise KeyError(f"no function registered as {name!r}; call register() first")
        event = self.backend.start_execution(input_value, name=execution_name)
        arn: str = event["DurableExecutionArn"]
        record = self.backend.executions[arn]
        now = self.clock.now()
        execution = StoredExecution(
            arn=arn,
            function_name=name,
            status=ExecutionStatus.RUNNING,
            operations=list(record.operations.values()),
            token=record.token,
            token_seq=record.token_seq,
            start_timestamp=now,
            invoke_at=now,
        )
        started = execution_started_event(record.execution_operation, _execution_name(arn), now)
        append_event(execution.events, started)
        self._executions[arn] = execution
        self.store.save(execution)
        _log.info("started %s", _label(name, arn))
        return arn

    def run(
        self,
        name: str,
        input_value: Any = None,
        *,
        execution_name: str | None = None,
        timeout: float = 60.0,
    ) -> ExecutionResult:
        """Start an execution and drive it to its end."""
        arn = self.start(name, input_value, execution_name=execution_name)
        return self.run_until_complete(arn, timeout=timeout)

    def run_until_complete(self, arn: str, *, timeout: float = 60.0) -> ExecutionResult:
        """Drive one execution until it succeeds or fails.

        ``timeout`` is in wall-clock seconds (``TimeoutError`` after it). An execution
        that can only progress by an outside event (a callback) is returned ``RUNNING``.
        """
        self._load(arn)
        self._drive([arn], timeout)
        return self.describe(arn)

    def resume_all(self, *, timeout: float = 60.0) -> list[ExecutionResult]:
        """Drive every unfinished execution of the store, e.g. after a restart."""
        arns = [e.arn for e in self.store.list_executions(unfinished_only=True)]
        for arn in arns:
            self._load(arn)
        self._drive(arns, timeout)
        return [self.describe(arn) for arn in arns]

    def describe(self, arn: str) -> ExecutionResult:
        execution = self._executions.get(arn) or self.store.load(arn)
        if execution is None:
            raise KeyError(f"execution {arn} not found")
        return ExecutionResult(
            arn=execution.arn,
            function_name=execution.function_name,
            status=execution.status,
            result_payload=execution.result,
            error=execution.error,
            history=list(execution.events),
            operations=list(execution.operations),
            invocations=execution.invocations,
        )

    def history(self, arn: str) -> list[HistoryEvent]:
        return self.describe(arn).history

    # -- scheduling ---------------------------------------------------------------

    def _drive(self, arns: Iterable[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        running = set(arns)
        while True:
            running = {a for a in running if self._executions[a].status is ExecutionStatus.RUNNING}
            due = [(when, arn) for arn in running if (when := self._next_due(arn)) is not None]
            if not due:
                return
            when, arn = min(due)
            if when > self.clock.now():
                remaining = deadline - time.monotonic()
                if isinstance(self.clock, VirtualClock) or (
                    (when - self.clock.now()).total_seconds() <= remaining
                ):
                    self.clock.sleep_until(when)
                else:
                    time.sleep(max(remaining, 0))
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} did not complete within {timeout} s")
            self._step(arn)

    def _timers(self, arn: str) -> list[tuple[dt.datetime, Operation]]:
        """Service-side timers: waits to complete and step retries to make READY."""
        timers: list[tuple[dt.datetime, Operation]] = []
        for op in self.backend.operations(arn):
            if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
                end = op.wait_details.scheduled_end_timestamp if op.wait_details else None
                if end is not None:
                    timers.append((end, op))
            elif op.type is OperationType.STEP and op.status is OperationStatus.PENDING:
                at = op.step_details.next_attempt_timestamp if op.step_details else None
                timers.append((at or self.clock.now(), op))
        return timers

    def _next_due(self, arn: str) -> dt.datetime | None:
        candidates = [when for when, _ in self._timers(arn)]
        invoke_at = self._executions[arn].invoke_at
        if invoke_at is not None:
            candidates.append(invoke_at)
        return min(candidates) if candidates else None

    def _step(self, arn: str) -> None:
        """Fire whatever is due now, then invoke if an invocation is due."""
        execution = self._executions[arn]
        now = self.clock.now()
        for when, op in self._timers(arn):
            if when > now:
                continue
            if op.type is OperationType.WAIT:
                _log.info("wait %s fired", op.name or op.id)
                self.backend.complete(arn, op.id, OperationStatus.SUCCEEDED)
            else:
                _log.info("step %s is ready for its next attempt", op.name or op.id)
                self.backend.complete(arn, op.id, OperationStatus.READY)
            execution.invoke_at = now
        if execution.invoke_at is not None and execution.invoke_at <= now:
            self._invoke(execution)
        self._persist(arn)

    # -- invocations --------------------------------------------------------------

    def _invoke(self, execution: StoredExecution) -> None:
        handler = self._handlers.get(execution.function_name)
        if handler is None:
            raise KeyError(
                f"execution {execution.arn} needs function {execution.function_name!r};"
                " register it before resuming"
            )
        event = self.backend.invocation_event(execution.arn)
        request_id = str(uuid.uuid4())
        start = self.clock.now()
        execution.invocation_started_at = start
        execution.invocations += 1
        self._persist(execution.arn)
        _log.info("invocation %d of %s", execution.invocations, _label_of(execution))
        context = LocalLambdaContext(
            function_name=execution.function_name,
            aws_request_id=request_id,
            invoked_function_arn=execution.arn.split("/durable-execution/")[0],
        )
        response: Any = None
        crash: ErrorObject | None = None
        try:
            with use_backend(self.backend):
                response = handler(event, context)
        except SystemExit as exc:
            crash = _error(
                "Runtime.ExitError", f"Runtime exited with error: exit status {exc.code}"
            )
        except Exception as exc:
            crash = _error(qualified_type_name(exc), str(exc))
        execution.invocation_started_at = None
        end = self.clock.now()
        append_event(execution.events, invocation_completed_event(start, end, request_id, crash))
        if crash is not None:
            self._invocation_failed(execution, crash)
        else:
            self._apply_response(execution, response)

    def _apply_response(self, execution: StoredExecution, response: Any) -> None:
        status = response.get("Status") if isinstance(response, dict) else None
        if status == "SUCCEEDED" and isinstance(response, dict):
            if response.get("Error") is not None:
                self._complete(execution, error=_invalid("Cannot provide an Error for SUCCEEDED"))
                return
            self._complete(execution, result=response.get("Result") or execution.result)
        elif status == "FAILED" and isinstance(response, dict):
            raw = response.get("Error")
            error = ErrorObject.model_validate(raw) if isinstance(raw, dict) else execution.error
            self._complete(execution, error=error or _error("Unknown", "the handler failed"))
        elif status == "PENDING":
            execution.invoke_at = None
            if not self._timers(execution.arn) and not self._awaits_outside(execution.arn):
                self._invocation_failed(
                    execution, _invalid("PENDING returned but no operation is pending")
                )
            else:
                execution.failed_invocations = 0
                _log.info("%s suspended (PENDING)", _label_of(execution))
        else:
            self._complete(execution, error=_invalid(f"Invalid handler response: {response!r}"))

    def _awaits_outside(self, arn: str) -> bool:
        outside = (OperationType.CALLBACK, OperationType.CHAINED_INVOKE)
        return any(
            op.type in outside and not op.status.is_terminal for op in self.backend.operations(arn)
        )

    def _invocation_failed(self, execution: StoredExecution, error: ErrorObject) -> None:
        execution.failed_invocations += 1
        _log.info("invocation of %s failed: %s", _label_of(execution), error.error_message)
        if execution.failed_invocations >= self.max_invocation_attempts:
            self._complete(execution, error=error)
        else:
            delay = dt.timedelta(seconds=self.invocation_retry_delay)
            execution.invoke_at = self.clock.now() + delay

    def _complete(
        self,
        execution: StoredExecution,
        *,
        result: str | None = None,
        error: ErrorObject | None = None,
    ) -> None:
        failed = error is not None
        now = self.clock.now()
        execution.status = ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCEEDED
        execution.result = None if failed else result
        execution.error = error
        execution.end_timestamp = now
        execution.invoke_at = None
        record = self.backend.executions[execution.arn]
        op = record.execution_operation
        if not op.status.is_terminal:
            status = OperationStatus.FAILED if failed else OperationStatus.SUCCEEDED
            self.backend.complete(execution.arn, op.id, status)
            op = record.execution_operation
        event = execution_completed_event(
            op, _execution_name(execution.arn), now, result=result, error=error, failed=failed
        )
        append_event(execution.events, event)
        _log.info("%s %s", _label_of(execution), execution.status.value)

    # -- backend hooks and persistence --------------------------------------------

    def _record_changes(self, arn: str, changes: Sequence[OperationChange]) -> None:
        execution = self._executions.get(arn)
        if execution is None:
            return
        now = self.clock.now()
        for change in changes:
            update = change.update
            if update is not None and update.type is OperationType.EXECUTION:
                # A result over the response limit arrives here, with an empty Result.
                if update.action is OperationAction.SUCCEED:
                    execution.result = update.payload
                elif update.action is OperationAction.FAIL:
                    execution.error = update.error
            for event in events_for_change(change, now):
                append_event(execution.events, event)

    def _persist(self, arn: str) -> None:
        execution = self._executions.get(arn)
        if execution is None:
            return
        record = self.backend.executions[arn]
        execution.operations = list(record.operations.values())
        execution.token = record.token
        execution.token_seq = record.token_seq
        self.store.save(execution)

    def _load(self, arn: str) -> StoredExecution:
        """Bring a stored execution into this service (a new process resuming it)."""
        if arn in self._executions:
            return self._executions[arn]
        execution = self.store.load(arn)
        if execution is None:
            raise KeyError(f"execution {arn} not found")
        self._executions[arn] = execution
        self.backend.executions[arn] = ExecutionRecord(
            arn=arn,
            operations={op.id: op for op in execution.operations},
            token=execution.token,
            token_seq=execution.token_seq,
        )
        if execution.invocation_started_at is not None:
            # The service that ran this invocation stopped before it returned.
            crash = _error("Runtime.ExitError", "the local service stopped during the invocation")
            event = invocation_completed_event(
                execution.invocation_started_at, self.clock.now(), str(uuid.uuid4()), crash
            )
            execution.invocation_started_at = None
            append_event(execution.events, event)
            self._invocation_failed(execution, crash)
            if execution.status is ExecutionStatus.RUNNING:
                execution.invoke_at = self.clock.now()
            self._persist(arn)
        return execution


def _execution_name(arn: str) -> str:
    """The name in ``.../durable-execution/NAME/ID``, the service's ARN layout."""
    return arn.split("/durable-execution/")[-1].split("/")[0]


def _label(function_name: str, arn: str) -> str:
    """``function/execution-name``: an ARN is too long to read in a log line."""
    return f"{function_name}/{_execution_name(arn)}"


def _label_of(execution: StoredExecution) -> str:
    return _label(execution.function_name, execution.arn)


def _invalid(message: str) -> ErrorObject:
    return _error("InvalidParameterValueException", message)
