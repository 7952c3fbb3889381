"""Retry configuration as a user writes it: predicates, validation, the helper, and the
steps that use them; and a step timeout on attempts that end in time.

Which errors are retried and the delays are checked against AWS's SDK in
tests/compat/test_retries_compat.py; here is what AWS's SDK has no counterpart for.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    Jitter,
    RetryPolicy,
    StepConfig,
    StepContext,
    ValidationError,
    exponential_backoff,
)
from durable_core.types import OperationStatus

from .conftest import drive


class Flaky(Exception):
    pass


def test_retry_if_returning_true_retries_what_no_other_filter_names() -> None:
    policy = RetryPolicy(
        retry_if=lambda error: isinstance(error, Flaky), retryable_errors=["timeout"]
    )
    assert policy(Flaky("no match in the message"), 1).should_retry
    assert policy(RuntimeError("read timeout"), 1).should_retry
    assert not policy(RuntimeError("refused"), 1).should_retry
    assert not policy(Flaky("x"), policy.max_attempts).should_retry  # attempts still count


def test_retry_if_alone_retries_only_what_it_accepts() -> None:
    seen: list[Exception] = []

    def only_flaky(error: Exception) -> bool:
        seen.append(error)
        return isinstance(error, Flaky)

    policy = RetryPolicy(retry_if=only_flaky)
    assert policy(Flaky("x"), 1).should_retry
    assert not policy(RuntimeError("x"), 1).should_retry
    assert [type(e) for e in seen] == [Flaky, RuntimeError]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_attempts", 0, "max_attempts"),
        ("initial_delay_seconds", -1, "delays"),
        ("max_delay_seconds", -0.5, "delays"),
        ("backoff_rate", 0.9, "backoff_rate"),
    ],
)
def test_a_policy_that_cannot_work_is_refused_when_made(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RetryPolicy(**{field: value})


def test_exponential_backoff_is_the_policy_it_names() -> None:
    def predicate(error: Exception) -> bool:
        return True

    policy = exponential_backoff(
        4,
        initial_delay_seconds=2,
        max_delay_seconds=10,
        backoff_rate=3,
        jitter=Jitter.NONE,
        retry_if=predicate,
    )
    assert policy == RetryPolicy(
        max_attempts=4,
        initial_delay_seconds=2,
        max_delay_seconds=10,
        backoff_rate=3,
        jitter=Jitter.NONE,
        retry_if=predicate,
    )
    # 2, 6, then 18 capped at 10; the fourth attempt is the last.
    delays = [policy(RuntimeError("x"), n).delay_seconds for n in (1, 2, 3)]
    assert delays == [2, 6, 10]
    assert not policy(RuntimeError("x"), 4).should_retry


def test_a_step_retries_by_its_policy_and_records_each_delay() -> None:
    attempts: list[int] = []

    def charge(step: StepContext) -> str:
        attempts.append(step.attempt)
        if step.attempt < 3:
            raise RuntimeError("gateway timeout")
        return "charged"

    policy = RetryPolicy(
        max_attempts=3, initial_delay_seconds=7, jitter=Jitter.NONE, retryable_errors=["timeout"]
    )
    driven = drive(
        run(lambda e, ctx: ctx.step(charge, name="charge", config=StepConfig(retry=policy)))
    )
    assert driven.final == {"Status": "SUCCEEDED", "Result": '"charged"'}
    assert attempts == [1, 2, 3]
    retries = [
        u.step_options.next_attempt_delay_seconds
        for call in driven.backend.calls
        for u in call.updates
        if u.action.value == "RETRY" and u.step_options is not None
    ]
    assert retries == [7, 14]


def test_an_error_the_policy_does_not_name_fails_the_step_at_once() -> None:
    attempts: list[int] = []

    def charge(step: StepContext) -> None:
        attempts.append(step.attempt)
        raise ValueError("card declined")

    policy = RetryPolicy(max_attempts=5, retryable_errors=["timeout"])
    driven = drive(
        run(lambda e, ctx: ctx.step(charge, name="charge", config=StepConfig(retry=policy)))
    )
    assert driven.final["Status"] == "FAILED"
    assert "card declined" in driven.final["Error"]["ErrorMessage"]
    assert attempts == [1]


def _timed_step(body: Any) -> Any:
    def workflow(event: Any, ctx: DurableContext) -> Any:
        config = StepConfig[Any](retry=RetryPolicy(max_attempts=1), timeout_seconds=30)
        return ctx.step(body, name="timed", config=config)

    return drive(run(workflow))


def test_a_step_with_a_timeout_that_finishes_in_time_returns_its_result() -> None:
    driven = _timed_step(lambda s: {"total": 3})
    assert json.loads(driven.final["Result"]) == {"total": 3}
    assert driven.by_name("timed").status is OperationStatus.SUCCEEDED


def test_a_step_with_a_timeout_that_raises_in_time_records_its_own_error() -> None:
    def body(s: StepContext) -> None:
        raise Flaky("the body's own error")

    driven = _timed_step(body)
    error = driven.by_name("timed").error
    assert error is not None
    assert error.error_message == "the body's own error"
    assert error.error_type is not None and error.error_type.endswith("Flaky")
