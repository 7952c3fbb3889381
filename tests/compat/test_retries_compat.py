"""Deterministic retry strategies: ours and AWS's decide the same delays."""

from __future__ import annotations

import re

import pytest
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from durable_core import Jitter, RetryPolicy

CONFIGS = [
    pytest.param(3, 5, 2.0, 300, id="defaults-no-jitter"),
    pytest.param(5, 2, 1.0, 300, id="fixed-2s"),
    pytest.param(6, 3, 1.5, 300, id="rate-1.5"),
    pytest.param(6, 1, 2.5, 300, id="rate-2.5"),
    pytest.param(8, 4, 3.0, 60, id="capped"),
]


@pytest.mark.parametrize(("max_attempts", "initial", "rate", "cap"), CONFIGS)
def test_no_jitter_decisions_match(max_attempts: int, initial: int, rate: float, cap: int) -> None:
    """AWS: ``max(1, math.ceil(delay))`` (JitterStrategy.finalize_delay); the same is expected."""
    aws = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(initial),
            backoff_rate=rate,
            max_delay=Duration.from_seconds(cap),
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    ours = RetryPolicy(
        max_attempts=max_attempts,
        initial_delay_seconds=initial,
        backoff_rate=rate,
        max_delay_seconds=cap,
        jitter=Jitter.NONE,
    )
    error = RuntimeError("x")
    expected = [
        (d.should_retry, d.delay_seconds if d.should_retry else None)
        for d in (aws(error, n) for n in range(1, max_attempts + 1))
    ]
    actual = [
        (d.should_retry, d.delay_seconds if d.should_retry else None)
        for d in (ours(error, n) for n in range(1, max_attempts + 1))
    ]
    assert expected[-1] == (False, None)
    assert actual == expected


@pytest.mark.parametrize("jitter", [Jitter.FULL, Jitter.HALF])
def test_jittered_delays_stay_in_aws_range(jitter: Jitter) -> None:
    """Jittered delays are whole seconds within AWS's bounds: [1, ceil(delay)]."""
    ours = RetryPolicy(max_attempts=4, initial_delay_seconds=4, jitter=jitter)
    for attempt, base in ((1, 4), (2, 8), (3, 16)):
        low = 1 if jitter is Jitter.FULL else base // 2
        for _ in range(50):
            decision = ours(RuntimeError("x"), attempt)
            assert decision.should_retry
            assert isinstance(decision.delay_seconds, int)
            assert max(1, low) <= decision.delay_seconds <= base


class Throttled(RuntimeError):
    pass


FILTERS = [
    pytest.param(None, None, id="no-filter-retries-everything"),
    pytest.param(["timeout"], None, id="substring"),
    pytest.param([re.compile(r"^5\d\d ")], None, id="regex-searched"),
    pytest.param([re.compile(r"\d{3} ")], None, id="regex-anywhere"),
    pytest.param(None, [Throttled], id="type"),
    pytest.param(None, [RuntimeError], id="base-type-matches-subclass"),
    pytest.param(["timeout"], [Throttled], id="message-or-type"),
    pytest.param([], None, id="empty-message-list-retries-nothing"),
]
ERRORS = [
    RuntimeError("connection timeout"),
    RuntimeError("503 Service Unavailable"),
    RuntimeError("upstream said 503 busy"),
    Throttled("slow down"),
    ValueError("bad input"),
]


@pytest.mark.parametrize(("messages", "types"), FILTERS)
def test_which_errors_are_retried_matches_aws(
    messages: list[str | re.Pattern[str]] | None, types: list[type[Exception]] | None
) -> None:
    aws = create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, retryable_errors=messages, retryable_error_types=types)
    )
    ours = RetryPolicy(max_attempts=3, retryable_errors=messages, retryable_error_types=types)
    expected = [aws(error, 1).should_retry for error in ERRORS]
    assert [ours(error, 1).should_retry for error in ERRORS] == expected
    assert not any(ours(error, 3).should_retry for error in ERRORS)  # attempts exhausted
