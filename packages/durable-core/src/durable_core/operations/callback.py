"""Callbacks: an id an external system answers through SendDurableExecutionCallback*.

``create_callback`` checkpoints the CALLBACK START synchronously, because the service
generates the callback id and the caller needs it at once. It never raises a recorded
failure: that is deferred to ``Callback.result()``, so the code between the two runs
identically on every replay (AWS's rule). ``wait_for_callback`` is AWS's composition: a
child context (subtype ``WaitForCallback``) holding the callback and a submitter step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic

from durable_core._ids import operation_id
from durable_core._replay import (
    Action,
    OperationCall,
    wait_action,
    wait_for_callback_failure,
)
from durable_core.config import (
    CallbackConfig,
    ChildConfig,
    ResultT,
    StepConfig,
    WaitForCallbackConfig,
)
from durable_core.errors import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    ChildContextError,
    SuspendExecution,
)
from durable_core.operations._flow import Flow, Flush, Send, run_flow
from durable_core.operations._updates import update_for
from durable_core.operations.child import child_flow
from durable_core.serdes import SerDes, check_utf8, deserialize
from durable_core.typed import TypedSerDes
from durable_core.types import (
    CallbackOptions,
    ErrorObject,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
)

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext


class Callback(Generic[ResultT]):
    """A callback the service created: hand ``callback_id`` out, then call ``result()``."""

    def __init__(
        self,
        ctx: DurableContext,
        call: OperationCall,
        callback_id: str,
        serdes: SerDes[ResultT] | None,
    ) -> None:
        self.callback_id = callback_id
        self._ctx = ctx
        self._call = call
        self._serdes = serdes

    def result(self) -> ResultT:
        """The external system's answer, from the checkpoint log.

        Suspends the invocation (after persisting everything buffered) while the
        callback is still open; the service re-invokes the function once it is answered.
        Raises ``CallbackTimeoutError`` or ``CallbackExternalError`` (both
        ``CallbackError``) when it ended otherwise, identically on every replay.
        """
        return run_flow(self.result_flow(), self._ctx._checkpointer)

    def result_flow(self) -> Flow[ResultT]:
        """``result()`` for any driver."""
        where = self._call.describe()
        recorded = self._ctx._record(self._call.id)
        if recorded is None:
            raise CallbackError(f"{where} has no record; create_callback did not checkpoint it")
        action = wait_action(recorded)
        if action is Action.RETURN:
            payload = recorded.result
            if payload is not None:
                check_utf8(payload, f"the result of {where}")
            if payload is None or self._serdes is None:
                # No serdes: the payload as the external system sent it (AWS's pass-through).
                return payload  # type: ignore[return-value]
            value: ResultT = deserialize(self._serdes, payload, where)
            return value
        if action is Action.RAISE:
            raise callback_error(recorded)
        yield Flush()
        raise SuspendExecution(f"{where} waits for its callback {self.callback_id}")


def callback_error(recorded: Operation) -> CallbackError:
    """The typed error of a callback that ended without success, from its record."""
    error = recorded.error or ErrorObject()
    timed_out = recorded.status is OperationStatus.TIMED_OUT
    cls = CallbackTimeoutError if timed_out else CallbackExternalError
    default_message = "Callback timed out" if timed_out else "Callback failed"
    return cls(
        error.error_message or default_message,
        error_type=error.error_type,
        data=error.error_data,
        stack_trace=error.stack_trace,
    )


def create_callback(
    ctx: DurableContext, call: OperationCall, config: CallbackConfig[ResultT]
) -> Callback[ResultT]:
    return run_flow(create_callback_flow(ctx, call, config), ctx._checkpointer)


def create_callback_flow(
    ctx: DurableContext, call: OperationCall, config: CallbackConfig[ResultT]
) -> Flow[Callback[ResultT]]:
    recorded = ctx._begin(call)
    try:
        if recorded is None:
            options = CallbackOptions(
                timeout_seconds=config.timeout_seconds or 0,
                heartbeat_timeout_seconds=config.heartbeat_timeout_seconds or 0,
            )
            yield Send(update_for(call, OperationAction.START, callback_options=options), sync=True)
            recorded = ctx._record(call.id)
        details = recorded.callback_details if recorded is not None else None
        if details is None or not details.callback_id:
            raise CallbackError(
                f"{call.describe()}: the service returned no CallbackDetails.CallbackId"
            )
        return Callback(ctx, call, details.callback_id, config.serdes)
    finally:
        ctx._end(call, recorded, "created")


def wait_for_callback(
    ctx: DurableContext,
    call: OperationCall,
    submitter: Callable[[str, StepContext], None],
    config: WaitForCallbackConfig[ResultT] | None,
) -> ResultT:
    names = WaitForCallbackNames.of(call, config)

    def body(child: DurableContext) -> ResultT:
        callback = child.create_callback(names.callback, config)
        child.step(
            lambda step_ctx: submitter(callback.callback_id, step_ctx),
            name=names.submitter,
            config=names.step_config,
        )
        return callback.result()

    flow: Flow[ResultT] = wait_for_callback_flow(ctx, call, config)
    return run_flow(flow, ctx._checkpointer, body)


@dataclass(frozen=True)
class WaitForCallbackNames:
    """The inner operations of a ``wait_for_callback`` (AWS's names), for every driver."""

    callback: str
    submitter: str
    step_config: StepConfig[Any] | None

    @classmethod
    def of(
        cls, call: OperationCall, config: WaitForCallbackConfig[Any] | None
    ) -> WaitForCallbackNames:
        prefix = f"{call.name} " if call.name else ""
        # A typed serdes reads the callback's answer; the submitter's None is no ``tp``.
        serdes = None if config is None or isinstance(config.serdes, TypedSerDes) else config.serdes
        step_config: StepConfig[Any] | None = (
            StepConfig(retry=config.retry, serdes=serdes) if config is not None else None
        )
        return cls(f"{prefix}create callback id", f"{prefix}submitter", step_config)


def wait_for_callback_flow(
    ctx: DurableContext, call: OperationCall, config: WaitForCallbackConfig[Any] | None = None
) -> Flow[ResultT]:
    """The child context of a ``wait_for_callback``; its ``Body`` creates, submits, waits.

    The child records the answer with the default serdes, as AWS's SDK does, unless the
    answer is typed: then as the JSON data its ``TypedSerDes`` writes, read back typed.
    """
    serdes = config.serdes if config is not None else None
    child_config: ChildConfig[Any] = ChildConfig(
        serdes=serdes if isinstance(serdes, TypedSerDes) else None
    )
    try:
        result: ResultT = yield from child_flow(ctx, call, child_config)
        return result
    except ChildContextError as exc:
        # Decided from the inner records, not the exception's cause, so a replay of
        # the failed context raises the same type as the run that recorded it.
        failed = wait_for_callback_failure(
            ctx._record(operation_id(call.id, 1)), ctx._record(operation_id(call.id, 2))
        )
        if failed is None:
            raise
        if failed.type is OperationType.CALLBACK:
            raise callback_error(failed) from exc
        error = failed.error or ErrorObject()
        raise CallbackSubmitterError(
            error.error_message or "Callback submitter failed",
            error_type=error.error_type,
            data=error.error_data,
            stack_trace=error.stack_trace,
        ) from exc
