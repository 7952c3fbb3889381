"""Handlers of the wait_for_callback suite (7-x), written from each requirement's prose."""

from __future__ import annotations

import json
from typing import Any

from durable_closure import run
from durable_core import (
    CallbackError,
    DurableContext,
    JsonSerDes,
    LambdaHandler,
    RetryPolicy,
    StepContext,
    WaitForCallbackConfig,
)

HANDLERS: dict[str, LambdaHandler] = {}


def _register(callback_id: str, step_ctx: StepContext) -> None:
    """Hands the id to the external system; here, the runner reads it from the history."""
    step_ctx.logger.info(f"callback id {callback_id}")


def _always_throws(callback_id: str, step_ctx: StepContext) -> None:
    raise RuntimeError("submitter failed")


def await_answer(
    name: str | None = None, recover: str | None = None, **config: Any
) -> LambdaHandler:
    """One wait_for_callback named ``name`` (or by the input); ``recover`` on CallbackError."""

    def handler(event: str | None, ctx: DurableContext) -> Any:
        callback_config: WaitForCallbackConfig[Any] = WaitForCallbackConfig(**config)
        try:
            return ctx.wait_for_callback(_register, name=name or event, config=callback_config)
        except CallbackError:
            if recover is None:
                raise
            return recover

    return run(handler)


def anonymous(event: None, ctx: DurableContext) -> Any:
    return ctx.wait_for_callback(lambda callback_id, step_ctx: None)


def submitter_exhausted(event: str, ctx: DurableContext) -> Any:
    retry = RetryPolicy(max_attempts=2, initial_delay_seconds=1, backoff_rate=1)
    config: WaitForCallbackConfig[Any] = WaitForCallbackConfig(retry=retry)
    return ctx.wait_for_callback(_always_throws, name=event, config=config)


def inside_child(event: str, ctx: DurableContext) -> Any:
    return ctx.run_in_child_context(
        lambda child: child.wait_for_callback(_register, name=event), name="wrapper"
    )


def two_in_sequence(event: None, ctx: DurableContext) -> Any:
    ctx.wait_for_callback(_register, name="first")
    return ctx.wait_for_callback(_register, name="second")


def after_wait_and_step(event: str, ctx: DurableContext) -> Any:
    ctx.wait(1)
    ctx.step(lambda _: {"prepared": True})
    return ctx.wait_for_callback(_register, name=event)


def json_payload(event: str, ctx: DurableContext) -> Any:
    config: WaitForCallbackConfig[dict[str, Any]] = WaitForCallbackConfig(serdes=JsonSerDes())
    answer = ctx.wait_for_callback(_register, name=event, config=config)
    return answer["status"] if isinstance(answer, dict) else json.loads(answer)["status"]


HANDLERS["7-1"] = await_answer()
HANDLERS["7-2"] = await_answer("approval")
HANDLERS["7-3"] = run(anonymous)
HANDLERS["7-4"] = await_answer()
HANDLERS["7-5"] = await_answer(timeout_seconds=3)
HANDLERS["7-6"] = await_answer(recover="recovered")
HANDLERS["7-7"] = run(submitter_exhausted)
HANDLERS["7-8"] = run(inside_child)
HANDLERS["7-9"] = run(two_in_sequence)
HANDLERS["7-10"] = run(after_wait_and_step)
HANDLERS["7-11"] = run(json_payload)
HANDLERS["7-12"] = await_answer(heartbeat_timeout_seconds=5)
HANDLERS["7-13"] = await_answer(heartbeat_timeout_seconds=10)
HANDLERS["7-14"] = await_answer(timeout_seconds=3, recover="timed-out-handled")
HANDLERS["7-15"] = await_answer()
