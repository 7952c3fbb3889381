"""The wait operation: the service fires a timer and re-invokes the function."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from durable_core._replay import Action, OperationCall, wait_action
from durable_core.errors import DurableOperationError, SuspendExecution, ValidationError
from durable_core.operations._flow import Flow, Send, run_flow
from durable_core.operations._updates import update_for
from durable_core.types import OperationAction, WaitOptions

if TYPE_CHECKING:
    from durable_core.context import DurableContext


def run_wait(ctx: DurableContext, call: OperationCall, seconds: float) -> None:
    run_flow(wait_flow(ctx, call, seconds), ctx._checkpointer)


def wait_flow(ctx: DurableContext, call: OperationCall, seconds: float) -> Flow[None]:
    if not seconds >= 1:
        raise ValidationError(
            f"{call.describe()}: a wait must last at least 1 second, got {seconds}"
        )
    recorded = ctx._begin(call)
    action = wait_action(recorded)
    try:
        if action is Action.RETURN:
            return
        if action is Action.RAISE:
            assert recorded is not None
            raise DurableOperationError(
                f"{call.describe()} ended {recorded.status.value}", error_type=recorded.status.value
            )
        if action is Action.START_AND_SUSPEND:
            options = WaitOptions(wait_seconds=math.ceil(seconds))
            yield Send(update_for(call, OperationAction.START, wait_options=options), sync=True)
        raise SuspendExecution(f"{call.describe()} waits {seconds} s")
    finally:
        ctx._end(call, recorded, action.value)
