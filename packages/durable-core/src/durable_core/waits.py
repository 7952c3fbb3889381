"""Wait strategies for ``wait_for_condition``: when to poll again, and when to stop.

A wait strategy is any callable ``(state, attempts_made) -> WaitDecision``, called
after each poll with the state the check returned (as the checkpoint will give it
back). Continuing checkpoints a RETRY whose ``NextAttemptDelaySeconds`` is the
decision's delay; the service re-invokes the function when it is over, so polling
costs no Lambda time while it waits.

``fixed_wait`` and ``exponential_wait`` only schedule polls (they never stop on their
own, and fail with ``WaitForConditionError`` once ``max_attempts`` polls are made);
``condition`` adds the stop predicate. ``WaitStrategyConfig`` and
``create_wait_strategy`` mirror AWS's SDK (same defaults, same arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from durable_core.errors import ValidationError, WaitForConditionError
from durable_core.retries import Jitter

__all__ = [
    "WaitDecision",
    "WaitStrategy",
    "WaitStrategyConfig",
    "condition",
    "create_wait_strategy",
    "exponential_wait",
    "fixed_wait",
]

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class WaitDecision:
    """Poll again after ``delay_seconds`` (whole seconds, at least 1), or stop polling."""

    should_continue: bool
    delay_seconds: int = 0

    @classmethod
    def continue_waiting(cls, delay_seconds: int) -> WaitDecision:
        return cls(True, delay_seconds)

    @classmethod
    def stop_polling(cls) -> WaitDecision:
        return cls(False)


WaitStrategy = Callable[[S, int], WaitDecision]


def exponential_wait(
    initial_seconds: float,
    max_seconds: float,
    rate: float,
    max_attempts: int | None = None,
    jitter: Jitter = Jitter.NONE,
) -> WaitStrategy[object]:
    """Poll again after ``initial * rate ** (attempts_made - 1)`` seconds, capped, jittered.

    Never stops by itself: combine it with ``condition``. After ``max_attempts``
    polls it raises ``WaitForConditionError``, which fails the operation.
    """
    if initial_seconds < 0 or max_seconds < 0:
        raise ValidationError("wait strategy delays must not be negative")
    if rate < 1:
        raise ValidationError("wait strategy rate must be at least 1")
    if max_attempts is not None and max_attempts < 1:
        raise ValidationError("wait strategy max_attempts must be at least 1")

    def decide(state: object, attempts_made: int) -> WaitDecision:
        if max_attempts is not None and attempts_made >= max_attempts:
            raise WaitForConditionError(
                f"wait_for_condition exhausted {max_attempts} attempts before the condition was met"
            )
        delay = min(initial_seconds * rate ** (attempts_made - 1), max_seconds)
        # The service schedules whole seconds, and never less than one.
        return WaitDecision.continue_waiting(max(1, math.ceil(jitter.apply(delay))))

    return decide


def fixed_wait(seconds: float, max_attempts: int | None = None) -> WaitStrategy[object]:
    """Poll again every ``seconds``; see ``exponential_wait`` for ``max_attempts``."""
    return exponential_wait(seconds, seconds, 1, max_attempts)


def condition(
    should_continue_polling: Callable[[S], bool], wait: WaitStrategy[object]
) -> WaitStrategy[S]:
    """Stop as soon as ``should_continue_polling(state)`` is false, else poll per ``wait``.

    The predicate is asked first, so a condition met on the last allowed attempt
    still succeeds (AWS's rule).
    """

    def decide(state: S, attempts_made: int) -> WaitDecision:
        if not should_continue_polling(state):
            return WaitDecision.stop_polling()
        return wait(state, attempts_made)

    return decide


@dataclass(frozen=True)
class WaitStrategyConfig(Generic[S]):
    """AWS's ``WaitStrategyConfig``: a predicate and an exponential schedule, AWS's defaults."""

    should_continue_polling: Callable[[S], bool]
    max_attempts: int = 60
    initial_delay_seconds: float = 5
    max_delay_seconds: float = 300
    backoff_rate: float = 1.5
    jitter: Jitter = Jitter.FULL


def create_wait_strategy(config: WaitStrategyConfig[S]) -> WaitStrategy[S]:
    """The strategy AWS's ``create_wait_strategy`` builds from the same config."""
    return condition(
        config.should_continue_polling,
        exponential_wait(
            config.initial_delay_seconds,
            config.max_delay_seconds,
            config.backoff_rate,
            config.max_attempts,
            config.jitter,
        ),
    )
