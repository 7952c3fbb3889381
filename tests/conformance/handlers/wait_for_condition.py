"""Handlers of the wait_for_condition suite (6-x), written from each requirement's prose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from durable_closure import run
from durable_core import DurableContext, LambdaHandler, StepContext, WaitForConditionConfig
from durable_core.waits import WaitDecision, condition, fixed_wait

HANDLERS: dict[str, LambdaHandler] = {}


def _increment(state: int, _: StepContext) -> int:
    return state + 1


def _until(
    threshold: int, seconds: float = 1, max_attempts: int | None = None
) -> Callable[[int, int], WaitDecision]:
    return condition(lambda state: state < threshold, fixed_wait(seconds, max_attempts))


def count_to_input(initial: int, seconds: float = 1, name: str | None = None) -> LambdaHandler:
    """Increment from ``initial`` until the state reaches the input threshold."""

    def handler(event: int, ctx: DurableContext) -> int:
        config = WaitForConditionConfig(wait_strategy=_until(event, seconds), initial_state=initial)
        return ctx.wait_for_condition(_increment, config, name=name)

    return run(handler)


def already_met(event: int, ctx: DurableContext) -> int:
    config = WaitForConditionConfig(wait_strategy=_until(5), initial_state=5)
    return ctx.wait_for_condition(lambda state, _: state, config)


def never_met(event: int, ctx: DurableContext) -> int:
    strategy = condition(lambda state: True, fixed_wait(1, max_attempts=3))
    config = WaitForConditionConfig(wait_strategy=strategy, initial_state=event)
    return ctx.wait_for_condition(_increment, config)


def _raising_check(state: int, _: StepContext) -> int:
    raise RuntimeError("check failed")


def check_raises(event: None, ctx: DurableContext) -> int:
    config = WaitForConditionConfig(wait_strategy=_until(1), initial_state=0)
    return ctx.wait_for_condition(_raising_check, config)


def check_raises_caught(event: None, ctx: DurableContext) -> Any:
    config = WaitForConditionConfig(wait_strategy=_until(1), initial_state=0)
    try:
        return ctx.wait_for_condition(_raising_check, config)
    except Exception:
        return "recovered"


def structured_state(event: None, ctx: DurableContext) -> dict[str, Any]:
    def check(state: dict[str, Any], _: StepContext) -> dict[str, Any]:
        attempts = state["attempts"] + 1
        return {"status": "DONE" if attempts >= 2 else "PENDING", "attempts": attempts}

    def pending(state: dict[str, Any]) -> bool:
        return bool(state["status"] == "PENDING")

    strategy = condition(pending, fixed_wait(1))
    config = WaitForConditionConfig(
        wait_strategy=strategy, initial_state={"status": "PENDING", "attempts": 0}
    )
    return ctx.wait_for_condition(check, config)


def null_state(event: None, ctx: DurableContext) -> None:
    config: WaitForConditionConfig[None] = WaitForConditionConfig(
        wait_strategy=lambda state, attempts: WaitDecision.stop_polling(), initial_state=None
    )
    return ctx.wait_for_condition(lambda state, _: None, config)


class ReversedSerDes:
    """Stores a string reversed and wrapped, so a decode that is skipped shows."""

    def serialize(self, value: str) -> str:
        return f"<{value[::-1]}>"

    def deserialize(self, data: str) -> str:
        return data[1:-1][::-1]


def custom_serdes(event: None, ctx: DurableContext) -> str:
    def short(state: str) -> bool:
        return len(state) < 2

    strategy = condition(short, fixed_wait(1))
    config = WaitForConditionConfig(
        wait_strategy=strategy, initial_state="", serdes=ReversedSerDes()
    )
    return ctx.wait_for_condition(lambda state, _: state + "x", config)


def result_feeds_step(event: int, ctx: DurableContext) -> int:
    config = WaitForConditionConfig(wait_strategy=_until(event), initial_state=0)
    final = ctx.wait_for_condition(_increment, config)
    return ctx.step(lambda _: final * 10)


def two_conditions(event: None, ctx: DurableContext) -> int:
    first = ctx.wait_for_condition(
        _increment, WaitForConditionConfig(wait_strategy=_until(2), initial_state=0)
    )
    return ctx.wait_for_condition(
        _increment, WaitForConditionConfig(wait_strategy=_until(4), initial_state=first)
    )


HANDLERS["6-1"] = count_to_input(0)
HANDLERS["6-2"] = run(already_met)
HANDLERS["6-3"] = count_to_input(0, name="poll-status")
HANDLERS["6-4"] = count_to_input(5)
HANDLERS["6-5"] = count_to_input(0, seconds=2)
HANDLERS["6-6"] = run(never_met)
HANDLERS["6-7"] = run(check_raises)
HANDLERS["6-8"] = run(check_raises_caught)
HANDLERS["6-9"] = run(structured_state)
HANDLERS["6-10"] = run(null_state)
HANDLERS["6-11"] = run(custom_serdes)
HANDLERS["6-12"] = run(result_feeds_step)
HANDLERS["6-13"] = run(two_conditions)
