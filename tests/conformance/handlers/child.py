"""Handlers of the child-context suite (3-x), written from each requirement's prose."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from durable_closure import run
from durable_core import (
    ChildConfig,
    ChildContextError,
    DurableContext,
    LambdaHandler,
    RetryPolicy,
    StepConfig,
    StepContext,
    no_retry,
)

from tests.conformance.handlers._shared import ONE_SECOND_RETRY, UppercaseSerDes, crash_once

HANDLERS: dict[str, LambdaHandler] = {}


def _fail(_: StepContext) -> Any:
    raise RuntimeError("child step failed")


def child_basic(event: str, ctx: DurableContext) -> str:
    return ctx.run_in_child_context(lambda child: child.step(lambda _: event))


def child_named(event: dict[str, str], ctx: DurableContext) -> str:
    return ctx.run_in_child_context(
        lambda child: child.step(lambda _: event["value"]), name=event["name"]
    )


def child_sequential_steps(event: str, ctx: DurableContext) -> str:
    def body(child: DurableContext) -> str:
        first = child.step(lambda _: event)
        return child.step(lambda _: first)

    return ctx.run_in_child_context(body, name="sequential")


def child_step_fails(event: None, ctx: DurableContext) -> None:
    ctx.run_in_child_context(
        lambda child: child.step(_fail, config=StepConfig(retry=no_retry)), name="failing"
    )


def child_error_caught(event: str, ctx: DurableContext) -> str:
    with contextlib.suppress(ChildContextError):
        ctx.run_in_child_context(lambda child: child.step(_fail, config=StepConfig(retry=no_retry)))
    return ctx.step(lambda _: event)


def nested_children(event: str, ctx: DurableContext) -> str:
    def inner(child: DurableContext) -> str:
        return child.step(lambda _: event)

    def outer(child: DurableContext) -> str:
        child.step(lambda _: event)
        return child.run_in_child_context(inner, name="inner")

    return ctx.run_in_child_context(outer, name="outer")


def child_step_retry(event: str, ctx: DurableContext) -> str:
    def flaky(step_ctx: StepContext) -> str:
        if step_ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return event

    return ctx.run_in_child_context(
        lambda child: child.step(flaky, config=StepConfig(retry=ONE_SECOND_RETRY)), name="retry"
    )


def child_retry_exhausted(event: None, ctx: DurableContext) -> None:
    retry = RetryPolicy(max_attempts=2, initial_delay_seconds=1)
    ctx.run_in_child_context(
        lambda child: child.step(_fail, config=StepConfig(retry=retry)), name="exhausted"
    )


def child_then_wait(event: str, ctx: DurableContext) -> str:
    result = ctx.run_in_child_context(lambda child: child.step(lambda _: event))
    ctx.wait(1)
    return result


def _step_then_wait(event: str) -> Callable[[DurableContext], str]:
    def body(child: DurableContext) -> str:
        value = child.step(lambda _: event)
        child.wait(1)
        return value

    return body


def child_step_and_wait(event: str, ctx: DurableContext) -> str:
    return ctx.run_in_child_context(_step_then_wait(event), name="step_and_wait")


def child_large_result(event: str, ctx: DurableContext) -> int:
    def body(child: DurableContext) -> str:
        child.logger.with_replay_logging().info(event)
        small = child.step(lambda _: event)
        return small * (300 * 1024 // len(small) + 1)

    large = ctx.run_in_child_context(body, name="large")
    ctx.wait(1)
    return len(large)


def child_interrupted(event: str, ctx: DurableContext) -> str:
    def body(child: DurableContext) -> str:
        def crashing(_: StepContext) -> str:
            crash_once(ctx, "child_interrupted")
            return event

        return child.step(crashing)

    return ctx.run_in_child_context(body)


def child_only_wait(event: str, ctx: DurableContext) -> str:
    def body(child: DurableContext) -> str:
        child.wait(1)
        return event

    ctx.run_in_child_context(body, name="waiting")
    return ctx.step(lambda _: event)


def child_custom_serdes(event: str, ctx: DurableContext) -> str:
    config: ChildConfig[str] = ChildConfig(serdes=UppercaseSerDes())
    return ctx.run_in_child_context(
        lambda child: child.step(lambda _: event), name="uppercase", config=config
    )


def child_raises_directly(event: None, ctx: DurableContext) -> None:
    def body(child: DurableContext) -> None:
        raise RuntimeError("child body failed")

    ctx.run_in_child_context(body, name="raising")


def child_returns_null(event: None, ctx: DurableContext) -> None:
    ctx.run_in_child_context(lambda child: None, name="null")


def child_logger_only(event: str, ctx: DurableContext) -> str:
    def body(child: DurableContext) -> str:
        child.logger.info(event)
        return event

    result = ctx.run_in_child_context(body, name="logging")
    ctx.wait(1)
    return result


def child_then_step_and_wait(event: str, ctx: DurableContext) -> str:
    result = ctx.run_in_child_context(_step_then_wait(event), name="inner")
    ctx.step(lambda _: event)
    ctx.wait(1)
    return result


HANDLERS["3-1"] = run(child_basic)
HANDLERS["3-2"] = run(child_named)
HANDLERS["3-3"] = run(child_sequential_steps)
HANDLERS["3-4"] = run(child_step_fails)
HANDLERS["3-5"] = run(child_error_caught)
HANDLERS["3-6"] = run(nested_children)
HANDLERS["3-7"] = run(child_step_retry)
HANDLERS["3-8"] = run(child_retry_exhausted)
HANDLERS["3-9"] = run(child_then_wait)
HANDLERS["3-10"] = run(child_step_and_wait)
HANDLERS["3-11"] = run(child_large_result)
HANDLERS["3-12"] = run(child_interrupted)
HANDLERS["3-13"] = run(child_only_wait)
HANDLERS["3-14"] = run(child_custom_serdes)
HANDLERS["3-15"] = run(child_raises_directly)
HANDLERS["3-16"] = run(child_returns_null)
HANDLERS["3-17"] = run(child_logger_only)
HANDLERS["3-18"] = run(child_then_step_and_wait)
