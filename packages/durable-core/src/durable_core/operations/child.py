"""Child contexts: a function with its own id namespace, checkpointed as one operation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from durable_core._replay import Action, OperationCall, child_action
from durable_core.config import ChildConfig
from durable_core.errors import (
    ChildContextError,
    DurableError,
    NonDeterministicExecutionError,
    SuspendExecution,
    error_object_from_exception,
    log_user_failure,
)
from durable_core.operations._flow import Body, Flow, Send, SendResult, run_flow
from durable_core.operations._updates import update_for
from durable_core.payloads import CHILD_RESULT_LIMIT_BYTES
from durable_core.serdes import deserialize, serialize
from durable_core.types import ContextOptions, OperationAction

if TYPE_CHECKING:
    from durable_core.context import DurableContext

T = TypeVar("T")


def run_child(
    ctx: DurableContext,
    call: OperationCall,
    func: Callable[[DurableContext], T],
    config: ChildConfig[T],
    *,
    virtual: bool = False,
    cancel: threading.Event | None = None,
    branch: bool = False,
) -> T:
    """Run ``func`` in a child context of ``ctx``.

    ``virtual`` children (FLAT batch branches) checkpoint nothing themselves: they
    re-run on every invocation and their operations replay. ``cancel`` stops a batch
    branch at its next operation once the batch has completed. ``branch``: see
    ``child_flow``.
    """
    flow = child_flow(ctx, call, config, virtual=virtual, cancel=cancel, branch=branch)
    return run_flow(flow, ctx._checkpointer, func)


def child_flow(
    ctx: DurableContext,
    call: OperationCall,
    config: ChildConfig[T],
    *,
    virtual: bool = False,
    cancel: threading.Event | None = None,
    branch: bool = False,
) -> Flow[T]:
    """The child operation, for any driver: yields ``Body((child_context,))``.

    A ``branch`` of a batch queues its outcome and returns without waiting for it to be
    persisted: its result goes to the batch, not to user code, and the batch's own
    outcome, queued after it, is persisted only with it (updates persist in the order
    they were queued). So the branch's slot frees a round trip sooner, and the next
    branch's updates share the call that carries this outcome; a persisted log still
    never shows more branches in flight than the batch allows (a branch that started
    after this one ended is persisted after its end).
    """
    recorded = ctx._begin(call, virtual=virtual)
    if virtual and recorded is not None:
        raise NonDeterministicExecutionError(
            f"{call.describe()} was recorded as a NESTED branch but now runs FLAT",
            operation_id=call.id,
        )
    plan = child_action(recorded)
    where = call.describe()
    child: DurableContext | None = None
    try:
        if plan.action is Action.RETURN:
            assert recorded is not None
            payload = recorded.result
            return None if payload is None else deserialize(config.serdes, payload, where)  # type: ignore[return-value]
        if plan.action is Action.RAISE:
            assert recorded is not None
            raise ChildContextError.from_error_object(recorded.error)
        if plan.send_start and not virtual:
            yield Send(update_for(call, OperationAction.START), sync=False)
        try:
            with ctx._user_function(
                call, None if recorded else 1, is_replay_children=plan.replay_children
            ):
                child = ctx._child(call.id, virtual=virtual, cancel=cancel)
                value = yield Body((child,))
        except (SuspendExecution, DurableError):
            raise
        except Exception as exc:
            log_user_failure(ctx.logger.with_extra(operation_id=call.id), exc, where)
            error = error_object_from_exception(exc)
            if not virtual:
                yield Send(update_for(call, OperationAction.FAIL, error=error), sync=not branch)
            else:
                ctx._context_returned(call, error)
            raise ChildContextError.from_error_object(error) from exc
        payload = serialize(config.serdes, value, where)
        result: T = deserialize(config.serdes, payload, where)
        if plan.replay_children or virtual:
            ctx._context_returned(call, replayed=plan.replay_children)
            return result
        replay_children = len(payload) > CHILD_RESULT_LIMIT_BYTES
        update = update_for(
            call,
            OperationAction.SUCCEED,
            payload="" if replay_children else payload,
            context_options=ContextOptions(replay_children=replay_children),
        )
        yield Send(update, sync=False) if branch else SendResult(update)
        return result
    finally:
        for join in child._joins if child is not None else ():
            join()
        ctx._end(call, recorded, plan.action.value)
