"""Retry strategies for steps: exponential backoff with jitter and a retry predicate.

A strategy is any callable ``(error, attempts_made) -> RetryDecision``. The decision
is made in the invocation where the attempt failed and checkpointed as a RETRY with
``NextAttemptDelaySeconds``; the service re-invokes the function when the delay is
over, so a retry costs no Lambda time while it waits.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "Jitter",
    "RetryDecision",
    "RetryPolicy",
    "RetryStrategy",
    "exponential_backoff",
    "no_retry",
]


@dataclass(frozen=True, slots=True)
class RetryDecision:
    should_retry: bool
    delay_seconds: int = 0


RetryStrategy = Callable[[Exception, int], RetryDecision]


class Jitter(StrEnum):
    """How the computed delay is randomised (spreads retries of many executions)."""

    NONE = "NONE"
    FULL = "FULL"
    HALF = "HALF"

    def apply(self, delay: float) -> float:
        if self is Jitter.FULL:
            return random.uniform(0, delay)
        if self is Jitter.HALF:
            return delay / 2 + random.uniform(0, delay / 2)
        return delay


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``initial * rate ** (attempt - 1)``, capped, with jitter.

    ``max_attempts`` counts every attempt including the first. ``retry_if`` (a
    predicate), ``retryable_errors`` (substrings or regexes of the message) and
    ``retryable_error_types`` restrict which errors are retried; with none of them
    set, every error is.
    """

    max_attempts: int = 3
    initial_delay_seconds: float = 5
    max_delay_seconds: float = 300
    backoff_rate: float = 2.0
    jitter: Jitter = Jitter.FULL
    retry_if: Callable[[Exception], bool] | None = None
    retryable_errors: Sequence[str | re.Pattern[str]] | None = None
    retryable_error_types: Sequence[type[Exception]] | None = None

    def __post_init__(self) -> None:
        from durable_core.errors import ValidationError

        if self.max_attempts < 1:
            raise ValidationError("RetryPolicy.max_attempts must be at least 1")
        if self.initial_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValidationError("RetryPolicy delays must not be negative")
        if self.backoff_rate < 1:
            raise ValidationError("RetryPolicy.backoff_rate must be at least 1")

    def _retryable(self, error: Exception) -> bool:
        filters = (self.retry_if, self.retryable_errors, self.retryable_error_types)
        if all(f is None for f in filters):
            return True
        if self.retry_if is not None and self.retry_if(error):
            return True
        message = str(error)
        for pattern in self.retryable_errors or ():
            if pattern.search(message) if isinstance(pattern, re.Pattern) else pattern in message:
                return True
        return isinstance(error, tuple(self.retryable_error_types or ()))

    def __call__(self, error: Exception, attempts_made: int) -> RetryDecision:
        if attempts_made >= self.max_attempts or not self._retryable(error):
            return RetryDecision(False)
        delay = min(
            self.initial_delay_seconds * self.backoff_rate ** (attempts_made - 1),
            self.max_delay_seconds,
        )
        # The service schedules whole seconds, and never less than one.
        return RetryDecision(True, max(1, math.ceil(self.jitter.apply(delay))))


def exponential_backoff(
    max_attempts: int = 3,
    *,
    initial_delay_seconds: float = 5,
    max_delay_seconds: float = 300,
    backoff_rate: float = 2.0,
    jitter: Jitter = Jitter.FULL,
    retry_if: Callable[[Exception], bool] | None = None,
) -> RetryPolicy:
    """The usual strategy, spelled as a function."""
    return RetryPolicy(
        max_attempts=max_attempts,
        initial_delay_seconds=initial_delay_seconds,
        max_delay_seconds=max_delay_seconds,
        backoff_rate=backoff_rate,
        jitter=jitter,
        retry_if=retry_if,
    )


def no_retry(error: Exception, attempts_made: int) -> RetryDecision:
    """Fail on the first error."""
    return RetryDecision(False)
