"""Plugins: observe invocations, operations and step attempts without touching them.

The hooks and their info types mirror AWS's instrumentation plugin API
(``aws_durable_execution_sdk_python.plugin``), so a plugin written for one SDK reads
the same fields here:

* ``on_invocation_start`` / ``on_invocation_end``: around one Lambda invocation, on
  the handler's thread; the start comes after the checkpoint log is loaded, the end
  after every update is persisted, with the outcome (``RETRY`` when an exception
  escapes and Lambda will re-drive the invocation).
* ``on_operation_start``: a new operation, or one started in an earlier invocation
  that has not finished (``is_replayed`` true), at most once per invocation: a branch
  resumed in the invocation that started it is not started again. An operation
  replayed from its terminal record is not reported again; a virtual (FLAT) branch,
  which records nothing, is never reported started.
* ``on_operation_end``: when the operation reaches a terminal status, before it
  returns to user code; if its result was only buffered (batched checkpoints), before
  ``on_invocation_end``. A terminal record the service reports as updated while the
  execution was suspended (``UpdatedOperationIds``) gets its end hook when replayed.
  A child context that records no outcome (a FLAT branch, a ReplayChildren context
  whose body ran again) reports its end each time its body returns.
* ``on_operation_change``: operations this invocation changed, with their newest
  status, before ``on_invocation_end`` (AWS's SDK may split them over several calls as
  its checkpoint answers arrive; the number of calls is not part of its contract).
  Changes made while the execution was suspended are not reported here, as in AWS's
  SDK: they are ``InvocationStartInfo.updated_operations``.
* ``on_user_function_start`` / ``on_user_function_end``: around every run of user
  code, on the thread that runs it, with its outcome: a step's attempt and a
  wait_for_condition check (with the attempt number), the body of a child context,
  of a parallel branch or map iteration, of a batch and of a wait_for_callback
  (attempt 1 when the context starts, None when it was started earlier;
  ``is_replay_children`` when a ReplayChildren context runs again). The fields are
  those AWS's SDK sets (tests/compat/test_plugin_hooks_compat.py compares the streams).

Registration: ``ExecutionOptions(plugins=[...])`` takes plugin instances (one shared
by every invocation) or factories (an object with ``create_plugin(info)``, called
once per invocation with its ``InvocationStartInfo``, as AWS's SDK does, so a plugin
can keep per-invocation state in plain attributes).

Isolation: an exception a hook raises is logged on the ``durable.plugins`` logger and
ignored; it never fails the execution or stops the other plugins. Only
``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` propagate. Payloads
(``execution_input``, ``result``, ``execution_result``, the operation maps) are on the
infos for a plugin that reads them, but kept out of their ``repr`` so a plugin that
logs an info wholesale does not write customer data to the logs.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, Self

from durable_core._replay import CheckpointLog, OperationCall
from durable_core.errors import error_object_from_exception
from durable_core.types import ErrorObject, Operation, OperationStatus, OperationType

__all__ = [
    "DurablePlugin",
    "InvocationEndInfo",
    "InvocationInfo",
    "InvocationStartInfo",
    "InvocationStatus",
    "OperationChangeInfo",
    "OperationEndInfo",
    "OperationInfo",
    "OperationStartInfo",
    "PluginDispatcher",
    "PluginEntry",
    "PluginFactory",
    "PropagationInput",
    "PropagationMetadata",
    "UserFunctionEndInfo",
    "UserFunctionOutcome",
    "UserFunctionStartInfo",
]

_log = logging.getLogger("durable.plugins")

# Raised from plugin code these instruct the thread to stop: never contained (as AWS).
_THREAD_CONTROL = (KeyboardInterrupt, SystemExit, GeneratorExit)


class InvocationStatus(Enum):
    """How an invocation ended, as plugins see it (``RETRY``: an exception escaped)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RETRY = "RETRY"


class UserFunctionOutcome(Enum):
    """How a step attempt's body ended (``INCOMPLETE``: it suspended or was cut short)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    INCOMPLETE = "INCOMPLETE"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _result_and_error(operation: Operation) -> tuple[str | None, ErrorObject | None]:
    for details in (
        operation.step_details,
        operation.callback_details,
        operation.chained_invoke_details,
        operation.context_details,
    ):
        if details is not None and (details.result is not None or details.error is not None):
            return details.result, details.error
    return None, None


@dataclass(frozen=True)
class OperationInfo:
    """One operation as a plugin sees it. ``error`` is a copy: a plugin cannot alter it."""

    operation_id: str
    operation_type: OperationType
    sub_type: str | None
    name: str | None
    parent_id: str | None
    start_time: dt.datetime | None
    is_replayed: bool
    status: OperationStatus
    end_time: dt.datetime | None = field(default=None, kw_only=True)
    result: str | None = field(default=None, kw_only=True, repr=False)
    """The serialised result, when the operation has one."""
    error: ErrorObject | None = field(default=None, kw_only=True)
    attempt: int | None = field(default=None, kw_only=True)

    @classmethod
    def from_operation(cls, operation: Operation, *, is_replayed: bool = False) -> Self:
        result, error = _result_and_error(operation)
        return cls(
            operation_id=operation.id,
            operation_type=operation.type,
            sub_type=operation.sub_type,
            name=operation.name,
            parent_id=operation.parent_id,
            start_time=operation.start_timestamp,
            end_time=operation.end_timestamp,
            result=result,
            error=copy.deepcopy(error),
            attempt=operation.step_details.attempt if operation.step_details else None,
            is_replayed=is_replayed,
            status=operation.status,
        )


@dataclass(frozen=True)
class OperationStartInfo(OperationInfo):
    pass


@dataclass(frozen=True)
class OperationEndInfo(OperationInfo):
    pass


@dataclass(frozen=True)
class OperationChangeInfo:
    execution_arn: str | None
    updated_operations: dict[str, OperationInfo]
    operations: dict[str, OperationInfo] = field(repr=False)


@dataclass(frozen=True)
class UserFunctionStartInfo(OperationInfo):
    is_replay_children: bool = False
    """True when a batch's function runs to replay its children (AWS's map/parallel)."""


@dataclass(frozen=True)
class UserFunctionEndInfo(OperationInfo):
    is_replay_children: bool
    outcome: UserFunctionOutcome


@dataclass(frozen=True)
class InvocationInfo:
    request_id: str | None
    execution_arn: str | None
    is_first_invocation: bool
    execution_start_time: dt.datetime | None = None
    execution_input: Any = field(default=None, kw_only=True, repr=False, compare=False)
    """The execution's input, deep-copied: changing it changes neither the handler's event
    nor what later hooks report."""
    operations: dict[str, OperationInfo] = field(
        default_factory=dict, kw_only=True, repr=False, compare=False
    )
    """Every checkpointed operation, as of this hook (the start or the end)."""


@dataclass(frozen=True)
class InvocationStartInfo(InvocationInfo):
    updated_operations: dict[str, OperationInfo] = field(
        default_factory=dict, kw_only=True, repr=False, compare=False
    )
    """Operations the service updated while the execution was suspended (a timer fired,
    a callback or a chained invoke completed): the event's ``UpdatedOperationIds``."""


@dataclass(frozen=True)
class InvocationEndInfo(InvocationInfo):
    status: InvocationStatus = field(kw_only=True)
    error: ErrorObject | None = None
    execution_result: str | None = field(default=None, kw_only=True, repr=False, compare=False)
    """The JSON result returned to the service (``""`` when it was checkpointed instead)."""


@dataclass(frozen=True)
class PropagationInput:
    """A new chained invoke about to be started: where trace context could be attached."""

    execution_arn: str
    operation_id: str
    target_function_name: str
    parent_operation_id: str | None = None


@dataclass(frozen=True)
class PropagationMetadata:
    """What a plugin contributes to a new chained invoke's START (``XAmznTraceId``)."""

    x_amzn_trace_id: str | None = None


class DurablePlugin:
    """Base class of plugins: every hook is a no-op; override the ones you need.

    Hooks run synchronously on the thread named in the module docstring; parallel and
    map branches call them concurrently, so a plugin guards state shared across hooks.
    """

    def provide_propagation_metadata(self, info: PropagationInput) -> PropagationMetadata | None:
        return None

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        return None

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        return None

    def on_operation_start(self, info: OperationStartInfo) -> None:
        return None

    def on_operation_end(self, info: OperationEndInfo) -> None:
        return None

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        return None

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        return None

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        return None


class PluginFactory(Protocol):
    """Builds the plugin instance of one invocation (called before its first hook)."""

    def create_plugin(self, info: InvocationStartInfo, /) -> DurablePlugin: ...


PluginEntry = DurablePlugin | PluginFactory
"""What ``ExecutionOptions.plugins`` holds: a plugin, or a factory of one per invocation."""


def _describe(entry: object) -> str:
    return type(entry).__qualname__


def _contain(error: BaseException, what: str, entry: object) -> None:
    if isinstance(error, _THREAD_CONTROL):
        raise error
    _log.error("Plugin %s raised in %s; ignored", _describe(entry), what, exc_info=error)


def _instantiate(entry: PluginEntry, info: InvocationStartInfo) -> DurablePlugin | None:
    if isinstance(entry, DurablePlugin):
        return entry
    try:
        plugin = entry.create_plugin(info)
    except BaseException as error:
        _contain(error, "create_plugin", entry)
        return None
    if not isinstance(plugin, DurablePlugin):
        _log.error(
            "Plugin factory %s returned %s, not a DurablePlugin; ignored",
            _describe(entry),
            _describe(plugin),
        )
        return None
    return plugin


def _operations_of(log: CheckpointLog) -> dict[str, OperationInfo]:
    return {op.id: OperationInfo.from_operation(op) for op in log.operations()}


def _snapshot_input(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:
        _log.exception("The execution input cannot be copied for plugins; omitted")
        return None


class PluginDispatcher:
    """One invocation's plugins: each hook goes to every plugin, in order, isolated.

    Built by ``start`` (which calls the factories and ``on_invocation_start``); the
    engine then reports operations and attempts, and ``finish`` ends the invocation.
    It also decides which operation events a plugin sees (see the module docstring).
    """

    def __init__(
        self,
        plugins: Sequence[DurablePlugin],
        log: CheckpointLog,
        start_info: InvocationStartInfo,
        updated_ids: frozenset[str],
    ) -> None:
        self._plugins = tuple(plugins)
        self._log = log
        self._start_info = start_info
        self._updated_ids = updated_ids
        self._statuses = {op_id: info.status for op_id, info in start_info.operations.items()}
        # Operations whose end hook is still due, by id (guarded: branches run in threads).
        self._open: dict[str, OperationCall] = {}
        # Operations whose start hook, or end hook, this invocation dispatched.
        self._started: set[str] = set()
        self._ended: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        entries: Iterable[PluginEntry],
        *,
        execution_arn: str,
        log: CheckpointLog,
        execution_input: Any,
        lambda_context: Any = None,
        updated_ids: Iterable[str] = (),
    ) -> PluginDispatcher:
        """Build this invocation's plugins and dispatch ``on_invocation_start``."""
        operations = _operations_of(log)
        updated = frozenset(updated_ids)
        execution = log.execution()
        info = InvocationStartInfo(
            request_id=getattr(lambda_context, "aws_request_id", None),
            execution_arn=execution_arn,
            is_first_invocation=not log.has_history(),
            execution_start_time=execution.start_timestamp if execution else None,
            execution_input=_snapshot_input(execution_input),
            operations=operations,
            updated_operations={i: operations[i] for i in sorted(updated) if i in operations},
        )
        plugins = [p for p in (_instantiate(e, info) for e in entries) if p is not None]
        dispatcher = cls(plugins, log, info, updated)
        dispatcher._dispatch("on_invocation_start", info)
        return dispatcher

    def _dispatch(self, hook: str, info: object) -> None:
        for plugin in self._plugins:
            try:
                getattr(plugin, hook)(info)
            except BaseException as error:
                _contain(error, hook, plugin)

    # -- operations -----------------------------------------------------------------

    def operation_started(
        self, call: OperationCall, recorded: Operation | None, *, virtual: bool = False
    ) -> None:
        """``call`` begins; ``recorded`` is its record as the log holds it now.

        As AWS's SDK: a new operation is started (``is_replayed`` false); one recorded
        READY starts its next attempt (``is_replayed`` true); one recorded otherwise
        unfinished is replayed with its recorded status. ``is_replayed`` is true only
        for an operation started in an earlier invocation, and each operation is
        started at most once per invocation: a branch resumed in the invocation that
        started it (its wait ended meanwhile) is not started again. A ``virtual``
        context (a FLAT branch) records nothing and gets no start hook.
        """
        if virtual:
            return
        terminal = recorded is not None and recorded.status.is_terminal
        with self._lock:
            if call.id not in self._ended and (not terminal or call.id in self._updated_ids):
                self._open.setdefault(call.id, call)
            if terminal or call.id in self._started:
                return
            self._started.add(call.id)
        if recorded is None or recorded.status is OperationStatus.READY:
            info = OperationStartInfo(
                operation_id=call.id,
                operation_type=call.type,
                sub_type=call.sub_type,
                name=call.name,
                parent_id=call.parent_id,
                start_time=_now(),
                is_replayed=recorded is not None,
                status=OperationStatus.STARTED,
            )
        else:
            info = OperationStartInfo(
                operation_id=recorded.id,
                operation_type=recorded.type,
                sub_type=recorded.sub_type,
                name=recorded.name,
                parent_id=recorded.parent_id,
                start_time=recorded.start_timestamp,
                is_replayed=True,
                status=recorded.status,
            )
        self._dispatch("on_operation_start", info)

    def context_returned(
        self, call: OperationCall, error: ErrorObject | None, *, replayed: bool
    ) -> None:
        """A child context that records no outcome returned: a virtual (FLAT) branch, or
        a ReplayChildren context whose body ran again (``replayed``). Its end is reported
        each time, as in AWS's SDK, since no terminal record will report it."""
        with self._lock:
            self._open.pop(call.id, None)
        self._dispatch(
            "on_operation_end",
            OperationEndInfo(
                operation_id=call.id,
                operation_type=call.type,
                sub_type=call.sub_type,
                name=call.name,
                parent_id=call.parent_id,
                start_time=None,
                end_time=_now(),
                is_replayed=replayed,
                status=OperationStatus.FAILED if error else OperationStatus.SUCCEEDED,
                error=error,
            ),
        )

    def operation_ended(self, call: OperationCall) -> None:
        """``call`` returned (or raised) to user code: report its end if it is terminal."""
        current = self._log.get(call.id)
        if current is None or not current.status.is_terminal:
            return
        with self._lock:
            if self._open.pop(call.id, None) is None:
                return
            self._ended.add(call.id)
        self._dispatch("on_operation_end", OperationEndInfo.from_operation(current))

    @contextlib.contextmanager
    def user_function(
        self, call: OperationCall, attempt: int | None, *, is_replay_children: bool = False
    ) -> Iterator[None]:
        """Bracket one run of the user's code of ``call`` with the user-function hooks.

        ``attempt`` is the step's or the poll's number; for a child context's body, as
        in AWS's SDK, 1 when the context starts now and None when it was started in an
        earlier invocation (``is_replay_children``: run again to rebuild a result too
        large to have been recorded).
        """
        start = UserFunctionStartInfo(
            operation_id=call.id,
            operation_type=call.type,
            sub_type=call.sub_type,
            name=call.name,
            parent_id=call.parent_id,
            start_time=_now(),
            is_replayed=False,
            status=OperationStatus.STARTED,
            attempt=attempt,
            is_replay_children=is_replay_children,
        )
        self._dispatch("on_user_function_start", start)
        outcome, error = UserFunctionOutcome.INCOMPLETE, None
        try:
            yield
            outcome = UserFunctionOutcome.SUCCEEDED
        except Exception as exc:
            outcome, error = UserFunctionOutcome.FAILED, error_object_from_exception(exc)
            raise
        finally:
            self._dispatch(
                "on_user_function_end",
                UserFunctionEndInfo(
                    operation_id=start.operation_id,
                    operation_type=start.operation_type,
                    sub_type=start.sub_type,
                    name=start.name,
                    parent_id=start.parent_id,
                    start_time=start.start_time,
                    end_time=_now(),
                    is_replayed=False,
                    status=start.status,
                    attempt=attempt,
                    error=error,
                    is_replay_children=is_replay_children,
                    outcome=outcome,
                ),
            )

    def propagation_metadata(self, info: PropagationInput) -> PropagationMetadata:
        """What to attach to a new chained invoke's START: the first non-blank value wins."""
        for plugin in self._plugins:
            try:
                metadata = plugin.provide_propagation_metadata(info)
            except BaseException as error:
                _contain(error, "provide_propagation_metadata", plugin)
                continue
            if metadata is not None and (metadata.x_amzn_trace_id or "").strip():
                return metadata
        return PropagationMetadata()

    # -- the end ----------------------------------------------------------------------

    def finish(
        self,
        status: InvocationStatus,
        *,
        result: str | None = None,
        error: ErrorObject | None = None,
    ) -> None:
        """End the invocation: due end hooks, the changes it made, ``on_invocation_end``."""
        with self._lock:
            still_open = list(self._open.values())
        for call in still_open:
            self.operation_ended(call)
        operations = _operations_of(self._log)
        changed = {
            op_id: info
            for op_id, info in operations.items()
            if self._statuses.get(op_id) is not info.status
        }
        start = self._start_info
        if changed:
            self._dispatch(
                "on_operation_change",
                OperationChangeInfo(start.execution_arn, changed, operations),
            )
        self._dispatch(
            "on_invocation_end",
            InvocationEndInfo(
                request_id=start.request_id,
                execution_arn=start.execution_arn,
                is_first_invocation=start.is_first_invocation,
                execution_start_time=start.execution_start_time,
                execution_input=start.execution_input,
                operations=operations,
                status=status,
                error=error,
                execution_result=result,
            ),
        )
