"""One workflow, written once, instantiated for AWS's SDK and for ours.

The bodies are shared; only what the two APIs spell differently is injected: the
wait duration (AWS takes a ``Duration``, we take seconds) and the step configs (each
SDK's own ``StepConfig`` with a deterministic retry strategy).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.config import StepConfig as AwsStepConfig
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.retries import (
    RetryDecision as AwsRetryDecision,
)
from aws_durable_execution_sdk_python.retries import (
    RetryStrategyConfig,
    create_retry_strategy,
)
from durable_core import Jitter, RetryPolicy, StepConfig, no_retry

Handler = Callable[[Any, Any], Any]

WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
DAY = dt.date(2024, 5, 6)
AMOUNT = Decimal("12.50")
TOKEN = uuid.UUID("12345678-1234-5678-1234-567812345678")


@dataclass(frozen=True)
class Dialect:
    """What differs between the two SDKs' APIs for the same workflow."""

    wait_5s: Any
    retry_twice_after_2s: Any  # a step config: 3 attempts, 2 s apart, no jitter
    no_retry: Any  # a step config that fails on the first error


AWS = Dialect(
    wait_5s=Duration.from_seconds(5),
    retry_twice_after_2s=AwsStepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=3,
                initial_delay=Duration.from_seconds(2),
                backoff_rate=1,
                jitter_strategy=JitterStrategy.NONE,
            )
        )
    ),
    no_retry=AwsStepConfig(retry_strategy=lambda error, attempts: AwsRetryDecision.no_retry()),
)

OURS = Dialect(
    wait_5s=5,
    retry_twice_after_2s=StepConfig(
        retry=RetryPolicy(
            max_attempts=3, initial_delay_seconds=2, backoff_rate=1, jitter=Jitter.NONE
        )
    ),
    no_retry=StepConfig(retry=no_retry),
)


def full_workflow(d: Dialect, calls: Counter[str]) -> Handler:
    """Named steps, envelope-serialised results, a wait, a child context, a retried step."""

    def body(name: str, value: Any) -> Callable[[Any], Any]:
        def run(_: Any) -> Any:
            calls[name] += 1
            return value

        return run

    def flaky(step: Any) -> str:
        # The attempt number comes from the checkpoint log, so it holds across SDKs.
        calls["flaky"] += 1
        if step.attempt == 1:
            raise RuntimeError("transient failure")
        return f"recovered on attempt {step.attempt}"

    def child(c: Any) -> Any:
        a = c.step(body("inner-a", 20), name="inner-a")
        b = c.step(body("inner-b", (1, "x", None)), name="inner-b")
        return {"sum": a + 1, "tuple": b, "day": DAY}

    def workflow(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        greeting = ctx.step(body("greet", f"hello {event['who']}"), name="greet")
        typed = ctx.step(
            body(
                "typed",
                {"when": WHEN, "amount": AMOUNT, "id": TOKEN, "raw": b"\x00\xff", "day": DAY},
            ),
            name="typed",
        )
        plain = ctx.step(body("plain", [1, 2.5, "three", True, None]), name="plain")
        ctx.wait(d.wait_5s, name="pause")
        inner = ctx.run_in_child_context(child, name="child")
        recovered = ctx.step(flaky, name="flaky", config=d.retry_twice_after_2s)
        return {
            "greeting": greeting,
            "when": typed["when"].isoformat(),
            "amount": str(typed["amount"]),
            "id": str(typed["id"]),
            "raw": typed["raw"].hex(),
            "types": sorted(type(v).__name__ for v in typed.values()),
            "plain": plain,
            "inner": {"sum": inner["sum"], "tuple": list(inner["tuple"]), "day": str(inner["day"])},
            "inner_types": [type(inner["tuple"]).__name__, type(inner["day"]).__name__],
            "recovered": recovered,
        }

    return workflow


def unnamed_workflow(d: Dialect, calls: Counter[str]) -> Handler:
    """No operation names at all: only ids, types and subtypes identify the operations."""

    def count(_: Any) -> int:
        calls["count"] += 1
        return calls["count"]

    def workflow(event: dict[str, Any], ctx: Any) -> list[Any]:
        first = ctx.step(count)
        ctx.wait(d.wait_5s)
        nested = ctx.run_in_child_context(lambda c: [c.step(count), c.step(count)])
        return [first, nested]

    return workflow


def failing_workflow(d: Dialect, calls: Counter[str]) -> Handler:
    """A step raising ValueError('boom') with no retry; the handler does not catch it."""

    def boom(_: Any) -> None:
        calls["boom"] += 1
        raise ValueError("boom")

    def workflow(event: dict[str, Any], ctx: Any) -> Any:
        ctx.step(lambda _: "before", name="before")
        ctx.step(boom, name="boom", config=d.no_retry)
        return "unreachable"

    return workflow


def failing_child_workflow(d: Dialect, calls: Counter[str]) -> Handler:
    """A child context whose inner step raises ValueError('inner boom') with no retry."""

    def inner(_: Any) -> None:
        calls["inner"] += 1
        raise ValueError("inner boom")

    def workflow(event: dict[str, Any], ctx: Any) -> Any:
        return ctx.run_in_child_context(
            lambda c: c.step(inner, name="inner", config=d.no_retry), name="kid"
        )

    return workflow


Factory = Callable[[Dialect, Counter[str]], Handler]


def aws_handler(factory: Factory) -> tuple[Handler, Counter[str]]:
    """The workflow decorated with AWS's ``@durable_execution``, and its body-call counter."""
    calls: Counter[str] = Counter()
    return durable_execution(factory(AWS, calls)), calls


def our_handler(factory: Factory) -> tuple[Handler, Counter[str]]:
    """The workflow as our engine runs it, and its body-call counter."""
    calls: Counter[str] = Counter()
    return factory(OURS, calls), calls
