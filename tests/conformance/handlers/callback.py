"""Handlers of the callback suite (4-x), written from each requirement's prose."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from durable_closure import run
from durable_core import (
    Callback,
    CallbackConfig,
    CallbackError,
    DurableContext,
    LambdaHandler,
)

HANDLERS: dict[str, LambdaHandler] = {}


def await_callback(name: str | None = None, **config: Any) -> LambdaHandler:
    """Create a callback (named ``name`` or by the input), block on its result, return it."""

    def handler(event: str | None, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name=name or event, config=CallbackConfig(**config))
        return callback.result()

    return run(handler)


def callback_then_step(**config: Any) -> LambdaHandler:
    def handler(event: str, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name=event, config=CallbackConfig(**config))
        ctx.step(lambda _: "between")
        return callback.result()

    return run(handler)


def callback_then_wait(seconds: int, **config: Any) -> LambdaHandler:
    def handler(event: str, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name=event, config=CallbackConfig(**config))
        ctx.wait(seconds)
        return callback.result()

    return run(handler)


def callback_result_then_wait(event: str, ctx: DurableContext) -> Any:
    result: Any = ctx.create_callback(name=event).result()
    ctx.wait(2)
    return result


def caught_callback_error(**config: Any) -> LambdaHandler:
    def handler(event: str, ctx: DurableContext) -> str:
        try:
            message = str(ctx.create_callback(name=event, config=CallbackConfig(**config)).result())
        except CallbackError as error:
            message = f"callback failed: {error}"
        ctx.wait(2)
        return message

    return run(handler)


class ReceivedSerDes:
    """Reads a JSON object whose ``timestamp`` is ISO 8601 into epoch seconds."""

    def serialize(self, value: Any) -> str:
        return json.dumps(value)

    def deserialize(self, data: str) -> dict[str, Any]:
        received: dict[str, Any] = json.loads(data)
        stamp = dt.datetime.fromisoformat(str(received["timestamp"]).replace("Z", "+00:00"))
        return {**received, "timestamp": int(stamp.timestamp())}


class IntSerDes:
    def serialize(self, value: int) -> str:
        return str(value)

    def deserialize(self, data: str) -> int:
        return int(json.loads(data))


def typed_payload(event: str, ctx: DurableContext) -> dict[str, Any]:
    config: CallbackConfig[dict[str, Any]] = CallbackConfig(serdes=ReceivedSerDes())
    return {"received": ctx.create_callback(name=event, config=config).result()}


def numeric_payload(event: str, ctx: DurableContext) -> dict[str, int]:
    config: CallbackConfig[int] = CallbackConfig(serdes=IntSerDes())
    count = ctx.create_callback(name=event, config=config).result()
    return {"count": count, "doubled": count * 2}


def sequential_callbacks(event: list[str], ctx: DurableContext) -> list[Any]:
    first: Any = ctx.create_callback(name=event[0]).result()
    second: Any = ctx.create_callback(name=event[1]).result()
    return [first, second]


def concurrent_callbacks(b_first: bool) -> LambdaHandler:
    def handler(event: list[str], ctx: DurableContext) -> list[Any]:
        a: Callback[Any] = ctx.create_callback(name=event[0])
        b: Callback[Any] = ctx.create_callback(name=event[1])
        if b_first:
            b_result = b.result()
            return [a.result(), b_result]
        return [a.result(), b.result()]

    return run(handler)


HANDLERS["4-1"] = await_callback()
HANDLERS["4-2"] = await_callback("approval")
HANDLERS["4-3"] = await_callback(timeout_seconds=5)
HANDLERS["4-4"] = await_callback(heartbeat_timeout_seconds=5)
HANDLERS["4-5"] = await_callback(heartbeat_timeout_seconds=10)
HANDLERS["4-6"] = await_callback()
HANDLERS["4-7"] = callback_then_step()
HANDLERS["4-8"] = callback_then_step(timeout_seconds=5)
HANDLERS["4-9"] = callback_then_wait(5)
HANDLERS["4-10"] = callback_then_wait(5)
HANDLERS["4-11"] = callback_then_wait(6, timeout_seconds=3)
HANDLERS["4-12"] = run(callback_result_then_wait)
HANDLERS["4-13"] = caught_callback_error()
HANDLERS["4-14"] = caught_callback_error(timeout_seconds=3)
HANDLERS["4-15"] = run(typed_payload)
HANDLERS["4-16"] = run(numeric_payload)
HANDLERS["4-17"] = run(sequential_callbacks)
HANDLERS["4-18"] = concurrent_callbacks(b_first=False)
HANDLERS["4-19"] = concurrent_callbacks(b_first=True)
