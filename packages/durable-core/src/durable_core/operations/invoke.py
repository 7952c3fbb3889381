"""Chained invoke: run another durable function and wait for its result at no Lambda cost.

The CHAINED_INVOKE START (payload and target) is persisted before the invocation
suspends; the service runs the target and re-invokes this function when it finished.
The operation never runs anything itself: it returns the recorded result, raises the
recorded failure, or suspends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from durable_core._replay import Action, OperationCall, wait_action
from durable_core.config import InvokeConfig, ResultT
from durable_core.errors import InvokeError, SuspendExecution, ValidationError
from durable_core.operations._flow import Flow, Send, run_flow
from durable_core.operations._updates import update_for
from durable_core.payloads import check_payload_size
from durable_core.plugins import PropagationInput
from durable_core.serdes import JSON_SERDES, deserialize, serialize
from durable_core.types import ChainedInvokeOptions, ErrorObject, OperationAction

if TYPE_CHECKING:
    from durable_core.context import DurableContext


# ChainedInvokeOptions.FunctionName (NamespacedFunctionName) in boto3's service model.
_FUNCTION_NAME = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
_FUNCTION_NAME_MAX = 256


def validate_function_name(function_name: Any) -> str:
    """Reject at the call a FunctionName CheckpointDurableExecution would reject."""
    if not isinstance(function_name, str) or not function_name:
        raise ValidationError(f"function_name must be a non-empty str, got {function_name!r}")
    if len(function_name) > _FUNCTION_NAME_MAX:
        raise ValidationError(
            f"function_name is {len(function_name)} characters; the limit is {_FUNCTION_NAME_MAX}"
        )
    if not _FUNCTION_NAME.fullmatch(function_name):
        raise ValidationError(
            f"function_name {function_name!r} is not a function name, ARN or qualified name"
        )
    return function_name


def run_invoke(
    ctx: DurableContext,
    call: OperationCall,
    function_name: str,
    payload: Any,
    config: InvokeConfig[Any, ResultT],
) -> ResultT:
    return run_flow(invoke_flow(ctx, call, function_name, payload, config), ctx._checkpointer)


def invoke_flow(
    ctx: DurableContext,
    call: OperationCall,
    function_name: str,
    payload: Any,
    config: InvokeConfig[Any, ResultT],
) -> Flow[ResultT]:
    recorded = ctx._begin(call)
    action = wait_action(recorded)
    where = call.describe()
    try:
        if action is Action.START_AND_SUSPEND:
            options = ChainedInvokeOptions(
                function_name=function_name,
                tenant_id=config.tenant_id,
                x_amzn_trace_id=_trace_header(ctx, call, function_name),
            )
            data = serialize(config.payload_serdes or JSON_SERDES, payload, where)
            check_payload_size(data, f"the payload of {where}")
            update = update_for(
                call, OperationAction.START, payload=data, chained_invoke_options=options
            )
            yield Send(update, sync=True)
            # The answer to the START may already be terminal (an unknown function).
            recorded = ctx._record(call.id)
            action = wait_action(recorded) if recorded is not None else Action.SUSPEND
        if action is Action.RETURN:
            assert recorded is not None
            result = recorded.result
            value: ResultT = (
                None  # type: ignore[assignment]
                if result is None
                else deserialize(config.result_serdes or JSON_SERDES, result, where)
            )
            return value
        if action is Action.RAISE:
            assert recorded is not None
            raise InvokeError.from_error_object(
                recorded.error
                or ErrorObject(error_message=f"{where} ended {recorded.status.value}")
            )
        raise SuspendExecution(f"{where} waits for {function_name}")
    finally:
        ctx._end(call, recorded, action.value)


def _trace_header(ctx: DurableContext, call: OperationCall, function_name: str) -> str | None:
    """The trace context a plugin attaches to a new chained invoke (never on replay)."""
    plugins = ctx._state.plugins
    if plugins is None:
        return None
    info = PropagationInput(ctx.execution_arn, call.id, function_name, call.parent_id)
    return plugins.propagation_metadata(info).x_amzn_trace_id or None
