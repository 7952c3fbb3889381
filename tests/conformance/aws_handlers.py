"""Handlers written with AWS's own SDK for the requirements ``dex-local-runner`` fails.

Each is the requirement's handler as ``tests/conformance/handlers`` writes it for our
SDK, in AWS's API. ``generate_table.py`` runs one on the same runner, the same way,
when ours fails there: the same validator messages mean the runner, not the SDK,
is what the requirement finds wanting. ``tests/conformance/test_dex.py`` does it for
one requirement of each kind in ``make test``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python.config import (
    CallbackConfig,
    Duration,
    InvokeConfig,
    JitterStrategy,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.exceptions import CallbackError, InvokeError
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.plugin import (
    DurableInstrumentationPlugin,
    DurableInstrumentationPluginFactory,
    InvocationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)
from aws_durable_execution_sdk_python.plugin import OperationType as PluginOperationType
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision
from durable_core.execution import LambdaHandler

from tests.conformance.handlers.invoke import ECHO, FAIL, MEASURE
from tests.http.support import lambda_client

__all__ = ["AWS_FUNCTIONS", "AWS_HANDLERS"]

AWS_HANDLERS: dict[str, LambdaHandler] = {}
# The functions the invoke requirements call by name (``handlers/invoke.py``'s names).
AWS_FUNCTIONS: dict[str, LambdaHandler] = {}

_crashed: set[tuple[str, str]] = set()


def aws(
    handler: Callable[[Any, Any], Any],
    plugins: list[DurableInstrumentationPluginFactory] | None = None,
) -> LambdaHandler:
    """``handler`` under AWS's ``@durable_execution``, checkpointing to the runner that
    invokes it (``AWS_ENDPOINT_URL_LAMBDA``, set by ``tests/conformance/dex.py``)."""

    def invoke(event: Any, lambda_context: Any) -> Any:
        client = lambda_client(os.environ["AWS_ENDPOINT_URL_LAMBDA"])
        durable = durable_execution(boto3_client=client, plugins=plugins)
        return durable(handler)(event, lambda_context)

    return invoke


def _retry(
    max_attempts: int = 3,
    delay: int = 5,
    rate: float = 2,
    semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
    **more: Any,
) -> StepConfig:
    return StepConfig(
        step_semantics=semantics,
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=max_attempts,
                initial_delay=Duration.from_seconds(delay),
                backoff_rate=rate,
                jitter_strategy=JitterStrategy.NONE,
                **more,
            )
        ),
    )


def _crash_once(arn: str, label: str) -> None:
    """Exit the process (``Runtime.ExitError``) the first time an execution gets here."""
    if (arn, label) not in _crashed:
        _crashed.add((arn, label))
        raise SystemExit(1)


def step_basic(event: str, ctx: Any) -> str:
    return ctx.step(lambda _: f"Hello, {event}!")


def fail_first_attempts(
    failures: int,
    result: Any,
    config: StepConfig | None,
    plugins: list[DurableInstrumentationPluginFactory] | None = None,
) -> LambdaHandler:
    def handler(event: Any, ctx: Any) -> Any:
        def unreliable(step_ctx: Any) -> Any:
            if step_ctx.attempt <= failures:
                raise RuntimeError(f"attempt {step_ctx.attempt} failed")
            return result

        return ctx.step(unreliable, config=config)

    return aws(handler, plugins)


class TransientError(Exception):
    """The error the 1-15 retry strategy singles out."""


def retry_on_transient(event: Any, ctx: Any) -> str:
    def flaky(step_ctx: Any) -> str:
        if step_ctx.attempt == 1:
            raise TransientError("temporary glitch")
        return "recovered"

    return ctx.step(flaky, config=_retry(delay=1, rate=1, retryable_error_types=[TransientError]))


def at_most_once_no_retry(event: str, ctx: Any) -> str:
    def flaky(step_ctx: Any) -> str:
        step_ctx.logger.info(event)
        raise SystemExit(1)

    config = _retry(max_attempts=1, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
    return ctx.step(flaky, name="at_most_once_flaky_step", config=config)


def at_most_once_with_retry(event: str, ctx: Any) -> str:
    def flaky(step_ctx: Any) -> str:
        step_ctx.logger.info(event)
        _crash_once(ctx.state.durable_execution_arn, "at_most_once_with_retry")
        return "succeeded on second attempt"

    config = _retry(2, 1, 1, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
    return ctx.step(flaky, config=config)


def child_step_retry(event: str, ctx: Any) -> str:
    def body(child: Any) -> str:
        def unreliable(step_ctx: Any) -> str:
            if step_ctx.attempt == 1:
                raise RuntimeError("first attempt fails")
            return event

        return child.step(unreliable, config=_retry(max_attempts=2, delay=1, rate=1))

    return ctx.run_in_child_context(body, name="retry")


def child_interrupted(event: str, ctx: Any) -> str:
    def body(child: Any) -> str:
        def crashing(_: Any) -> str:
            _crash_once(ctx.state.durable_execution_arn, "child_interrupted")
            return event

        return child.step(crashing)

    return ctx.run_in_child_context(body)


def await_callback(**timeouts: int) -> LambdaHandler:
    def handler(event: str, ctx: Any) -> Any:
        config = CallbackConfig(**{k: Duration.from_seconds(v) for k, v in timeouts.items()})
        return ctx.create_callback(name=event, config=config).result()

    return aws(handler)


def callback_then_step(event: str, ctx: Any) -> Any:
    config = CallbackConfig(timeout=Duration.from_seconds(5))
    callback = ctx.create_callback(name=event, config=config)
    ctx.step(lambda _: "between")
    return callback.result()


def callback_then_wait(event: str, ctx: Any) -> Any:
    callback = ctx.create_callback(name=event, config=CallbackConfig(Duration.from_seconds(3)))
    ctx.wait(Duration.from_seconds(6))
    return callback.result()


def caught_callback_error(event: str, ctx: Any) -> str:
    config = CallbackConfig(timeout=Duration.from_seconds(3))
    try:
        message = str(ctx.create_callback(name=event, config=config).result())
    except CallbackError as error:
        message = f"callback failed: {error}"
    ctx.wait(Duration.from_seconds(2))
    return message


def echo(event: Any, ctx: Any) -> Any:
    return event


def fail(event: Any, ctx: Any) -> Any:
    raise RuntimeError("target function failed")


def measure(event: dict[str, str], ctx: Any) -> dict[str, int]:
    return {"received_bytes": len(event["blob"])}


def echo_input(event: Any, ctx: Any) -> Any:
    return ctx.invoke(ECHO, event)


def echo_named(event: dict[str, str], ctx: Any) -> Any:
    return ctx.invoke(ECHO, event["payload"], name=event["name"])


def invoke_failing(event: None, ctx: Any) -> Any:
    return ctx.invoke(FAIL, None)


def invoke_failing_caught(event: None, ctx: Any) -> Any:
    try:
        return ctx.invoke(FAIL, None)
    except InvokeError:
        return "fallback"


def large_payload(event: None, ctx: Any) -> Any:
    return ctx.invoke(MEASURE, {"blob": "x" * 200_000})


def with_tenant(event: dict[str, str], ctx: Any) -> Any:
    config: InvokeConfig[Any, Any] = InvokeConfig(tenant_id=event["tenantId"])
    return ctx.invoke(ECHO, event["payload"], config=config)


def invoke_then_wait(event: None, ctx: Any) -> Any:
    result = ctx.invoke(ECHO, "cached")
    ctx.wait(Duration.from_seconds(1))
    return result


def failed_invoke_then_wait(event: None, ctx: Any) -> str:
    with contextlib.suppress(InvokeError):
        ctx.invoke(FAIL, None)
    ctx.wait(Duration.from_seconds(1))
    return "caught"


def step_then_invoke(event: None, ctx: Any) -> Any:
    value = ctx.step(lambda _: "from step")
    return ctx.invoke(ECHO, value)


def invoke_then_step(event: None, ctx: Any) -> Any:
    value = ctx.invoke(ECHO, "from invoke")
    return ctx.step(lambda _: f"processed {value}")


def invoke_in_child(event: None, ctx: Any) -> Any:
    return ctx.run_in_child_context(lambda child: child.invoke(ECHO, "in child"))


def sequential_invokes(event: None, ctx: Any) -> list[Any]:
    return [ctx.invoke(ECHO, "one"), ctx.invoke(ECHO, "two")]


class UppercasePayloadSerDes(SerDes[dict[str, str]]):
    """Sends every string value of the payload object uppercased."""

    def serialize(self, value: dict[str, str], serdes_context: SerDesContext) -> str:
        return json.dumps({key: item.upper() for key, item in value.items()})

    def deserialize(self, data: str, serdes_context: SerDesContext) -> dict[str, str]:
        loaded: dict[str, str] = json.loads(data)
        return loaded


class UppercaseResultSerDes(SerDes[str]):
    """Reads the result's JSON text uppercased."""

    def serialize(self, value: str, serdes_context: SerDesContext) -> str:
        return value

    def deserialize(self, data: str, serdes_context: SerDesContext) -> str:
        return data.upper()


def custom_payload_serdes(event: dict[str, str], ctx: Any) -> Any:
    config: InvokeConfig[dict[str, str], Any] = InvokeConfig(
        serdes_payload=UppercasePayloadSerDes()
    )
    return ctx.invoke(ECHO, event, config=config)


def custom_result_serdes(event: str, ctx: Any) -> Any:
    config: InvokeConfig[Any, str] = InvokeConfig(serdes_result=UppercaseResultSerDes())
    return ctx.invoke(ECHO, event, config=config)


def _until(threshold: int, seconds: int = 1) -> Callable[[int, int], WaitForConditionDecision]:
    def keep_polling(state: int, attempt: int) -> WaitForConditionDecision:
        if state < threshold:
            return WaitForConditionDecision.continue_waiting(Duration.from_seconds(seconds))
        return WaitForConditionDecision.stop_polling()

    return keep_polling


def _increment(state: int, _: Any) -> int:
    return state + 1


def count_to_input(initial: int = 0, seconds: int = 1, name: str | None = None) -> LambdaHandler:
    """Increment from ``initial`` until the state reaches the input threshold."""

    def handler(event: int, ctx: Any) -> int:
        config = WaitForConditionConfig(wait_strategy=_until(event, seconds), initial_state=initial)
        return ctx.wait_for_condition(_increment, config, name=name)

    return aws(handler)


def result_feeds_step(event: int, ctx: Any) -> int:
    config = WaitForConditionConfig(wait_strategy=_until(event), initial_state=0)
    final = ctx.wait_for_condition(_increment, config)
    return ctx.step(lambda _: final * 10)


def two_conditions(event: None, ctx: Any) -> int:
    first = ctx.wait_for_condition(
        _increment, WaitForConditionConfig(wait_strategy=_until(2), initial_state=0)
    )
    return ctx.wait_for_condition(
        _increment, WaitForConditionConfig(wait_strategy=_until(4), initial_state=first)
    )


def _register(callback_id: str, callback_ctx: Any) -> None:
    """Hands the id to the external system; here, the runner reads it from the history."""
    callback_ctx.logger.info(f"callback id {callback_id}")


def await_answer(
    recover: str | None = None, timeout: int = 0, heartbeat_timeout: int = 0
) -> LambdaHandler:
    """One wait_for_callback named by the input; ``recover`` on CallbackError.
    (A zero timeout is AWS's default: none.)"""

    def handler(event: str, ctx: Any) -> Any:
        config = WaitForCallbackConfig(
            timeout=Duration.from_seconds(timeout),
            heartbeat_timeout=Duration.from_seconds(heartbeat_timeout),
        )
        try:
            return ctx.wait_for_callback(_register, name=event, config=config)
        except CallbackError:
            if recover is None:
                raise
            return recover

    return aws(handler)


class AttemptPlugin(DurableInstrumentationPlugin):
    """10-3's plugin: prints a JSON record per step attempt's start and end, stamped with
    the execution ARN its invocation-start hook received (``handlers/plugin.py``'s)."""

    def __init__(self) -> None:
        self._arn: str | None = None

    def _emit(self, hook: str, **fields: Any) -> None:
        record = {"plugin": "CONFPLUGIN", "hook": hook, **fields, "durableExecutionArn": self._arn}
        print(json.dumps(record), flush=True)

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self._arn = info.execution_arn

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if info.operation_type is PluginOperationType.STEP:
            self._emit("attempt-start", n=info.attempt, op=info.operation_id)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if info.operation_type is PluginOperationType.STEP:
            self._emit(
                "attempt-end", n=info.attempt, outcome=info.outcome.value, op=info.operation_id
            )


class AttemptPlugins:
    """The factory: a fresh plugin per invocation."""

    def create_plugin(self, info: InvocationStartInfo, /) -> DurableInstrumentationPlugin:
        return AttemptPlugin()


AWS_FUNCTIONS[ECHO] = aws(echo)
AWS_FUNCTIONS[FAIL] = aws(fail)
AWS_FUNCTIONS[MEASURE] = aws(measure)
AWS_HANDLERS["1-1"] = aws(step_basic)
AWS_HANDLERS["1-11"] = fail_first_attempts(1, "Operation succeeded", _retry(2, 1, 1))
AWS_HANDLERS["1-13"] = fail_first_attempts(2, "succeeded with default retry", None)
AWS_HANDLERS["1-14"] = fail_first_attempts(2, "succeeded with custom retry", _retry(5, 2, 3))
AWS_HANDLERS["1-15"] = aws(retry_on_transient)
AWS_HANDLERS["1-17"] = aws(at_most_once_no_retry)
AWS_HANDLERS["1-18"] = aws(at_most_once_with_retry)
AWS_HANDLERS["3-7"] = aws(child_step_retry)
AWS_HANDLERS["3-12"] = aws(child_interrupted)
AWS_HANDLERS["4-3"] = await_callback(timeout=5)
AWS_HANDLERS["4-4"] = await_callback(heartbeat_timeout=5)
AWS_HANDLERS["4-5"] = await_callback(heartbeat_timeout=10)
AWS_HANDLERS["4-8"] = aws(callback_then_step)
AWS_HANDLERS["4-11"] = aws(callback_then_wait)
AWS_HANDLERS["4-14"] = aws(caught_callback_error)
AWS_HANDLERS["5-1"] = aws(echo_input)
AWS_HANDLERS["5-2"] = aws(echo_named)
AWS_HANDLERS["5-3"] = aws(echo_input)
AWS_HANDLERS["5-4"] = aws(echo_input)
AWS_HANDLERS["5-5"] = aws(invoke_failing)
AWS_HANDLERS["5-6"] = aws(invoke_failing_caught)
AWS_HANDLERS["5-7"] = aws(large_payload)
AWS_HANDLERS["5-8"] = aws(with_tenant)
AWS_HANDLERS["5-9"] = aws(invoke_then_wait)
AWS_HANDLERS["5-10"] = aws(failed_invoke_then_wait)
AWS_HANDLERS["5-11"] = aws(step_then_invoke)
AWS_HANDLERS["5-12"] = aws(invoke_then_step)
AWS_HANDLERS["5-13"] = aws(invoke_in_child)
AWS_HANDLERS["5-14"] = aws(sequential_invokes)
AWS_HANDLERS["5-15"] = aws(custom_payload_serdes)
AWS_HANDLERS["5-16"] = aws(custom_result_serdes)
AWS_HANDLERS["6-1"] = count_to_input()
AWS_HANDLERS["6-3"] = count_to_input(name="poll-status")
AWS_HANDLERS["6-4"] = count_to_input(5)
AWS_HANDLERS["6-5"] = count_to_input(seconds=2)
AWS_HANDLERS["6-12"] = aws(result_feeds_step)
AWS_HANDLERS["6-13"] = aws(two_conditions)
AWS_HANDLERS["7-5"] = await_answer(timeout=3)
AWS_HANDLERS["7-12"] = await_answer(heartbeat_timeout=5)
AWS_HANDLERS["7-13"] = await_answer(heartbeat_timeout=10)
AWS_HANDLERS["7-14"] = await_answer("timed-out-handled", timeout=3)
AWS_HANDLERS["10-3"] = fail_first_attempts(
    1, "Operation succeeded", _retry(2, 1, 1), plugins=[AttemptPlugins()]
)
