"""Handlers of the step suite (1-x), written from each requirement's prose."""

from __future__ import annotations

import contextlib
from typing import Any

from durable_closure import run
from durable_core import (
    DurableContext,
    Jitter,
    LambdaHandler,
    RetryDecision,
    RetryPolicy,
    StepConfig,
    StepContext,
    StepError,
    StepSemantics,
    no_retry,
)

from tests.conformance.handlers._shared import ONE_SECOND_RETRY, UppercaseSerDes, crash_once

HANDLERS: dict[str, LambdaHandler] = {}


class TransientError(Exception):
    """The error the 1-15/1-16 retry strategies single out."""


def _greet(name: Any) -> str:
    return f"Hello, {name}!"


def step_basic(event: str, ctx: DurableContext) -> str:
    return ctx.step(lambda _: _greet(event))


def step_named(event: str, ctx: DurableContext) -> str:
    return ctx.step(lambda _: _greet(event), name="custom_step_name")


def sequential_steps(event: None, ctx: DurableContext) -> str:
    first = ctx.step(lambda _: "first")
    return ctx.step(lambda _: f"{first}_second")


def complex_result(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    def build_response(_: StepContext) -> dict[str, Any]:
        return {"user": {"name": event["name"], "tags": event["tags"]}, "count": len(event["tags"])}

    return ctx.step(build_response)


def null_result(event: None, ctx: DurableContext) -> None:
    return ctx.step(lambda _: None)


def custom_serdes(event: str, ctx: DurableContext) -> str:
    config: StepConfig[str] = StepConfig(serdes=UppercaseSerDes())
    return ctx.step(lambda _: event, config=config)


def step_logger(event: str, ctx: DurableContext) -> str:
    def greet(step_ctx: StepContext) -> str:
        step_ctx.logger.info(f"Greeting step started for: {event}")
        greeting = _greet(event)
        step_ctx.logger.info(f"Greeting step completed with: {greeting}")
        return greeting

    return ctx.step(greet)


def step_then_wait(value: str, seconds: int) -> LambdaHandler:
    def handler(event: None, ctx: DurableContext) -> str:
        result = ctx.step(lambda _: value)
        ctx.wait(seconds)
        return result

    return run(handler)


def replay_rethrows_failed_step(event: None, ctx: DurableContext) -> None:
    def fail(_: StepContext) -> None:
        ctx.logger.info("step executed")
        raise RuntimeError("permanent failure")

    with contextlib.suppress(StepError):
        ctx.step(fail, config=StepConfig(retry=no_retry))
    ctx.wait(1)


def fail_first_attempts(failures: int, result: Any, config: StepConfig[Any]) -> LambdaHandler:
    """A step whose first ``failures`` attempts raise, then it returns ``result``."""

    def handler(event: None, ctx: DurableContext) -> Any:
        def unreliable(step_ctx: StepContext) -> Any:
            if step_ctx.attempt <= failures:
                raise RuntimeError(f"attempt {step_ctx.attempt} failed")
            return result

        return ctx.step(unreliable, config=config)

    return run(handler)


def retry_on_transient(event: None, ctx: DurableContext) -> str:
    def flaky(step_ctx: StepContext) -> str:
        if step_ctx.attempt == 1:
            raise TransientError("temporary glitch")
        return "recovered"

    retry = RetryPolicy(
        initial_delay_seconds=1,
        backoff_rate=1,
        jitter=Jitter.NONE,
        retryable_error_types=[TransientError],
    )
    return ctx.step(flaky, config=StepConfig(retry=retry))


def no_retry_on_transient(event: None, ctx: DurableContext) -> str:
    def no_retry_on_transient_error(error: Exception, attempts_made: int) -> RetryDecision:
        if isinstance(error, TransientError):
            return RetryDecision(False)
        return RetryDecision(attempts_made < 3, 1)

    def flaky(_: StepContext) -> str:
        raise TransientError("temporary glitch")

    return ctx.step(flaky, config=StepConfig(retry=no_retry_on_transient_error))


def at_most_once_no_retry(event: str, ctx: DurableContext) -> str:
    def flaky(step_ctx: StepContext) -> str:
        step_ctx.logger.info(event)
        raise SystemExit(1)

    config: StepConfig[str] = StepConfig(
        retry=no_retry, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY
    )
    return ctx.step(flaky, name="at_most_once_flaky_step", config=config)


def at_most_once_with_retry(event: str, ctx: DurableContext) -> str:
    def flaky(step_ctx: StepContext) -> str:
        step_ctx.logger.info(event)
        crash_once(ctx, "at_most_once_with_retry")
        return "succeeded on second attempt"

    config: StepConfig[str] = StepConfig(
        retry=ONE_SECOND_RETRY, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY
    )
    return ctx.step(flaky, config=config)


def failing_step(event: None, ctx: DurableContext) -> None:
    def fail(_: StepContext) -> None:
        raise RuntimeError("step failed")

    ctx.step(fail, config=StepConfig(retry=no_retry))


def caught_step_error(event: None, ctx: DurableContext) -> str:
    def fail(_: StepContext) -> str:
        raise RuntimeError("step failed")

    try:
        value = ctx.step(fail, config=StepConfig(retry=no_retry))
    except StepError:
        value = "fallback"
    return ctx.step(lambda _: f"{value}_result")


HANDLERS["1-1"] = run(step_basic)
HANDLERS["1-2"] = run(step_named)
HANDLERS["1-3"] = run(sequential_steps)
HANDLERS["1-4"] = run(complex_result)
HANDLERS["1-5"] = run(null_result)
HANDLERS["1-6"] = run(custom_serdes)
HANDLERS["1-7"] = run(step_logger)
HANDLERS["1-8"] = step_then_wait("computed", 2)
HANDLERS["1-9"] = step_then_wait("cached_value", 1)
HANDLERS["1-10"] = run(replay_rethrows_failed_step)
HANDLERS["1-11"] = fail_first_attempts(1, "Operation succeeded", StepConfig(retry=ONE_SECOND_RETRY))
HANDLERS["1-12"] = fail_first_attempts(
    4,
    None,
    StepConfig(
        retry=RetryPolicy(
            max_attempts=4, initial_delay_seconds=1, backoff_rate=1, jitter=Jitter.NONE
        )
    ),
)
HANDLERS["1-13"] = fail_first_attempts(2, "succeeded with default retry", StepConfig())
HANDLERS["1-14"] = fail_first_attempts(
    2,
    "succeeded with custom retry",
    StepConfig(
        retry=RetryPolicy(
            max_attempts=5, initial_delay_seconds=2, backoff_rate=3, jitter=Jitter.NONE
        )
    ),
)
HANDLERS["1-15"] = run(retry_on_transient)
HANDLERS["1-16"] = run(no_retry_on_transient)
HANDLERS["1-17"] = run(at_most_once_no_retry)
HANDLERS["1-18"] = run(at_most_once_with_retry)
HANDLERS["1-19"] = run(failing_step)
HANDLERS["1-20"] = run(caught_step_error)
