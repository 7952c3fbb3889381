"""``wait_for_condition``: poll a check until the wait strategy says stop.

One STEP (subtype ``WaitForCondition``) carries the whole polling: each poll that
must go on checkpoints a RETRY whose payload is the new state and whose delay the
strategy chose, then suspends; the service makes the step READY when the delay is
over and the next invocation resumes from that recorded state. The final state is
checkpointed with SUCCEED. A check that raises (or a strategy that gives up) fails the
operation for good with ``WaitForConditionError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from durable_core._replay import Action, OperationCall, plan_step, resumed_condition_state
from durable_core.config import StepSemantics, WaitForConditionConfig
from durable_core.errors import (
    DurableError,
    SuspendExecution,
    WaitForConditionError,
    error_object_from_exception,
    log_user_failure,
)
from durable_core.operations._flow import Body, Flow, Send, SendResult, run_flow
from durable_core.operations._updates import update_for
from durable_core.serdes import deserialize, serialize
from durable_core.types import ErrorObject, OperationAction, StepOptions

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext

S = TypeVar("S")


def run_wait_for_condition(
    ctx: DurableContext,
    call: OperationCall,
    check: Callable[[S, StepContext], S],
    config: WaitForConditionConfig[S],
) -> S:
    return run_flow(wait_for_condition_flow(ctx, call, config), ctx._checkpointer, check)


def wait_for_condition_flow(
    ctx: DurableContext, call: OperationCall, config: WaitForConditionConfig[S]
) -> Flow[S]:
    """One poll, for any driver: the check runs where it yields ``Body((state, step_ctx))``."""
    from durable_core.context import StepContext

    recorded = ctx._begin(call)
    # A poll is an attempt of a step whose body never runs twice for one attempt.
    plan = plan_step(recorded, StepSemantics.AT_LEAST_ONCE_PER_RETRY)
    where = call.describe()
    outcome = "replayed"

    def read(payload: str | None) -> S:
        value: S = None if payload is None else deserialize(config.serdes, payload, where)  # type: ignore[assignment]
        return value

    try:
        if plan.action is Action.RETURN:
            assert recorded is not None
            return read(recorded.result)
        if plan.action is Action.RAISE:
            assert recorded is not None
            raise WaitForConditionError.from_error_object(
                recorded.error
                or ErrorObject(error_message=f"{where} ended {recorded.status.value}")
            )
        if plan.action is Action.SUSPEND:
            outcome = "suspended"
            raise SuspendExecution(f"{where} waits for its next poll")

        outcome = "executed"
        resumed = resumed_condition_state(recorded)
        if plan.send_start:
            yield Send(update_for(call, OperationAction.START), sync=False)
        # The first poll sees the initial state as later polls see theirs: read back.
        state = read(resumed or serialize(config.serdes, config.initial_state, where))
        step_ctx = StepContext(
            attempt=plan.attempt,
            operation_id=call.id,
            name=call.name,
            logger=ctx.logger.for_operation(call.id, call.name, plan.attempt),
        )
        try:
            with ctx._user_function(call, plan.attempt):
                checked = yield Body((state, step_ctx))
            payload = serialize(config.serdes, checked, where)
            decision = config.wait_strategy(read(payload), plan.attempt)
        except (SuspendExecution, DurableError):
            raise
        except Exception as exc:
            log_user_failure(step_ctx.logger, exc, where)
            error = error_object_from_exception(exc)
            yield Send(update_for(call, OperationAction.FAIL, error=error), sync=True)
            raise WaitForConditionError.from_error_object(error) from exc
        if not decision.should_continue:
            yield SendResult(update_for(call, OperationAction.SUCCEED, payload=payload))
            # A fresh read: what replay returns, whatever the strategy did to its copy.
            return read(payload)
        delay = max(1, decision.delay_seconds)
        yield Send(
            update_for(
                call,
                OperationAction.RETRY,
                payload=payload,
                step_options=StepOptions(next_attempt_delay_seconds=delay),
            ),
            sync=True,
        )
        outcome = "suspended"
        raise SuspendExecution(f"{where} polls again in {delay} s")
    finally:
        ctx._end(call, recorded, outcome)
