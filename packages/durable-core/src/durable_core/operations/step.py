"""The step operation: run a body once, checkpoint its result, retry per strategy."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from durable_core._replay import Action, OperationCall, StepPlan, plan_step
from durable_core.config import StepConfig, StepSemantics
from durable_core.errors import (
    AWS_EXCEPTIONS_MODULE,
    DurableError,
    PayloadTooLargeError,
    SerDesError,
    StepInterruptedError,
    SuspendExecution,
    error_object_from_exception,
    log_user_failure,
    raise_step_error,
    with_exception_data,
)
from durable_core.operations._flow import Body, Effect, Flow, Send, SendResult, run_flow
from durable_core.operations._updates import update_for
from durable_core.payloads import check_payload_size, checkpointed_payload, recorded_payload
from durable_core.serdes import deserialize, serialize
from durable_core.types import ErrorObject, Operation, OperationAction, StepOptions

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext

T = TypeVar("T")


def run_step(
    ctx: DurableContext,
    call: OperationCall,
    func: Callable[[StepContext], T],
    config: StepConfig[T],
) -> T:
    """The sync step. A step that already succeeded (the whole of a replay, nearly) is
    answered here, by the same decisions as ``step_flow``, without a flow to drive."""
    recorded = ctx._begin(call)
    plan = plan_step(recorded, config.semantics)
    if plan.action is Action.RETURN:
        try:
            return _replayed(recorded, config, call.describe())
        finally:
            ctx._end(call, recorded, "replayed")
    return run_flow(_planned_flow(ctx, call, config, recorded, plan), ctx._checkpointer, func)


def step_flow(ctx: DurableContext, call: OperationCall, config: StepConfig[T]) -> Flow[T]:
    """The step, for any driver: the body is run where it yields ``Body((step_ctx,))``."""
    recorded = ctx._begin(call)
    plan = plan_step(recorded, config.semantics)
    return (yield from _planned_flow(ctx, call, config, recorded, plan))


def _replayed(recorded: Operation | None, config: StepConfig[T], where: str) -> T:
    """The recorded result of a succeeded step, read as the first run returned it."""
    assert recorded is not None
    payload = recorded.result
    if config.offload is not None:
        payload = recorded_payload(config.offload, payload, where)
    replayed: T = None if payload is None else deserialize(config.serdes, payload, where)  # type: ignore[assignment]
    return replayed


def _planned_flow(
    ctx: DurableContext,
    call: OperationCall,
    config: StepConfig[T],
    recorded: Operation | None,
    plan: StepPlan,
) -> Flow[T]:
    """The step after ``_begin`` looked up its record and ``plan_step`` decided."""
    where = call.describe()
    outcome = "replayed"
    try:
        if plan.action is Action.RETURN:
            return _replayed(recorded, config, where)
        if plan.action is Action.RAISE:
            assert recorded is not None
            _raise_recorded(recorded.error, config)
        if plan.action is Action.SUSPEND:
            outcome = "suspended"
            raise SuspendExecution(f"{where} waits for its next attempt")

        outcome = "executed"
        if plan.interrupted:
            yield from _retry_or_fail(
                call,
                config,
                StepInterruptedError(f"{where} was interrupted during attempt {plan.attempt}"),
                plan.attempt,
            )
        if plan.send_start:
            at_most_once = config.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
            yield Send(update_for(call, OperationAction.START), sync=at_most_once)
        from durable_core.context import StepContext

        step_ctx = StepContext(
            attempt=plan.attempt,
            operation_id=call.id,
            name=call.name,
            logger=ctx.logger.for_operation(call.id, call.name, plan.attempt),
        )
        try:
            with ctx._user_function(call, plan.attempt):
                value = yield Body((step_ctx,), config.timeout_seconds, where, plan.attempt)
        except (SuspendExecution, DurableError):
            raise
        except Exception as exc:
            log_user_failure(step_ctx.logger, exc, where)
            yield from _retry_or_fail(call, config, exc, plan.attempt)
        try:
            payload = serialize(config.serdes, value, where)
            # Return what replay will return, so the first run and replays agree.
            result: T = deserialize(config.serdes, payload, where)
            payload = checkpointed_payload(ctx.execution_arn, call, config.offload, payload)
            check_payload_size(payload, f"the result of {where}")
        except (SerDesError, PayloadTooLargeError) as exc:
            yield from _fail_at_once(call, config, exc)
        # An at-least-once result may be pipelined: if it is lost, replay runs the step
        # again, which its semantics allow (docs/performance.md, "Semantics kept").
        yield SendResult(
            update_for(call, OperationAction.SUCCEED, payload=payload),
            pipelined=config.semantics is not StepSemantics.AT_MOST_ONCE_PER_RETRY,
        )
        return result
    finally:
        ctx._end(call, recorded, outcome)


def _retry_or_fail(
    call: OperationCall, config: StepConfig[Any], exc: Exception, attempt: int
) -> Generator[Effect, Any, NoReturn]:
    error = error_object_from_exception(exc)
    if config.error_types and isinstance(exc, config.error_types):
        error = with_exception_data(error, exc)
    decision = config.retry_strategy(exc, attempt)
    if decision.should_retry:
        yield Send(
            update_for(
                call,
                OperationAction.RETRY,
                error=error,
                step_options=StepOptions(next_attempt_delay_seconds=max(1, decision.delay_seconds)),
            ),
            sync=True,
        )
        raise SuspendExecution(f"{call.describe()} retries in {decision.delay_seconds} s")
    yield Send(update_for(call, OperationAction.FAIL, error=error), sync=True)
    raise_step_error(error, config.error_types, exc)


def _fail_at_once(
    call: OperationCall, config: StepConfig[Any], exc: SerDesError | PayloadTooLargeError
) -> Generator[Effect, Any, NoReturn]:
    """A result that cannot be recorded fails the step for good, retry strategy bypassed
    (AWS's rule for a serdes failure): the body would only produce it again, and without
    a record every invocation would run it again."""
    error = error_object_from_exception(exc)
    yield Send(update_for(call, OperationAction.FAIL, error=error), sync=True)
    _raise_recorded(error, config, exc)


_SERDES_ERROR_TYPE = f"{AWS_EXCEPTIONS_MODULE}.SerDesError"


def _raise_recorded(
    error: ErrorObject | None, config: StepConfig[Any], cause: BaseException | None = None
) -> NoReturn:
    """Raise what a step's FAIL record stands for, on the first run and on replay alike: a
    serdes failure as ``SerDesError`` (as AWS's SDK raises it), else ``raise_step_error``."""
    if error is not None and error.error_type == _SERDES_ERROR_TYPE:
        message = error.error_message or "the step's result could not be serialised"
        raise SerDesError(message) from cause
    raise_step_error(error, config.error_types, cause)
