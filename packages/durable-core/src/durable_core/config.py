"""Per-operation configuration: what a caller may choose for a step, a child context."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from durable_core.errors import ValidationError
from durable_core.retries import RetryPolicy, RetryStrategy
from durable_core.serdes import SerDes

__all__ = ["ChildConfig", "StepConfig", "StepSemantics", "validate_name"]

T = TypeVar("T")

_NAME_MAX = 256
_SUB_TYPE_MAX = 32


class StepSemantics(StrEnum):
    """What a crash in the middle of a step body means for the next invocation.

    AT_LEAST_ONCE_PER_RETRY (default): the body runs again. Its START is sent with the
    result, so a step costs one checkpoint call.
    AT_MOST_ONCE_PER_RETRY: the START is persisted before the body runs; if the
    invocation dies mid-body, the attempt counts as failed (``StepInterruptedError``)
    and the body is not run again for that attempt.
    """

    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"
    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"


@dataclass(frozen=True)
class StepConfig(Generic[T]):
    """Options of one step.

    ``retry`` defaults to ``RetryPolicy()`` (3 attempts, exponential backoff from 5 s,
    full jitter) like AWS's SDK; pass ``no_retry`` to fail at once.
    ``timeout_seconds`` bounds one attempt: an attempt still running then fails with
    ``StepTimeoutError`` (the body's thread is abandoned, not killed).
    """

    retry: RetryStrategy | None = None
    semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY
    timeout_seconds: float | None = None
    serdes: SerDes[T] | None = None
    sub_type: str | None = None

    def __post_init__(self) -> None:
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise ValidationError("StepConfig.timeout_seconds must be positive")
        validate_sub_type(self.sub_type)

    @property
    def retry_strategy(self) -> RetryStrategy:
        return self.retry if self.retry is not None else _DEFAULT_RETRY


@dataclass(frozen=True)
class ChildConfig(Generic[T]):
    """Options of a child context: the serdes of its result and the subtype recorded."""

    serdes: SerDes[T] | None = None
    sub_type: str | None = None

    def __post_init__(self) -> None:
        validate_sub_type(self.sub_type)


_DEFAULT_RETRY: RetryStrategy = RetryPolicy()


def validate_name(name: Any) -> str | None:
    """Reject at the call a name CheckpointDurableExecution would reject (1-256 printable ASCII)."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValidationError(f"operation name must be a str, got {type(name).__qualname__}")
    if not name:
        return None
    if len(name) > _NAME_MAX:
        raise ValidationError(f"operation name is {len(name)} characters; the limit is {_NAME_MAX}")
    if not all(" " <= ch <= "~" for ch in name):
        raise ValidationError(f"operation name {name!r} must be printable ASCII")
    return name


def validate_sub_type(sub_type: str | None) -> None:
    if sub_type is None:
        return
    if not (
        0 < len(sub_type) <= _SUB_TYPE_MAX
        and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in sub_type)
    ):
        raise ValidationError(
            f"sub_type {sub_type!r} must be 1 to {_SUB_TYPE_MAX} characters of [a-zA-Z0-9-_]"
        )
