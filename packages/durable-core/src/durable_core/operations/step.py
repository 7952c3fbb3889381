"""The step operation: run a body once, checkpoint its result, retry per strategy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from durable_core._replay import Action, OperationCall, plan_step
from durable_core.config import StepConfig, StepSemantics
from durable_core.errors import (
    DurableError,
    StepError,
    StepInterruptedError,
    StepTimeoutError,
    SuspendExecution,
    error_object_from_exception,
)
from durable_core.operations._updates import update_for
from durable_core.payloads import checkpointed_payload, recorded_payload
from durable_core.serdes import deserialize, serialize
from durable_core.types import OperationAction, StepOptions

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext

T = TypeVar("T")


def run_step(
    ctx: DurableContext,
    call: OperationCall,
    func: Callable[[StepContext], T],
    config: StepConfig[T],
) -> T:
    from durable_core.context import StepContext

    recorded = ctx._begin(call)
    plan = plan_step(recorded, config.semantics)
    where = call.describe()
    outcome = "replayed"
    try:
        if plan.action is Action.RETURN:
            assert recorded is not None
            payload = recorded_payload(config.offload, recorded.result, where)
            replayed: T = None if payload is None else deserialize(config.serdes, payload, where)  # type: ignore[assignment]
            return replayed
        if plan.action is Action.RAISE:
            assert recorded is not None
            raise StepError.from_error_object(recorded.error)
        if plan.action is Action.SUSPEND:
            outcome = "suspended"
            raise SuspendExecution(f"{where} waits for its next attempt")

        outcome = "executed"
        checkpointer = ctx._checkpointer
        if plan.interrupted:
            _retry_or_fail(
                ctx,
                call,
                config,
                StepInterruptedError(f"{where} was interrupted during attempt {plan.attempt}"),
                plan.attempt,
            )
        if plan.send_start:
            at_most_once = config.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
            checkpointer.send(update_for(call, OperationAction.START), sync=at_most_once)
        step_ctx = StepContext(
            attempt=plan.attempt,
            operation_id=call.id,
            name=call.name,
            logger=ctx.logger.with_extra(operation_id=call.id, attempt=plan.attempt),
        )
        try:
            with ctx._attempt(call, plan.attempt):
                value = _run_body(func, step_ctx, config.timeout_seconds, where)
        except (SuspendExecution, DurableError):
            raise
        except Exception as exc:
            _retry_or_fail(ctx, call, config, exc, plan.attempt)
        payload = serialize(config.serdes, value, where)
        # Return what replay will return, so the first run and replays agree.
        result: T = deserialize(config.serdes, payload, where)
        payload = checkpointed_payload(ctx.execution_arn, call, config.offload, payload)
        # An at-least-once result may be pipelined: if it is lost, replay runs the step
        # again, which its semantics allow (docs/performance.md, "Semantics kept").
        checkpointer.send_result(
            update_for(call, OperationAction.SUCCEED, payload=payload),
            pipelined=config.semantics is not StepSemantics.AT_MOST_ONCE_PER_RETRY,
        )
        return result
    finally:
        ctx._end(call, recorded, outcome)


def _run_body(
    func: Callable[[StepContext], T], step_ctx: StepContext, timeout: float | None, where: str
) -> T:
    if timeout is None:
        return func(step_ctx)
    box: dict[str, Any] = {}
    done = threading.Event()

    def attempt() -> None:
        try:
            box["value"] = func(step_ctx)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(
        target=attempt, name=f"durable-step-{step_ctx.operation_id[:8]}", daemon=True
    ).start()
    if not done.wait(timeout):
        raise StepTimeoutError(f"{where} attempt {step_ctx.attempt} exceeded {timeout} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _retry_or_fail(
    ctx: DurableContext,
    call: OperationCall,
    config: StepConfig[Any],
    exc: Exception,
    attempt: int,
) -> NoReturn:
    error = error_object_from_exception(exc)
    decision = config.retry_strategy(exc, attempt)
    checkpointer = ctx._checkpointer
    if decision.should_retry:
        checkpointer.send(
            update_for(
                call,
                OperationAction.RETRY,
                error=error,
                step_options=StepOptions(next_attempt_delay_seconds=max(1, decision.delay_seconds)),
            ),
            sync=True,
        )
        raise SuspendExecution(f"{call.describe()} retries in {decision.delay_seconds} s")
    checkpointer.send(update_for(call, OperationAction.FAIL, error=error), sync=True)
    raise StepError.from_error_object(error) from exc
