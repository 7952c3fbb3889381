"""``LocalService``: what Lambda and the durable execution service do, in this process.

It starts executions, invokes registered handlers with the event the service would
send, applies their checkpoints with ``MemoryBackend``'s rules (the one
implementation of them), fires wait timers, step retries and callback timeouts when
due, takes callback answers (``send_callback_success|failure|heartbeat``), runs
chained invokes as executions of their own, re-invokes crashed invocations a bounded
number of times, records the history in the format of ``GetDurableExecutionHistory``
and persists every change in a store, so a SQLite-backed service killed mid-wait
carries on in a new process.

Invocations run on the thread that drives them (``run``, ``run_until_complete``,
``resume_all``), one at a time per execution; handlers reach the service through
``durable_core.execution.use_backend`` (``handler_backend``), so any API style works
unchanged. Each execution has its own lock (its backend record's), held only around
its bookkeeping and never while a handler runs: a handler may call back into the
service from any thread (checkpoints, a callback answer, a new execution), directly or
through the HTTP server, and calls on one execution never wait for another's. A
callback answered while its execution is being invoked is recorded when it arrives
(that invocation's checkpoints see it, as on the service) and the execution is invoked
again once the invocation returns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from durable_core.backends.memory import (
    DurableExecutionAlreadyStartedException,
    ExecutionRecord,
    InvalidParameterValueException,
    MemoryBackend,
    OperationChange,
    ResourceNotFoundException,
)
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

__all__ = [
    "ExecutionResult",
    "LocalLambdaContext",
    "LocalService",
    "PendingCallback",
    "UnregisteredFunctionError",
]


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


@dataclass(frozen=True)
class PendingCallback:
    """A callback waiting for its answer: give ``callback_id`` to whoever will send it."""

    callback_id: str
    operation_id: str
    name: str | None
    parent_id: str | None
    deadline: dt.datetime | None


class UnregisteredFunctionError(KeyError):
    """An execution (or a start) names a function no handler is registered for here."""

    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(message)
        self.function_name = function_name

    def __str__(self) -> str:
        return str(self.args[0])


def _error(error_type: str, message: str) -> ErrorObject:
    return ErrorObject(error_type=error_type, error_message=message)


@dataclass
class _Invocation:
    """One handler call, between its start (recorded, persisted) and its outcome."""

    request_id: str
    start: dt.datetime
    event: dict[str, Any]
    context: LocalLambdaContext
    response: Any = None
    crash: ErrorObject | None = None


class LocalService:
    """Runs durable handlers as Lambda would: invoke, suspend, fire timers, re-invoke.

    ``max_invocation_attempts`` consecutive crashed invocations (a handler that raises
    instead of returning a status) fail the execution, each retry ``invocation_retry_delay``
    seconds after the crash, like AWS's local runner. An invocation cut short because the
    service's own process stopped (found when a new service loads the execution) is
    invoked again at once and never counted. With ``VirtualClock`` (the
    default) every wait and delay is skipped; with ``RealClock`` the service sleeps.

    A ``ctx.invoke`` (CHAINED_INVOKE) names a function: the one registered under that
    name, or under the function-name part of a Lambda ARN, runs as an execution of its
    own in this service, and its result or error completes the caller's operation. An
    unknown name fails the operation at once with ``ResourceNotFoundException``.

    ``keep_finished=False`` (a long-running server, ``durable serve``) drops an execution
    from memory once it has ended and is saved, and records no ``backend.calls``: memory
    stays bounded however many executions run, and what ended is read from the store.
    """

    def __init__(
        self,
        store: ExecutionStore | None = None,
        clock: Clock | None = None,
        *,
        max_invocation_attempts: int = 5,
        invocation_retry_delay: float = 5.0,
        keep_finished: bool = True,
    ) -> None:
        self.store: ExecutionStore = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.max_invocation_attempts = max_invocation_attempts
        self.invocation_retry_delay = invocation_retry_delay
        self.keep_finished = keep_finished
        self.backend = MemoryBackend(
            self.clock.now,
            record_calls=keep_finished,
            on_changes=self._record_changes,
            on_checkpoint=self._persist,
            resolve_function=self._check_function,
        )
        self._handlers: dict[str, LambdaHandler] = {}
        self._handler_specs: dict[str, str] = {}
        self._executions: dict[str, StoredExecution] = {}
        # Guards the registry (``_executions``, ``_invoking``) and nothing else: no other
        # lock is taken while it is held. An execution's ``StoredExecution`` and backend
        # record are guarded by that record's lock (``_locked``), which the backend holds
        # while it reports a checkpoint's changes. The lock of a chained execution may be
        # held while its caller's is taken, never the reverse (but for an execution being
        # created, which nobody else can hold yet).
        self._lock = threading.RLock()
        self._invocation_ended = threading.Condition(self._lock)
        self._invoking: set[str] = set()
        # Makes a name's uniqueness check and its execution's creation one step.
        self._starting = threading.Lock()
        # The highest N of the names ``execution-N`` each function has used, found in the
        # store on the function's first unnamed start: a process on a store that an
        # earlier one wrote goes on from there instead of reusing its names.
        self._last_generated: dict[str, int] = {}
        self._naming = threading.Lock()
        self.handler_backend = self.backend
        """What handlers (``use_backend``) and the HTTP server checkpoint through."""

    # -- public API ---------------------------------------------------------------

    def register(self, name: str, handler: LambdaHandler, *, spec: str | None = None) -> None:
        """Make ``handler`` the function called ``name`` (again, in a new process).

        ``spec`` (``MODULE:HANDLER``) is where it was loaded from: the executions started
        here record it, so another process can load the handler and resume them.
        """
        self._handlers[name] = handler
        if spec is not None:
            self._handler_specs[name] = spec

    def registered(self) -> Mapping[str, LambdaHandler]:
        """The registered functions by name (a read-only view): what may be started."""
        return MappingProxyType(self._handlers)

    def start(
        self, name: str, input_value: Any = None, *, execution_name: str | None = None
    ) -> str:
        """Create an execution of function ``name``; returns its ARN. Nothing runs yet.

        An ``execution_name`` the function has already used raises
        ``DurableExecutionAlreadyStartedException``, as the service does."""
        if name not in self._handlers:
            raise UnregisteredFunctionError(
                name, f"no function registered as {name!r}; call register() first"
            )
        if execution_name is None:
            return self._create(name, json.dumps(input_value))
        with self._starting:
            for summary in self.store.summaries(name):
                if _execution_name(summary.arn) == execution_name:
                    raise DurableExecutionAlreadyStartedException(
                        f"Execution {execution_name!r} of {name} has already been started"
                        f" ({summary.arn}); each durable execution name must be unique"
                        " within the function"
                    )
            arn = self._create(name, json.dumps(input_value), execution_name)
        self._note_name(name, execution_name)
        return arn

    def _create(
        self,
        name: str,
        input_payload: str,
        execution_name: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> str:
        """Create an execution; ``parent`` is the (ARN, operation id) of the chained invoke
        it completes."""
        if execution_name is None:
            execution_name = self._generated_name(name)
        event = self.backend.start_execution(
            name=execution_name, input_payload=input_payload, function_name=name
        )
        arn: str = event["DurableExecutionArn"]
        record = self.backend.executions[arn]
        with record.lock:
            return self._record_new(record, name, parent)

    def _generated_name(self, function: str) -> str:
        """``execution-N``, N past every name of that form ``function`` has used: names are
        unique within a function, also across processes on one SQLite store."""
        with self._naming:
            last = self._last_generated.get(function)
            if last is None:
                names = (_execution_name(s.arn) for s in self.store.summaries(function))
                numbers = (_GENERATED_NAME.fullmatch(n) for n in names)
                last = max((int(m.group(1)) for m in numbers if m), default=0)
            self._last_generated[function] = last + 1
            return f"execution-{last + 1}"

    def _note_name(self, function: str, execution_name: str) -> None:
        """A name given by the caller in the generated form moves the generated ones past it."""
        match = _GENERATED_NAME.fullmatch(execution_name)
        with self._naming:
            last = self._last_generated.get(function)
            if match and last is not None:
                self._last_generated[function] = max(last, int(match.group(1)))

    def _record_new(
        self, record: ExecutionRecord, name: str, parent: tuple[str, str] | None
    ) -> str:
        arn = record.arn
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
            parent_arn=parent[0] if parent else None,
            parent_operation_id=parent[1] if parent else None,
            handler=self._handler_specs.get(name),
        )
        started = execution_started_event(record.execution_operation, _execution_name(arn), now)
        append_event(execution.events, started)
        with self._lock:
            self._executions[arn] = execution
        self.store.save(execution)
        execution.changed_operations = {}
        _log.info("started %s", _label(name, arn))
        return arn

    def run(
        self,
        name: str,
        input_value: Any = None,
        *,
        execution_name: str | None = None,
        timeout: float = 60.0,
        time_out_callbacks: bool = False,
    ) -> ExecutionResult:
        """Start an execution and drive it to its end (see ``run_until_complete``)."""
        arn = self.start(name, input_value, execution_name=execution_name)
        return self.run_until_complete(arn, timeout=timeout, time_out_callbacks=time_out_callbacks)

    def run_until_complete(
        self,
        arn: str,
        *,
        timeout: float = 60.0,
        until: dt.datetime | None = None,
        time_out_callbacks: bool = False,
    ) -> ExecutionResult:
        """Drive one execution (and the executions its chained invokes started) until it
        succeeds or fails.

        ``timeout`` is in wall-clock seconds (``TimeoutError`` after it). An execution
        that can only progress by an outside event (a callback) is returned ``RUNNING``.
        With ``until`` nothing due after that instant runs (it is returned ``RUNNING``):
        a test can then answer a callback before a later timer fires.

        On a ``VirtualClock`` waits and retry delays are skipped, but an execution's time
        never reaches the deadline (timeout or heartbeat timeout) of its callback that is
        still open, since the answer may yet come: the execution is returned ``RUNNING``
        there, and what it has due later waits with it. ``time_out_callbacks=True`` (or an
        ``until`` past the deadline) lets its time run on, so unanswered callbacks time
        out as on the service. On a ``RealClock`` deadlines fire when really due.
        """
        self._load(arn)
        try:
            self._drive([arn], timeout, until, time_out_callbacks)
            return self.describe(arn)
        finally:
            self._forget_if_finished(arn)

    def resume_all(
        self, *, timeout: float = 60.0, time_out_callbacks: bool = False
    ) -> list[ExecutionResult]:
        """Drive every unfinished execution of the store, e.g. after a restart (callback
        deadlines as in ``run_until_complete``)."""
        arns = [e.arn for e in self.store.list_executions(unfinished_only=True)]
        for arn in arns:
            self._load(arn)
        try:
            self._drive(arns, timeout, time_out_callbacks=time_out_callbacks)
            return [self.describe(arn) for arn in arns]
        finally:
            for arn in arns:
                self._forget_if_finished(arn)

    def describe(self, arn: str) -> ExecutionResult:
        with self._lock:
            loaded = self._executions.get(arn)
            record = self.backend.executions.get(arn)
        if loaded is None or record is None:
            return self._result(self.store.load(arn), arn)
        with record.lock:
            return self._result(loaded, arn)

    def _result(self, execution: StoredExecution | None, arn: str) -> ExecutionResult:
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

    def unfinished(self) -> list[str]:
        """The ARNs of the executions loaded in this service that have not ended (those it
        started or resumed; ``resume_all`` loads a store's others)."""
        with self._lock:
            return [
                arn
                for arn, execution in self._executions.items()
                if execution.status is ExecutionStatus.RUNNING
            ]

    def history(self, arn: str) -> list[HistoryEvent]:
        return self.describe(arn).history

    # -- callbacks ----------------------------------------------------------------

    def stop(self, arn: str, error: ErrorObject | None = None) -> dt.datetime:
        """StopDurableExecution: end a running execution as STOPPED; returns when it stopped.

        Its pending timers and callbacks are abandoned; a chained invoke waiting on it
        ends STOPPED too.
        """
        try:
            with self._held(arn) as execution:
                if execution.status is not ExecutionStatus.RUNNING:
                    raise InvalidParameterValueException(
                        f"Execution {arn} has already ended ({execution.status.value})"
                    )
                self._complete(execution, error=error, status=ExecutionStatus.STOPPED)
                self._persist(arn)
                assert execution.end_timestamp is not None
                return execution.end_timestamp
        finally:
            self._forget_if_finished(arn)

    def callbacks(self, arn: str) -> list[PendingCallback]:
        """The callbacks of ``arn`` still waiting for an answer, in creation order."""
        try:
            with self._held(arn):
                record = self.backend.executions[arn]
                deadlines = {d.operation_id: d.at for d in self.backend.callback_deadlines(arn)}
                return [
                    PendingCallback(
                        callback_id=callback_id,
                        operation_id=state.operation_id,
                        name=op.name,
                        parent_id=op.parent_id,
                        deadline=deadlines.get(op.id),
                    )
                    for callback_id, state in record.callbacks.items()
                    if (op := record.operations[state.operation_id]).status
                    is OperationStatus.STARTED
                ]
        finally:
            self._forget_if_finished(arn)

    def send_callback_success(
        self, callback_id: str, result: Any = None, *, payload: str | bytes | None = None
    ) -> None:
        """SendDurableExecutionCallbackSuccess, and queue the execution for invocation.

        ``result`` is any JSON-serialisable value, sent as its JSON text (what the SDKs'
        default serdes reads back); ``payload`` is the API's raw Result blob instead, sent
        as is (the way to send a JSON ``null`` is ``payload="null"``). With neither the
        callback succeeds without a result. Raises ``ServiceError``:
        ``ResourceNotFoundException`` for an unknown id, ``CallbackTimeoutException`` for
        a callback already closed, ``InvalidParameterValueException`` for a malformed id.
        """
        if payload is None and result is not None:
            payload = json.dumps(result)
        text = payload.decode() if isinstance(payload, bytes) else payload
        self._answer(callback_id, lambda: self.backend.send_callback_success(callback_id, text))

    def send_callback_failure(
        self,
        callback_id: str,
        error_type: str | None = None,
        error_message: str | None = None,
        error_data: str | None = None,
    ) -> None:
        """SendDurableExecutionCallbackFailure with this ErrorObject, and queue the
        execution for invocation. Raises as ``send_callback_success``."""
        error = ErrorObject(
            error_type=error_type, error_message=error_message, error_data=error_data
        )
        self._answer(callback_id, lambda: self.backend.send_callback_failure(callback_id, error))

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """SendDurableExecutionCallbackHeartbeat: the heartbeat timeout restarts from now.
        Raises as ``send_callback_success``."""
        self._answer(callback_id, lambda: self.backend.send_callback_heartbeat(callback_id))

    def _answer(self, callback_id: str, send: Callable[[], str]) -> None:
        """Apply a callback API call; the backend's change hook queues the invocation."""
        try:
            arn = send()
        except ResourceNotFoundException:
            # The id may belong to a stored execution this process has not loaded yet.
            owner = self.store.callback_execution(callback_id)
            if owner is None:
                raise
            self._load(owner)
            try:
                arn = send()
            finally:
                self._forget_if_finished(owner)
        record = self.backend.executions.get(arn)
        if record is not None:  # else it ended meanwhile, and was saved and forgotten
            with record.lock:
                self._persist(arn)

    # -- chained invokes ----------------------------------------------------------

    def _function_named(self, function_name: str) -> str | None:
        """The registered name ``function_name`` designates: itself, or the name part of
        ``[arn:aws:lambda:REGION:ACCOUNT:function:]NAME[:QUALIFIER]``."""
        if function_name in self._handlers:
            return function_name
        parts = function_name.split(":")
        if "function" in parts:
            parts = parts[parts.index("function") + 1 :]
        candidate = parts[0] if parts else ""
        return candidate if candidate in self._handlers else None

    def _check_function(self, function_name: str) -> ErrorObject | None:
        if self._function_named(function_name) is not None:
            return None
        return _error("ResourceNotFoundException", f"Function not found: {function_name}")

    def _start_chained_invoke(self, arn: str, operation_id: str) -> str:
        """Start the execution a CHAINED_INVOKE runs; returns its ARN."""
        state = self.backend.executions[arn].chained_invokes[operation_id]
        name = self._function_named(state.function_name)
        assert name is not None, "resolve_function admitted it"
        # As the Invoke API: an invoke without a payload delivers an empty JSON object.
        payload = state.payload if state.payload is not None else "{}"
        state.child_arn = self._create(name, payload, parent=(arn, operation_id))
        return state.child_arn

    def _complete_chained_invoke(self, child: StoredExecution) -> None:
        """A chained execution ended: complete its caller's operation with its outcome."""
        assert child.parent_arn is not None and child.parent_operation_id is not None
        with self._held(child.parent_arn) as parent:
            if parent.status is not ExecutionStatus.RUNNING:
                return  # the caller ended meanwhile: nobody waits for it
            operation = self.backend.executions[parent.arn].operations[child.parent_operation_id]
            if operation.status.is_terminal:
                return  # the caller cancelled the invoke
            succeeded = child.status is ExecutionStatus.SUCCEEDED
            self.backend.complete(
                child.parent_arn,
                child.parent_operation_id,
                OperationStatus(child.status.value),
                result=child.result if succeeded else None,
                error=None if succeeded else child.error,
            )
            self._persist(child.parent_arn)

    # -- scheduling ---------------------------------------------------------------

    def _drive(
        self,
        arns: Iterable[str],
        timeout: float,
        until: dt.datetime | None = None,
        time_out_callbacks: bool = False,
    ) -> None:
        deadline = time.monotonic() + timeout
        running = set(arns)
        while True:
            with self._lock:
                running = self._with_chained(running)
                # An execution another thread is invoking is that thread's to step.
                idle = running - self._invoking
            holds = {
                arn: None if time_out_callbacks else self._answerable_until(arn, until)
                for arn in idle
            }
            due = [
                (when, arn)
                for arn in idle
                if (when := self._next_due(arn, holds[arn])) is not None
                and (until is None or when <= until)
            ]
            if not due:
                with self._lock:
                    if running & self._invoking:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise TimeoutError(
                                f"{sorted(running)} did not complete within {timeout} s"
                            )
                        self._invocation_ended.wait(remaining)
                        continue
            if not due:
                if until is not None and isinstance(self.clock, VirtualClock):
                    self.clock.sleep_until(until)
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
            self._step(arn, holds[arn])

    def _with_chained(self, arns: set[str]) -> set[str]:
        """The running executions among ``arns`` and those their chained invokes started."""
        running = {
            a
            for a in arns
            if (e := self._executions.get(a)) is not None and e.status is ExecutionStatus.RUNNING
        }
        grown = True
        while grown:
            children = {
                e.arn
                for e in self._executions.values()
                if e.parent_arn in running and e.status is ExecutionStatus.RUNNING
            }
            grown = not children <= running
            running |= children
        return running

    def _answerable_until(self, arn: str, until: dt.datetime | None) -> dt.datetime | None:
        """On a virtual clock, the earliest deadline of a callback of ``arn`` still open
        that the caller has not asked to pass with ``until``: the execution's time stops
        short of it, so the callback can still be answered. (Another execution's timers
        may move the shared clock on; this one's stay held all the same.)"""
        if not isinstance(self.clock, VirtualClock) or arn not in self.backend.executions:
            return None
        held = [d.at for d in self.backend.callback_deadlines(arn) if until is None or d.at > until]
        return min(held) if held else None

    def _timers(self, arn: str) -> list[dt.datetime]:
        """When service-side timers are due: waits to complete, step retries to make
        READY, callbacks to time out."""
        timers = [d.at for d in self.backend.callback_deadlines(arn)]
        for op in self.backend.operations(arn):
            if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
                end = op.wait_details.scheduled_end_timestamp if op.wait_details else None
                if end is not None:
                    timers.append(end)
            elif op.type is OperationType.STEP and op.status is OperationStatus.PENDING:
                at = op.step_details.next_attempt_timestamp if op.step_details else None
                timers.append(at or self.clock.now())
        return timers

    def _next_due(self, arn: str, hold: dt.datetime | None = None) -> dt.datetime | None:
        """The next instant something of ``arn`` is due: a timer before ``hold``, or an
        invocation (an answer queues one whenever it arrives)."""
        record = self.backend.executions.get(arn)
        if record is None:
            return None  # ended and forgotten meanwhile
        with record.lock:
            execution = self._executions.get(arn)
            if execution is None:
                return None
            candidates = [at for at in self._timers(arn) if hold is None or at < hold]
            invoke_at = execution.invoke_at
        if invoke_at is not None:
            candidates.append(invoke_at)
        return min(candidates) if candidates else None

    def due(self) -> list[str]:
        """The running executions loaded here that have something to do now (with a
        ``VirtualClock``, at any time: time is skipped) and that no thread is invoking:
        what a scheduler hands to ``run_until_complete``, each on a thread of its own."""
        with self._lock:
            idle = [
                arn
                for arn, execution in self._executions.items()
                if execution.status is ExecutionStatus.RUNNING and arn not in self._invoking
            ]
        skips_time = isinstance(self.clock, VirtualClock)
        now = self.clock.now()
        return [
            arn
            for arn in idle
            if (when := self._next_due(arn, self._answerable_until(arn, None))) is not None
            and (skips_time or when <= now)
        ]

    def _locked(self, arn: str) -> threading.RLock:
        """The lock of a loaded execution: its backend record's."""
        return self.backend.executions[arn].lock

    @contextlib.contextmanager
    def _held(self, arn: str) -> Iterator[StoredExecution]:
        """``arn`` loaded (from the store if need be) under its lock, which keeps it loaded:
        forgetting an ended execution takes its lock too."""
        while True:
            execution = self._load(arn)
            record = self.backend.executions.get(arn)
            if record is None:
                continue
            with record.lock:
                if self.backend.executions.get(arn) is record:
                    yield execution
                    return

    def _forget_if_finished(self, arn: str) -> None:
        """With ``keep_finished=False``, drop an execution that has ended (and was saved)
        from memory; the store answers for it from now on."""
        record = self.backend.executions.get(arn)
        if self.keep_finished or record is None:
            return
        with record.lock, self._lock:
            execution = self._executions.get(arn)
            if (
                execution is not None
                and execution.status is not ExecutionStatus.RUNNING
                and arn not in self._invoking
            ):
                del self._executions[arn]
                self.backend.executions.pop(arn, None)

    def _step(self, arn: str, hold: dt.datetime | None = None) -> None:
        """Fire whatever is due now, short of ``hold`` (the change hook queues an invocation
        for each), then invoke if an invocation is due, without holding the lock while the
        handler runs."""
        record = self.backend.executions.get(arn)
        if record is None:
            return  # ended and forgotten meanwhile
        with record.lock:
            with self._lock:
                execution = self._executions.get(arn)
                if execution is None or arn in self._invoking:
                    return
            now = self.clock.now()
            fire_until = now if hold is None or now < hold else hold - dt.timedelta(microseconds=1)
            for change in self.backend.fire_timers(arn, fire_until):
                op = change.after
                _log.info("%s %s is now %s", op.type.value, op.name or op.id, op.status.value)
            invocation = None
            if execution.invoke_at is not None and execution.invoke_at <= now:
                handler, invocation = self._begin_invocation(execution)
            self._persist(arn)
        if invocation is None:
            return
        try:
            with use_backend(self.handler_backend):
                invocation.response = handler(invocation.event, invocation.context)
        except SystemExit as exc:
            invocation.crash = _error(
                "Runtime.ExitError", f"Runtime exited with error: exit status {exc.code}"
            )
        except Exception as exc:
            invocation.crash = _error(qualified_type_name(exc), str(exc))
        except BaseException:
            with self._lock:
                # The process is going down (KeyboardInterrupt...): the stored record keeps
                # the invocation as started, so a new service records it as crashed.
                self._invoking.discard(arn)
                self._invocation_ended.notify_all()
            raise
        with self._locked(arn):
            self._end_invocation(execution, invocation)
            self._persist(arn)
        self._forget_if_finished(arn)

    # -- invocations --------------------------------------------------------------

    def _begin_invocation(self, execution: StoredExecution) -> tuple[LambdaHandler, _Invocation]:
        handler = self._handlers.get(execution.function_name)
        if handler is None:
            raise UnregisteredFunctionError(
                execution.function_name,
                f"execution {execution.arn} needs function {execution.function_name!r};"
                " register it before resuming",
            )
        request_id = str(uuid.uuid4())
        invocation = _Invocation(
            request_id=request_id,
            start=self.clock.now(),
            event=self.backend.invocation_event(execution.arn),
            context=LocalLambdaContext(
                function_name=execution.function_name,
                aws_request_id=request_id,
                invoked_function_arn=execution.arn.split("/durable-execution/")[0],
            ),
        )
        execution.invocation_started_at = invocation.start
        execution.invocations += 1
        # Cleared now, so that what completes during the invocation queues the next one.
        execution.invoke_at = None
        with self._lock:
            self._invoking.add(execution.arn)
        self._persist(execution.arn)
        _log.info("invocation %d of %s", execution.invocations, _label_of(execution))
        return handler, invocation

    def _end_invocation(self, execution: StoredExecution, invocation: _Invocation) -> None:
        with self._lock:
            self._invoking.discard(execution.arn)
            self._invocation_ended.notify_all()
        execution.invocation_started_at = None
        end = self.clock.now()
        crash = invocation.crash
        append_event(
            execution.events,
            invocation_completed_event(invocation.start, end, invocation.request_id, crash),
        )
        if execution.status is not ExecutionStatus.RUNNING:
            return  # stopped while the handler ran: its answer no longer matters
        if crash is not None:
            self._invocation_failed(execution, crash)
        else:
            self._apply_response(execution, invocation.response)

    def _apply_response(self, execution: StoredExecution, response: Any) -> None:
        status = response.get("Status") if isinstance(response, dict) else None
        if status == "SUCCEEDED" and isinstance(response, dict):
            if response.get("Error") is not None:
                self._complete(execution, error=_invalid("Cannot provide an Error for SUCCEEDED"))
                return
            self._complete(execution, result=response.get("Result") or execution.result)
        elif status == "FAILED" and isinstance(response, dict):
            raw = response.get("Error")
            error = ErrorObject.from_wire(raw) if isinstance(raw, dict) else execution.error
            self._complete(execution, error=error or _error("Unknown", "the handler failed"))
        elif status == "PENDING":
            if (
                execution.invoke_at is None
                and not self._timers(execution.arn)
                and not self._awaits_outside(execution.arn)
            ):
                self._invocation_failed(
                    execution, _invalid("PENDING returned but no operation is pending")
                )
            else:
                execution.failed_invocations = 0
                _log.info("%s suspended (PENDING)", _label_of(execution))
        else:
            self._complete(execution, error=_invalid(_invalid_response(response)))

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
        status: ExecutionStatus | None = None,
    ) -> None:
        """End an execution: SUCCEEDED with ``result``, FAILED with ``error``, or ``status``."""
        status = status or (ExecutionStatus.FAILED if error else ExecutionStatus.SUCCEEDED)
        now = self.clock.now()
        execution.status = status
        execution.result = result if status is ExecutionStatus.SUCCEEDED else None
        execution.error = error
        execution.end_timestamp = now
        execution.invoke_at = None
        record = self.backend.executions[execution.arn]
        op = record.execution_operation
        if not op.status.is_terminal:
            self.backend.complete(execution.arn, op.id, OperationStatus(status.value))
            op = record.execution_operation
        event = execution_completed_event(
            op,
            _execution_name(execution.arn),
            now,
            result=execution.result,
            error=error,
            outcome=status.value,
        )
        append_event(execution.events, event)
        _log.info("%s %s", _label_of(execution), execution.status.value)
        if execution.parent_arn is not None:
            self._complete_chained_invoke(execution)

    # -- backend hooks and persistence --------------------------------------------

    def _record_changes(self, arn: str, changes: Sequence[OperationChange]) -> None:
        execution = self._executions.get(arn)
        if execution is None:
            return
        now = self.clock.now()
        for change in changes:
            update, op = change.update, change.after
            if execution.changed_operations is not None:
                execution.changed_operations[op.id] = op
            if update is not None and update.type is OperationType.EXECUTION:
                # A result over the response limit arrives here, with an empty Result.
                if update.action is OperationAction.SUCCEED:
                    execution.result = update.payload
                elif update.action is OperationAction.FAIL:
                    execution.error = update.error
            child_arn = None
            if (
                op.type is OperationType.CHAINED_INVOKE
                and op.status is OperationStatus.STARTED
                and change.before is None
            ):
                child_arn = self._start_chained_invoke(arn, op.id)
            for event in events_for_change(change, now, child_arn=child_arn):
                append_event(execution.events, event)
            if op.type is not OperationType.EXECUTION and (
                update is None or (op.status.is_terminal and update.action is OperationAction.START)
            ):
                # The service changed an operation (a timer, a callback answer, an invoke's
                # end, a target it rejected): the function must be invoked to see it.
                execution.invoke_at = now

    def _persist(self, arn: str) -> None:
        """Save what changed since the last save: the store writes the changed operations
        and the new events, not the whole execution."""
        execution = self._executions.get(arn)
        if execution is None:
            return
        record = self.backend.executions[arn]
        execution.operations = list(record.operations.values())
        execution.token = record.token
        execution.token_seq = record.token_seq
        execution.callbacks = record.callbacks
        execution.chained_invokes = record.chained_invokes
        self.store.save(execution)
        execution.changed_operations = {}

    def _load(self, arn: str) -> StoredExecution:
        """Bring a stored execution into this service (a new process resuming it). It is
        made visible to other threads only once it is ready, so no lock of its own is
        needed here."""
        with self._lock:
            if arn in self._executions:
                return self._executions[arn]
            execution = self.store.load(arn)
            if execution is None:
                raise KeyError(f"execution {arn} not found")
            # The store wrote everything it gave back: from now on a save writes what changed.
            execution.changed_operations = {}
            if isinstance(self.clock, VirtualClock) and execution.events:
                # Virtual time ran ahead of the wall clock in the process that recorded
                # these events: carry on from there, so the history never goes back.
                self.clock.sleep_until(max(event["EventTimestamp"] for event in execution.events))
            if execution.invocation_started_at is not None:
                # The service that ran this invocation stopped before it returned. The
                # history shows the invocation ended without an answer, but the service's
                # process died, not the handler: it is not counted among the handler's
                # failed attempts (a long invocation survives any number of restarts).
                crash = _error(
                    "Runtime.ExitError", "the local service stopped during the invocation"
                )
                event = invocation_completed_event(
                    execution.invocation_started_at, self.clock.now(), str(uuid.uuid4()), crash
                )
                execution.invocation_started_at = None
                append_event(execution.events, event)
                if execution.status is ExecutionStatus.RUNNING:
                    execution.invoke_at = self.clock.now()
                self.store.save(execution)
            self.backend.executions[arn] = ExecutionRecord(
                arn=arn,
                operations={op.id: op for op in execution.operations},
                token=execution.token,
                token_seq=execution.token_seq,
                callbacks=execution.callbacks,
                chained_invokes=execution.chained_invokes,
            )
            self._executions[arn] = execution
            return execution


_GENERATED_NAME = re.compile(r"execution-(\d+)")


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


_SHOWN_RESPONSE_CHARS = 200


def _invalid_response(response: Any) -> str:
    """What a handler that answered no durable status is told: the start of its answer
    (a plain function often echoes the whole invocation event), and the likely fix."""
    shown = repr(response)
    if len(shown) > _SHOWN_RESPONSE_CHARS:
        shown = f"{shown[:_SHOWN_RESPONSE_CHARS]}... ({len(shown):,} characters)"
    return (
        f"Invalid handler response: {shown}. A durable handler answers with a Status of "
        "SUCCEEDED, FAILED or PENDING: is the function wrapped as durable "
        "(durable_closure.run, @durable_execution, DurableHandler, DurableBuilder)?"
    )
