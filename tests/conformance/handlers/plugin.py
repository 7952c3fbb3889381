"""Handlers of the plugin suite (10-x): the requirements' plugins, one per invocation.

Each plugin prints the JSON records its requirement describes to plain stdout,
stamped with the execution ARN its invocation-start hook received; the runner reads
them back and checks the requirement's ``ExpectedLogs`` (counts and order). The
handlers use every API style, so each is shown to accept plugins.
"""

from __future__ import annotations

import json
from typing import Any

from durable_builder import DurableBuilder
from durable_class import DurableHandler
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    LambdaHandler,
    StepConfig,
    StepContext,
    no_retry,
)
from durable_core.plugins import (
    DurablePlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)
from durable_core.types import OperationType
from durable_decorator import durable_execution

from tests.conformance.handlers._shared import ONE_SECOND_RETRY

HANDLERS: dict[str, LambdaHandler] = {}


class PluginFault(Exception):
    """What the faulty plugin of 10-4 raises from every hook."""


class ConformancePlugin(DurablePlugin):
    """Prints ``{"plugin": label, "hook": ..., ...}`` per hook; operation hooks for steps only."""

    def __init__(self, label: str, *, faulty: bool = False) -> None:
        self._label = label
        self._faulty = faulty
        self._arn: str | None = None

    def _emit(self, hook: str, **fields: Any) -> None:
        record = {"plugin": self._label, "hook": hook, **fields, "durableExecutionArn": self._arn}
        print(json.dumps(record), flush=True)
        if self._faulty:
            raise PluginFault(f"{self._label} fails in {hook}")

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self._arn = info.execution_arn
        self._emit("invocation-start", first=info.is_first_invocation)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self._emit("invocation-end", status=info.status.value)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        if _is_step(info):
            self._emit("operation-start", op=info.operation_id)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if _is_step(info):
            self._emit("operation-end", op=info.operation_id, status=info.status.value)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if _is_step(info):
            self._emit("attempt-start", n=info.attempt, op=info.operation_id)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if _is_step(info):
            self._emit(
                "attempt-end", n=info.attempt, outcome=info.outcome.value, op=info.operation_id
            )


def _is_step(info: OperationInfo) -> bool:
    return info.operation_type is OperationType.STEP


class ConformancePlugins:
    """The factory: a fresh plugin per invocation, as AWS's SDK registers them."""

    def __init__(self, label: str, *, faulty: bool = False) -> None:
        self._label = label
        self._faulty = faulty

    def create_plugin(self, info: InvocationStartInfo, /) -> DurablePlugin:
        return ConformancePlugin(self._label, faulty=self._faulty)


def _options(*labels: str, faulty: bool = False) -> ExecutionOptions:
    return ExecutionOptions(plugins=[ConformancePlugins(label, faulty=faulty) for label in labels])


def greet(event: str, ctx: DurableContext) -> str:
    def body(step_ctx: StepContext) -> str:
        step_ctx.logger.info(f"Greeting step running for: {event}")
        return f"Hello, {event}!"

    return ctx.step(body)


def succeed_on_second_attempt(event: None, ctx: DurableContext) -> str:
    def unreliable(step_ctx: StepContext) -> str:
        if step_ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "Operation succeeded"

    return ctx.step(unreliable, config=StepConfig(retry=ONE_SECOND_RETRY))


@durable_execution(options=_options("CONFPLUGIN"))
def wait_two_seconds(event: None, ctx: DurableContext) -> None:
    ctx.wait(2)


class AlwaysFails(DurableHandler):
    options = _options("CONFPLUGIN")

    def handle(self, event: None, ctx: DurableContext) -> Any:
        def fail(_: StepContext) -> None:
            raise RuntimeError("step always fails")

        return ctx.step(fail, config=StepConfig(retry=no_retry))


HANDLERS.update(
    {
        "10-1": run(greet, options=_options("CONFPLUGIN")),
        "10-2": run(greet, options=_options("CONFPLUGIN")),
        "10-3": run(succeed_on_second_attempt, options=_options("CONFPLUGIN")),
        "10-4": run(greet, options=_options("CONFPLUGIN-FAULTY", faulty=True)),
        "10-5": DurableBuilder(greet)
        .with_plugins(ConformancePlugins("CONFPLUGIN-A"), ConformancePlugins("CONFPLUGIN-B"))
        .build(),
        "10-6": wait_two_seconds,
        "10-7": AlwaysFails(),
    }
)
