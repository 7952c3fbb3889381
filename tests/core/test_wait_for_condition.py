"""wait_for_condition and the wait strategies, driven through MemoryBackend.

The update sequence (one STEP of subtype ``WaitForCondition``: START without waiting,
RETRY with the state as Payload and the delay, SUCCEED with the final state), the
attempt numbering and the exhaustion message are AWS's (operation/wait_for_condition.py,
waits.py). Delays are checked by arithmetic on the documented formula.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    ExtendedSerDes,
    JsonSerDes,
    StepContext,
    ValidationError,
    WaitDecision,
    WaitForConditionConfig,
    WaitForConditionError,
    WaitStrategyConfig,
    condition,
    create_wait_strategy,
    exponential_wait,
    fixed_wait,
    use_backend,
)
from durable_core._ids import operation_id
from durable_core.retries import Jitter
from durable_core.types import OperationStatus

from tests.driver import start

from .conftest import drive


def calls_of(execution: Any) -> list[list[dict[str, Any]]]:
    return [[u.to_wire() for u in call.updates] for call in execution.backend.calls]


def decoded(payload: str) -> Any:
    return ExtendedSerDes().deserialize(payload)


def counter_workflow(seen: list[tuple[Any, int]], strategy: Any) -> Any:
    def check(state: dict[str, int], step: StepContext) -> dict[str, int]:
        seen.append((dict(state), step.attempt))
        return {"n": state["n"] + 1}

    def wf(event: Any, ctx: DurableContext) -> Any:
        config = WaitForConditionConfig(wait_strategy=strategy, initial_state={"n": 0})
        return ctx.wait_for_condition(check, config, name="poll")

    return run(wf)


def test_state_is_threaded_between_polls_through_the_checkpoint() -> None:
    seen: list[tuple[Any, int]] = []
    handler = counter_workflow(seen, condition(lambda s: s["n"] < 3, fixed_wait(10)))
    driven = drive(handler)
    assert [r["Status"] for r in driven.responses] == ["PENDING", "PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == {"n": 3}
    assert seen == [({"n": 0}, 1), ({"n": 1}, 2), ({"n": 2}, 3)]

    op_id = operation_id(None, 1)
    calls = [[u.to_wire() for u in call.updates] for call in driven.backend.calls]
    identity = {"Id": op_id, "Name": "poll", "Type": "STEP", "SubType": "WaitForCondition"}
    # Each poll: START (not waited for) rides with the RETRY or SUCCEED in one call.
    assert [[(u["Action"]) for u in call] for call in calls] == [
        ["START", "RETRY"],
        ["START", "RETRY"],
        ["START", "SUCCEED"],
    ]
    for call in calls:
        assert all({k: u[k] for k in identity} == identity for u in call)
    retries = [call[1] for call in calls[:2]]
    assert [decoded(u["Payload"]) for u in retries] == [{"n": 1}, {"n": 2}]
    assert [u["StepOptions"] for u in retries] == [{"NextAttemptDelaySeconds": 10}] * 2
    assert decoded(calls[2][1]["Payload"]) == {"n": 3}
    assert "Payload" not in calls[0][0]
    op = driven.by_name("poll")
    assert op.status is OperationStatus.SUCCEEDED
    assert op.step_details is not None and op.step_details.attempt == 3


def test_completed_condition_replays_without_polling() -> None:
    seen: list[tuple[Any, int]] = []
    handler = counter_workflow(seen, condition(lambda s: s["n"] < 1, fixed_wait(1)))
    driven = drive(handler)
    polls = len(seen)
    calls = len(driven.backend.calls)
    with use_backend(driven.backend):
        again = handler(driven.backend.invocation_event(driven.arn), None)
    assert again == driven.final
    assert len(seen) == polls and len(driven.backend.calls) == calls


def test_exhausted_attempts_fail_with_wait_for_condition_error() -> None:
    seen: list[tuple[Any, int]] = []
    caught: list[BaseException] = []

    def check(state: int, step: StepContext) -> int:
        seen.append((state, step.attempt))
        return state

    def wf(event: Any, ctx: DurableContext) -> Any:
        config = WaitForConditionConfig(
            wait_strategy=condition(lambda s: True, fixed_wait(5, max_attempts=2)),
            initial_state=0,
        )
        try:
            return ctx.wait_for_condition(check, config, name="never")
        except WaitForConditionError as exc:
            caught.append(exc)
            return "gave up"

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    execution.fire_timers()
    assert json.loads(execution.invoke()["Result"]) == "gave up"
    assert json.loads(execution.invoke()["Result"]) == "gave up"  # replayed
    assert seen == [(0, 1), (0, 2)]
    message = "wait_for_condition exhausted 2 attempts before the condition was met"
    assert [getattr(exc, "message", None) for exc in caught] == [message, message]
    fail = calls_of(execution)[-1][-1]
    assert fail["Action"] == "FAIL"
    assert fail["Error"]["ErrorMessage"] == message
    assert fail["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.WaitForConditionError"
    )
    assert execution.by_name("never").status is OperationStatus.FAILED


def test_condition_met_on_the_last_attempt_still_succeeds() -> None:
    seen: list[tuple[Any, int]] = []
    handler = counter_workflow(seen, condition(lambda s: s["n"] < 2, fixed_wait(1, max_attempts=2)))
    driven = drive(handler)
    assert json.loads(driven.final["Result"]) == {"n": 2}
    assert [attempt for _, attempt in seen] == [1, 2]


def test_check_that_raises_fails_for_good() -> None:
    polls: list[int] = []

    def check(state: Any, step: StepContext) -> Any:
        polls.append(step.attempt)
        raise ValueError("service gone")

    def wf(event: Any, ctx: DurableContext) -> Any:
        config = WaitForConditionConfig(wait_strategy=fixed_wait(1), initial_state=None)
        return ctx.wait_for_condition(check, config)

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorMessage"] == "service gone"
    # The check's own error on the record; the WaitForConditionError raised, as AWS's.
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.WaitForConditionError"
    )
    assert polls == [1]
    fail = driven.backend.calls[-1].updates[-1]
    assert fail.error is not None and fail.error.error_type == "ValueError"


def test_delay_below_one_second_is_raised_to_one() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        def strategy(state: int, attempt: int) -> WaitDecision:
            if state < 2:
                return WaitDecision.continue_waiting(0)
            return WaitDecision.stop_polling()

        config = WaitForConditionConfig(wait_strategy=strategy, initial_state=0)
        return ctx.wait_for_condition(lambda s, step: s + 1, config)

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == 2
    retries = [
        u for call in driven.backend.calls for u in call.updates if u.action.value == "RETRY"
    ]
    assert [u.step_options.next_attempt_delay_seconds for u in retries if u.step_options] == [1]


def test_first_poll_sees_the_initial_state_read_back_through_the_serdes() -> None:
    initial = {"items": (1, 2)}
    seen: list[Any] = []

    def check(state: Any, step: StepContext) -> Any:
        seen.append(state)
        return state

    def wf(event: Any, ctx: DurableContext) -> Any:
        config = WaitForConditionConfig(
            wait_strategy=condition(lambda s: False, fixed_wait(1)),
            initial_state=initial,
            serdes=JsonSerDes(),
        )
        return ctx.wait_for_condition(check, config)

    drive(run(wf))
    assert seen == [{"items": [1, 2]}]  # plain JSON turns the tuple into a list
    assert seen[0] is not initial


def test_exponential_wait_delays() -> None:
    strategy = exponential_wait(2, 5, 2)
    # min(2 * 2 ** (attempt - 1), 5) -> 2, 4, 5, 5
    assert [strategy(None, attempt).delay_seconds for attempt in (1, 2, 3, 4)] == [2, 4, 5, 5]
    assert all(strategy(None, attempt).should_continue for attempt in (1, 2, 3, 4))
    # Fractions round up to whole seconds: ceil(1.5 * 1.5) = 3.
    assert exponential_wait(1.5, 100, 1.5)(None, 2).delay_seconds == 3


def test_jittered_delays_stay_within_bounds() -> None:
    strategy = exponential_wait(8, 8, 1, jitter=Jitter.FULL)
    delays = {strategy(None, 1).delay_seconds for _ in range(200)}
    assert delays <= set(range(1, 9))


def test_create_wait_strategy_mirrors_aws_defaults() -> None:
    config = WaitStrategyConfig(should_continue_polling=lambda s: s != "done")
    # AWS's WaitStrategyConfig defaults: 60 attempts, 5 s, 300 s cap, rate 1.5, full jitter.
    assert (
        config.max_attempts,
        config.initial_delay_seconds,
        config.max_delay_seconds,
        config.backoff_rate,
        config.jitter,
    ) == (60, 5, 300, 1.5, Jitter.FULL)
    strategy = create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda s: s != "done", max_attempts=3, jitter=Jitter.NONE
        )
    )
    assert strategy("done", 3) == WaitDecision.stop_polling()
    assert strategy("pending", 2) == WaitDecision.continue_waiting(8)  # ceil(5 * 1.5)
    with pytest.raises(WaitForConditionError):
        strategy("pending", 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: exponential_wait(1, 10, 0.5),
        lambda: exponential_wait(-1, 10, 2),
        lambda: fixed_wait(1, max_attempts=0),
    ],
)
def test_bad_strategy_arguments_are_rejected(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def test_missing_config_or_check_is_rejected_before_any_checkpoint() -> None:
    errors: list[BaseException] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        for args in ((lambda s, c: s, None), (None, WaitForConditionConfig(fixed_wait(1), 0))):
            try:
                ctx.wait_for_condition(*args)  # type: ignore[arg-type]
            except ValidationError as exc:
                errors.append(exc)
        return "ok"

    driven = drive(run(wf))
    assert driven.final["Status"] == "SUCCEEDED"
    assert len(errors) == 2 and driven.backend.calls == []
