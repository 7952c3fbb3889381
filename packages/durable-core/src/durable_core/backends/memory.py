"""``MemoryBackend``: the durable execution service's checkpoint rules, in process.

This is the one implementation of how the service turns ``OperationUpdate``s into
``Operation``s (the allowed actions per type, the consistency of an id's type, name
and parent, attempts, timers) and of the callback API (``send_callback_success``,
``..._failure``, ``..._heartbeat``, callback timeouts). Unit tests use it directly; the
LocalService of ``durable-testing`` builds invocations, timers, chained invokes, history
and persistence on top of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from durable_core.backends.base import CheckpointResponse, StatePage
from durable_core.errors import CheckpointError
from durable_core.types import (
    CallbackDetails,
    ChainedInvokeDetails,
    ContextDetails,
    ErrorObject,
    ExecutionDetails,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
    WaitDetails,
)

__all__ = [
    "CallbackDeadline",
    "CallbackState",
    "CallbackTimeoutException",
    "ChainedInvokeState",
    "DurableExecutionAlreadyStartedException",
    "ExecutionRecord",
    "InvalidParameterValueException",
    "MemoryBackend",
    "OperationChange",
    "RecordedCall",
    "ResourceNotFoundException",
    "ServiceError",
]

_ALLOWED: dict[OperationType, frozenset[OperationAction]] = {
    OperationType.EXECUTION: frozenset({OperationAction.SUCCEED, OperationAction.FAIL}),
    OperationType.STEP: frozenset(
        {
            OperationAction.START,
            OperationAction.SUCCEED,
            OperationAction.FAIL,
            OperationAction.RETRY,
        }
    ),
    OperationType.WAIT: frozenset({OperationAction.START, OperationAction.CANCEL}),
    OperationType.CONTEXT: frozenset(
        {OperationAction.START, OperationAction.SUCCEED, OperationAction.FAIL}
    ),
    OperationType.CALLBACK: frozenset({OperationAction.START, OperationAction.CANCEL}),
    OperationType.CHAINED_INVOKE: frozenset({OperationAction.START, OperationAction.CANCEL}),
}


# boto3's CallbackId shape: base64 characters, at most 1024 of them.
_CALLBACK_ID = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_CALLBACK_ID_MAX = 1024


# CheckpointDurableExecution's limits: OperationPayload's maximum in boto3's model, and the
# error object size AWS's local runner enforces.
MAX_PAYLOAD_CHARS = 6 * 1024 * 1024
MAX_ERROR_BYTES = 32 * 1024
# How long a ClientToken is remembered: the service model's "15-minute window".
CLIENT_TOKEN_WINDOW = dt.timedelta(minutes=15)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_callback_id() -> str:
    """256 random bits in the CallbackId alphabet: whoever holds it may complete the
    callback, so it must not be guessable from the ARN, the operation id or other ids."""
    return secrets.token_urlsafe(32).replace("-", "+").replace("_", "/")


class ServiceError(Exception):
    """An error of the Lambda API itself, outside checkpoints: ``code`` is the API's error
    code (boto3 raises it as ``client.exceptions.<code>``) and ``status_code`` the HTTP
    status the API answers it with, for an HTTP front end."""

    code: str = "ServiceException"
    status_code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResourceNotFoundException(ServiceError):
    """No such execution or callback id."""

    code = "ResourceNotFoundException"
    status_code = 404


class InvalidParameterValueException(ServiceError):
    """A malformed request, e.g. a callback id outside the CallbackId pattern."""

    code = "InvalidParameterValueException"
    status_code = 400


class DurableExecutionAlreadyStartedException(ServiceError):
    """As the service model documents it: "Each durable execution name must be unique
    within the function"."""

    code = "DurableExecutionAlreadyStartedException"
    status_code = 409


class CallbackTimeoutException(ServiceError):
    """As the service model documents it: the callback "has either expired or ... has
    already been closed" (it succeeded, failed, timed out, or its execution ended)."""

    code = "CallbackTimeoutException"
    status_code = 400


@dataclass(frozen=True)
class CallbackDeadline:
    """When a started callback times out, and the error it then carries."""

    at: dt.datetime
    operation_id: str
    error: ErrorObject


# The error types and messages of AWS's service (``CallbackTimeoutType`` in its SDK).
_CALLBACK_TIMEOUT = ErrorObject(error_type="Callback.Timeout", error_message="Callback timed out")
_HEARTBEAT_TIMEOUT = ErrorObject(
    error_type="Callback.Heartbeat", error_message="Callback timed out on heartbeat"
)


@dataclass(frozen=True, slots=True)
class OperationChange:
    """One applied transition: the operation before (None when new) and after."""

    before: Operation | None
    after: Operation
    update: OperationUpdate | None = None


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One CheckpointDurableExecution call as the backend received it."""

    execution_arn: str
    updates: tuple[OperationUpdate, ...]


@dataclass
class CallbackState:
    """What the service keeps about one callback beyond its Operation: its CallbackOptions
    and the last heartbeat, from which its deadlines follow."""

    operation_id: str
    started_at: dt.datetime
    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None
    last_heartbeat: dt.datetime | None = None

    def deadline(self) -> CallbackDeadline | None:
        """The earliest of the overall and the heartbeat deadline (None: it never times out)."""
        candidates = []
        if self.timeout_seconds:
            at = self.started_at + dt.timedelta(seconds=self.timeout_seconds)
            candidates.append(CallbackDeadline(at, self.operation_id, _CALLBACK_TIMEOUT))
        if self.heartbeat_timeout_seconds:
            since = self.last_heartbeat or self.started_at
            at = since + dt.timedelta(seconds=self.heartbeat_timeout_seconds)
            candidates.append(CallbackDeadline(at, self.operation_id, _HEARTBEAT_TIMEOUT))
        return min(candidates, key=lambda d: d.at) if candidates else None


@dataclass
class ChainedInvokeState:
    """A CHAINED_INVOKE's target as the service recorded it at START; ``child_arn`` is the
    durable execution that runs it, once the service has started one."""

    function_name: str
    tenant_id: str | None = None
    payload: str | None = None
    child_arn: str | None = None


@dataclass(frozen=True)
class _Answer:
    """A checkpoint call answered under a ClientToken: what was asked, what was answered."""

    checkpoint_token: str
    updates: tuple[OperationUpdate, ...]
    response: CheckpointResponse
    at: dt.datetime


@dataclass
class ExecutionRecord:
    """The service-side state of one execution: its operations in creation order, and what
    the service keeps beside them: callbacks by CallbackId, chained invokes by operation id.

    ``lock`` guards the record: calls on different executions never wait for each other
    (the backend's hooks run under it, so one execution's changes are reported in order).
    ``answers`` are the calls answered under a ClientToken in the last
    ``CLIENT_TOKEN_WINDOW``, oldest first."""

    arn: str
    operations: dict[str, Operation] = field(default_factory=dict)
    token: str = ""
    token_seq: int = 0
    callbacks: dict[str, CallbackState] = field(default_factory=dict)
    chained_invokes: dict[str, ChainedInvokeState] = field(default_factory=dict)
    # Operations the service changed since the last invocation (UpdatedOperationIds).
    updated_ids: list[str] = field(default_factory=list)
    answers: OrderedDict[str, _Answer] = field(default_factory=OrderedDict, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, compare=False, repr=False)

    @property
    def execution_operation(self) -> Operation:
        return next(iter(self.operations.values()))


class MemoryBackend:
    """An in-process durable execution service for one or many executions.

    ``start_execution`` returns the Lambda event of the first invocation;
    ``invocation_event`` the event of any later one. ``calls`` lists every checkpoint
    call received, in order, which is what parity and batching tests compare.
    """

    def __init__(
        self,
        clock: Callable[[], dt.datetime] = _utcnow,
        *,
        page_size: int = 1000,
        on_changes: Callable[[str, Sequence[OperationChange]], None] | None = None,
        on_checkpoint: Callable[[str], None] | None = None,
        resolve_function: Callable[[str], ErrorObject | None] | None = None,
        record_calls: bool = True,
    ) -> None:
        """``on_changes`` sees every applied transition and ``on_checkpoint`` every accepted
        call, under the execution's lock, so concurrent checkpoints are reported in the
        order they were applied (the local service builds its history and persists from
        them).

        ``resolve_function`` checks a CHAINED_INVOKE target at START, as the service does
        before it schedules anything: an error it returns fails the operation in the
        checkpoint response itself. Without it every target is accepted (STARTED).

        ``record_calls=False`` keeps ``calls`` empty (a long-running service would
        otherwise hold every update it ever received)."""
        self.clock = clock
        self.page_size = page_size
        self._on_changes = on_changes
        self._on_checkpoint = on_checkpoint
        self._resolve_function = resolve_function
        self.executions: dict[str, ExecutionRecord] = {}
        self.calls: list[RecordedCall] = []
        self._record_calls = record_calls
        # Guards ``executions`` as a whole (new executions); each record has its own lock.
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # -- execution lifecycle ------------------------------------------------------

    def start_execution(
        self,
        input_value: Any = None,
        *,
        name: str | None = None,
        input_payload: str | None = None,
        function_name: str = "local",
    ) -> dict[str, Any]:
        """Create an execution with its EXECUTION operation; returns the first event."""
        with self._lock:
            seq = next(self._ids)
            execution_name = name or f"execution-{seq}"
            # As the service does: the EXECUTION operation's id is the ARN's last segment.
            invocation_id = secrets.token_hex(16)
            arn = (
                f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}:$LATEST"
                f"/durable-execution/{execution_name}/{invocation_id}"
            )
            payload = input_payload if input_payload is not None else json.dumps(input_value)
            record = ExecutionRecord(arn=arn)
            record.operations[invocation_id] = Operation(
                id=invocation_id,
                type=OperationType.EXECUTION,
                status=OperationStatus.STARTED,
                start_timestamp=self.clock(),
                execution_details=ExecutionDetails(input_payload=payload),
            )
            self.executions[arn] = record
            return self.invocation_event(arn)

    def invocation_event(self, arn: str) -> dict[str, Any]:
        """The Lambda event of the next invocation: a fresh token and the first page of state."""
        record = self._record(arn)
        with record.lock:
            self._new_token(record)
            page = self.get_state(arn, record.token, "")
            updated, record.updated_ids = record.updated_ids, []
            return {
                "DurableExecutionArn": arn,
                "CheckpointToken": record.token,
                "InitialExecutionState": {
                    "Operations": [op.to_event_json() for op in page.operations],
                    "NextMarker": page.next_marker or "",
                },
                "UpdatedOperationIds": updated,
            }

    def operations(self, arn: str) -> list[Operation]:
        record = self._record(arn)
        with record.lock:
            return list(record.operations.values())

    # -- DurableBackend -----------------------------------------------------------

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        record = self._record(execution_arn)
        with record.lock:
            if client_token is not None:
                answered = self._answered(record, client_token, checkpoint_token, updates)
                if answered is not None:
                    return answered
            if checkpoint_token != record.token:
                raise CheckpointError(
                    "Invalid checkpoint token: it is not the newest token of this execution",
                    retryable=False,
                    error_code="InvalidParameterValueException",
                )
            ended = record.execution_operation.status
            if ended.is_terminal:
                # As AWS's runner: an ended execution (stopped while an invocation ran, or
                # completed by it) takes no more checkpoints.
                raise CheckpointError(
                    f"Invalid checkpoint token: the execution has ended ({ended.value})",
                    retryable=False,
                    error_code="InvalidParameterValueException",
                )
            if self._record_calls:
                self.calls.append(RecordedCall(execution_arn, tuple(updates)))
            changes = self.apply(execution_arn, updates)
            self._new_token(record)
            if self._on_checkpoint is not None:
                self._on_checkpoint(execution_arn)
            response = CheckpointResponse(
                checkpoint_token=record.token, operations=[c.after for c in changes]
            )
            if client_token is not None:
                record.answers[client_token] = _Answer(
                    checkpoint_token, tuple(updates), response, self.clock()
                )
            return response

    def _answered(
        self,
        record: ExecutionRecord,
        client_token: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
    ) -> CheckpointResponse | None:
        """The answer already given under ``client_token`` in the window (a retry whose
        answer was lost gets it again, nothing is applied twice); ``None`` for a new token.
        A token reused for another request is refused: applying it would lose or duplicate
        what the caller meant."""
        now = self.clock()
        while record.answers:
            oldest = next(iter(record.answers.values()))
            if now - oldest.at <= CLIENT_TOKEN_WINDOW:
                break
            record.answers.popitem(last=False)
        answer = record.answers.get(client_token)
        if answer is None:
            return None
        if answer.checkpoint_token != checkpoint_token or answer.updates != tuple(updates):
            raise CheckpointError(
                f"ClientToken {client_token} was already used for a different request",
                retryable=False,
                error_code="InvalidParameterValueException",
            )
        return answer.response

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        record = self._record(execution_arn)
        with record.lock:
            if checkpoint_token != record.token:
                raise CheckpointError(
                    "Invalid checkpoint token",
                    retryable=False,
                    error_code="InvalidParameterValueException",
                )
            if marker and not marker.isdigit():
                raise CheckpointError(
                    f"Invalid Marker {marker!r}",
                    retryable=False,
                    error_code="InvalidParameterValueException",
                )
            ops = list(record.operations.values())
            start = int(marker) if marker else 0
            end = start + self.page_size
            return StatePage(ops[start:end], str(end) if end < len(ops) else None)

    # -- the service's rules ------------------------------------------------------

    def apply(self, arn: str, updates: Sequence[OperationUpdate]) -> list[OperationChange]:
        """Validate every update first, then apply them all (a call is all or nothing)."""
        record = self._record(arn)
        with record.lock:
            staged: dict[str, Operation] = {}
            changes: list[OperationChange] = []
            for update in updates:
                current = staged.get(update.id) or record.operations.get(update.id)
                if update.type is OperationType.EXECUTION:
                    current = record.execution_operation
                self._validate(record, update, current, staged)
                after = self._transition(update, current)
                staged[after.id] = after
                changes.append(OperationChange(current, after, update))
            record.operations.update(staged)
            for change in changes:
                self._remember(record, change)
            if self._on_changes is not None:
                self._on_changes(arn, changes)
            return changes

    def set_operation(self, arn: str, operation: Operation) -> OperationChange:
        """Service-side transition (a timer fired, a callback arrived): replace an operation."""
        record = self._record(arn)
        with record.lock:
            change = OperationChange(record.operations.get(operation.id), operation)
            record.operations[operation.id] = operation
            if operation.id not in record.updated_ids:
                record.updated_ids.append(operation.id)
            if self._on_changes is not None:
                self._on_changes(arn, [change])
            return change

    def _validate(
        self,
        record: ExecutionRecord,
        update: OperationUpdate,
        current: Operation | None,
        staged: dict[str, Operation],
    ) -> None:
        def reject(reason: str) -> None:
            raise CheckpointError(
                f"Invalid {update.action.value} of {update.type.value} {update.id}: {reason}",
                retryable=False,
                error_code="InvalidParameterValueException",
            )

        if update.payload is not None and len(update.payload) > MAX_PAYLOAD_CHARS:
            reject(
                f"Payload is {len(update.payload)} characters; the maximum is {MAX_PAYLOAD_CHARS}"
            )
        if update.error is not None:
            error_size = len(json.dumps(update.error.to_wire()))
            if error_size > MAX_ERROR_BYTES:
                reject(f"Error is {error_size} bytes; the maximum is {MAX_ERROR_BYTES}")
        if update.action not in _ALLOWED[update.type]:
            reject(f"{update.type.value} operations do not accept {update.action.value}")
        if update.type is OperationType.EXECUTION:
            if current is not None and current.status.is_terminal:
                reject("the execution has already completed")
            return
        if current is None:
            if update.action is not OperationAction.START and not (
                update.type in (OperationType.STEP, OperationType.CONTEXT)
                and update.action in (OperationAction.SUCCEED, OperationAction.FAIL)
            ):
                reject("the operation does not exist; it must be started first")
            parent = update.parent_id
            if parent and parent not in staged and parent not in record.operations:
                reject(f"parent {update.parent_id} does not exist")
            if update.type is OperationType.WAIT and update.wait_options is None:
                reject("WaitOptions are required")
            if update.type is OperationType.CHAINED_INVOKE and (
                update.chained_invoke_options is None
            ):
                reject("ChainedInvokeOptions are required")
            return
        if current.type is not update.type:
            reject(f"the id belongs to a {current.type.value} operation")
        if (current.name or None) != (update.name or None):
            reject(f"the id was recorded with name {current.name!r}")
        if (current.parent_id or None) != (update.parent_id or None):
            reject(f"the id was recorded with parent {current.parent_id!r}")
        if current.status.is_terminal:
            reject(f"the operation has already completed ({current.status.value})")
        if update.action is OperationAction.START and current.status not in (
            OperationStatus.READY,
            OperationStatus.STARTED,
        ):
            reject(f"cannot start an operation that is {current.status.value}")

    def _transition(self, update: OperationUpdate, current: Operation | None) -> Operation:
        now = self.clock()
        action = update.action
        status = {
            OperationAction.START: OperationStatus.STARTED,
            OperationAction.SUCCEED: OperationStatus.SUCCEEDED,
            OperationAction.FAIL: OperationStatus.FAILED,
            OperationAction.RETRY: OperationStatus.PENDING,
            OperationAction.CANCEL: OperationStatus.CANCELLED,
        }[action]
        base: dict[str, Any] = {
            "id": update.id,
            "parent_id": update.parent_id,
            "name": update.name,
            "type": update.type,
            "sub_type": update.sub_type,
            "status": status,
            "start_timestamp": current.start_timestamp if current else now,
            "end_timestamp": now if status.is_terminal else None,
        }
        if update.type is OperationType.EXECUTION:
            assert current is not None
            base.update(
                id=current.id,
                parent_id=None,
                name=current.name,
                sub_type=current.sub_type,
                execution_details=current.execution_details,
            )
        elif update.type is OperationType.STEP:
            attempt = (current.step_details.attempt or 0) if current and current.step_details else 0
            next_at = None
            if action is not OperationAction.START:
                attempt += 1
            if action is OperationAction.RETRY:
                delay = update.step_options.next_attempt_delay_seconds if update.step_options else 0
                next_at = now + dt.timedelta(seconds=delay or 0)
            base["step_details"] = StepDetails(
                attempt=attempt,
                next_attempt_timestamp=next_at,
                result=update.payload,
                error=update.error,
            )
        elif update.type is OperationType.WAIT:
            if current is not None:
                base["wait_details"] = current.wait_details
            else:
                assert update.wait_options is not None
                base["wait_details"] = WaitDetails(
                    scheduled_end_timestamp=now
                    + dt.timedelta(seconds=update.wait_options.wait_seconds)
                )
        elif update.type is OperationType.CONTEXT:
            base["context_details"] = ContextDetails(
                replay_children=(update.context_options.replay_children or None)
                if update.context_options
                else None,
                result=update.payload,
                error=update.error,
            )
        elif update.type is OperationType.CALLBACK:
            callback_id = (
                current.callback_details.callback_id
                if current and current.callback_details
                else _new_callback_id()
            )
            base["callback_details"] = CallbackDetails(callback_id=callback_id)
        elif update.type is OperationType.CHAINED_INVOKE:
            error = None
            if current is None and update.chained_invoke_options and self._resolve_function:
                error = self._resolve_function(update.chained_invoke_options.function_name)
            if error is not None:
                base.update(status=OperationStatus.FAILED, end_timestamp=now)
            base["chained_invoke_details"] = ChainedInvokeDetails(error=error)
        return Operation(**base)

    def _remember(self, record: ExecutionRecord, change: OperationChange) -> None:
        """Keep what the service needs beyond the Operation when a callback or an invoke starts."""
        op, update = change.after, change.update
        if change.before is not None or update is None:
            return
        if op.type is OperationType.CALLBACK and op.callback_details:
            options = update.callback_options
            record.callbacks[op.callback_details.callback_id or ""] = CallbackState(
                operation_id=op.id,
                started_at=op.start_timestamp or self.clock(),
                timeout_seconds=options.timeout_seconds if options else None,
                heartbeat_timeout_seconds=options.heartbeat_timeout_seconds if options else None,
            )
        elif op.type is OperationType.CHAINED_INVOKE and update.chained_invoke_options:
            record.chained_invokes[op.id] = ChainedInvokeState(
                function_name=update.chained_invoke_options.function_name,
                tenant_id=update.chained_invoke_options.tenant_id,
                payload=update.payload,
            )

    # -- service-side transitions -------------------------------------------------

    def complete(
        self,
        arn: str,
        operation_id: str,
        status: OperationStatus,
        *,
        result: str | None = None,
        error: ErrorObject | None = None,
    ) -> OperationChange:
        """Move an operation to ``status`` as the service does (wait fired, step retry due)."""
        record = self._record(arn)
        with record.lock:
            current = record.operations[operation_id]
            changes: dict[str, Any] = {"status": status}
            if status.is_terminal:
                changes["end_timestamp"] = self.clock()
            if current.type is OperationType.CALLBACK and current.callback_details:
                changes["callback_details"] = dataclasses.replace(
                    current.callback_details, result=result, error=error
                )
            if current.type is OperationType.CHAINED_INVOKE:
                changes["chained_invoke_details"] = ChainedInvokeDetails(result=result, error=error)
            return self.set_operation(arn, dataclasses.replace(current, **changes))

    def fire_timers(self, arn: str, until: dt.datetime | None = None) -> list[OperationChange]:
        """What the service does as time passes: started waits whose end is due succeed,
        pending step retries whose next attempt is due become READY, started callbacks
        whose deadline is due time out (``Callback.Timeout`` or ``Callback.Heartbeat``).

        ``until=None`` fires every timer, as if all the time needed had passed (a callback
        without a timeout still waits for its answer).
        """
        record = self._record(arn)
        with record.lock:
            changes = []
            for deadline in self.callback_deadlines(arn):
                if until is None or deadline.at <= until:
                    changes.append(
                        self.complete(
                            arn,
                            deadline.operation_id,
                            OperationStatus.TIMED_OUT,
                            error=deadline.error,
                        )
                    )
            for op in list(record.operations.values()):
                if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
                    due = op.wait_details.scheduled_end_timestamp if op.wait_details else None
                    if until is None or due is None or due <= until:
                        changes.append(self.complete(arn, op.id, OperationStatus.SUCCEEDED))
                elif op.type is OperationType.STEP and op.status is OperationStatus.PENDING:
                    due = op.step_details.next_attempt_timestamp if op.step_details else None
                    if until is None or due is None or due <= until:
                        changes.append(self.complete(arn, op.id, OperationStatus.READY))
            return changes

    # -- the callback API ---------------------------------------------------------

    def callback_deadlines(self, arn: str) -> list[CallbackDeadline]:
        """The next deadline of every started callback of ``arn`` that has one, earliest first."""
        record = self._record(arn)
        with record.lock:
            deadlines = [
                deadline
                for state in record.callbacks.values()
                if record.operations[state.operation_id].status is OperationStatus.STARTED
                and (deadline := state.deadline()) is not None
            ]
            return sorted(deadlines, key=lambda d: d.at)

    def send_callback_success(self, callback_id: str, result: str | None) -> str:
        """SendDurableExecutionCallbackSuccess: the callback SUCCEEDS with ``result`` (the
        API's Result blob, as text). Returns the ARN of its execution, which the service
        then invokes again."""
        arn, record = self._callback_record(callback_id)
        with record.lock:
            op = self._open_callback(callback_id, record)
            self.complete(arn, op.id, OperationStatus.SUCCEEDED, result=result)
            return arn

    def send_callback_failure(self, callback_id: str, error: ErrorObject) -> str:
        """SendDurableExecutionCallbackFailure: the callback FAILS with ``error``."""
        arn, record = self._callback_record(callback_id)
        with record.lock:
            op = self._open_callback(callback_id, record)
            self.complete(arn, op.id, OperationStatus.FAILED, error=error)
            return arn

    def send_callback_heartbeat(self, callback_id: str) -> str:
        """SendDurableExecutionCallbackHeartbeat: restart the heartbeat timeout from now.
        Adds no event and changes no operation (a callback without a heartbeat timeout
        accepts it too)."""
        arn, record = self._callback_record(callback_id)
        with record.lock:
            self._open_callback(callback_id, record)
            record.callbacks[callback_id].last_heartbeat = self.clock()
            return arn

    def _callback_record(self, callback_id: str) -> tuple[str, ExecutionRecord]:
        """The execution a callback id belongs to, or the API's error for a malformed or
        unknown id."""
        if len(callback_id) > _CALLBACK_ID_MAX or not _CALLBACK_ID.fullmatch(callback_id):
            raise InvalidParameterValueException(
                "CallbackId must be 1 to 1024 characters matching [A-Za-z0-9+/]+={0,2}"
            )
        with self._lock:
            records = list(self.executions.items())
        for arn, record in records:
            if callback_id in record.callbacks:
                return arn, record
        raise ResourceNotFoundException(f"Callback {callback_id} not found")

    def _open_callback(self, callback_id: str, record: ExecutionRecord) -> Operation:
        """The operation of a callback that may still be completed (under its execution's
        lock), or ``CallbackTimeoutException`` for a callback already closed."""
        op = record.operations[record.callbacks[callback_id].operation_id]
        if op.status is not OperationStatus.STARTED:
            raise CallbackTimeoutException(
                f"Callback {callback_id} is already closed ({op.status.value})"
            )
        if record.execution_operation.status.is_terminal:
            raise CallbackTimeoutException(
                f"Callback {callback_id} is closed: its execution has ended"
            )
        return op

    def _record(self, arn: str) -> ExecutionRecord:
        try:
            return self.executions[arn]
        except KeyError:
            raise CheckpointError(
                f"Execution {arn} not found",
                retryable=False,
                error_code="ResourceNotFoundException",
            ) from None

    def _new_token(self, record: ExecutionRecord) -> None:
        record.token_seq += 1
        # The API's CheckpointToken alphabet is [A-Za-z0-9+/]+={0,2}.
        record.token = f"{record.token_seq}x{secrets.token_hex(8)}"
