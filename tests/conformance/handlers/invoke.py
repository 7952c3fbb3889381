"""Handlers of the invoke suite (5-x) and the target functions they invoke by name."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from durable_closure import run
from durable_core import DurableContext, InvokeConfig, InvokeError, LambdaHandler

HANDLERS: dict[str, LambdaHandler] = {}
FUNCTIONS: dict[str, LambdaHandler] = {}

ECHO = "conformance-echo"
FAIL = "conformance-fail"
MEASURE = "conformance-measure"


def echo(event: Any, ctx: DurableContext) -> Any:
    return event


def fail(event: Any, ctx: DurableContext) -> Any:
    raise RuntimeError("target function failed")


def measure(event: dict[str, str], ctx: DurableContext) -> dict[str, int]:
    return {"received_bytes": len(event["blob"])}


FUNCTIONS[ECHO] = run(echo)
FUNCTIONS[FAIL] = run(fail)
FUNCTIONS[MEASURE] = run(measure)


def echo_input(event: Any, ctx: DurableContext) -> Any:
    return ctx.invoke(ECHO, event)


def echo_named(event: dict[str, str], ctx: DurableContext) -> Any:
    return ctx.invoke(ECHO, event["payload"], name=event["name"])


def invoke_failing(event: None, ctx: DurableContext) -> Any:
    return ctx.invoke(FAIL, None)


def invoke_failing_caught(event: None, ctx: DurableContext) -> Any:
    try:
        return ctx.invoke(FAIL, None)
    except InvokeError:
        return "fallback"


def large_payload(event: None, ctx: DurableContext) -> Any:
    return ctx.invoke(MEASURE, {"blob": "x" * 200_000})


def with_tenant(event: dict[str, str], ctx: DurableContext) -> Any:
    config: InvokeConfig[Any, Any] = InvokeConfig(tenant_id=event["tenantId"])
    return ctx.invoke(ECHO, event["payload"], config=config)


def invoke_then_wait(event: None, ctx: DurableContext) -> Any:
    result: Any = ctx.invoke(ECHO, "cached")
    ctx.wait(1)
    return result


def failed_invoke_then_wait(event: None, ctx: DurableContext) -> str:
    with contextlib.suppress(InvokeError):
        ctx.invoke(FAIL, None)
    ctx.wait(1)
    return "caught"


def step_then_invoke(event: None, ctx: DurableContext) -> Any:
    value = ctx.step(lambda _: "from step")
    return ctx.invoke(ECHO, value)


def invoke_then_step(event: None, ctx: DurableContext) -> Any:
    value: Any = ctx.invoke(ECHO, "from invoke")
    return ctx.step(lambda _: f"processed {value}")


def invoke_in_child(event: None, ctx: DurableContext) -> Any:
    return ctx.run_in_child_context(lambda child: child.invoke(ECHO, "in child"))


def sequential_invokes(event: None, ctx: DurableContext) -> list[Any]:
    return [ctx.invoke(ECHO, "one"), ctx.invoke(ECHO, "two")]


class UppercasePayloadSerDes:
    """Sends every string value of the payload object uppercased."""

    def serialize(self, value: dict[str, str]) -> str:
        return json.dumps({key: item.upper() for key, item in value.items()})

    def deserialize(self, data: str) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(data)
        return loaded


class UppercaseResultSerDes:
    """Reads the result's JSON text uppercased."""

    def serialize(self, value: str) -> str:
        return value

    def deserialize(self, data: str) -> str:
        return data.upper()


def custom_payload_serdes(event: dict[str, str], ctx: DurableContext) -> Any:
    config: InvokeConfig[dict[str, str], Any] = InvokeConfig(
        payload_serdes=UppercasePayloadSerDes()
    )
    return ctx.invoke(ECHO, event, config=config)


def custom_result_serdes(event: str, ctx: DurableContext) -> Any:
    config: InvokeConfig[Any, str] = InvokeConfig(result_serdes=UppercaseResultSerDes())
    return ctx.invoke(ECHO, event, config=config)


HANDLERS["5-1"] = run(echo_input)
HANDLERS["5-2"] = run(echo_named)
HANDLERS["5-3"] = run(echo_input)
HANDLERS["5-4"] = run(echo_input)
HANDLERS["5-5"] = run(invoke_failing)
HANDLERS["5-6"] = run(invoke_failing_caught)
HANDLERS["5-7"] = run(large_payload)
HANDLERS["5-8"] = run(with_tenant)
HANDLERS["5-9"] = run(invoke_then_wait)
HANDLERS["5-10"] = run(failed_invoke_then_wait)
HANDLERS["5-11"] = run(step_then_invoke)
HANDLERS["5-12"] = run(invoke_then_step)
HANDLERS["5-13"] = run(invoke_in_child)
HANDLERS["5-14"] = run(sequential_invokes)
HANDLERS["5-15"] = run(custom_payload_serdes)
HANDLERS["5-16"] = run(custom_result_serdes)
