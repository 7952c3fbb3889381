"""Per-operation configuration: what a caller may choose for a step, a child context."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from durable_core.errors import ValidationError
from durable_core.retries import RetryPolicy, RetryStrategy

if TYPE_CHECKING:
    from durable_core.payloads import Offload
    from durable_core.serdes import SerDes
    from durable_core.waits import WaitStrategy

__all__ = [
    "CallbackConfig",
    "ChildConfig",
    "InvokeConfig",
    "StepConfig",
    "StepSemantics",
    "WaitForCallbackConfig",
    "WaitForConditionConfig",
    "validate_name",
]

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

    ``retry`` defaults to AWS's SDK's default (6 attempts, backoff from 5 s doubling up
    to 60 s, full jitter); pass ``no_retry`` to fail at once.
    ``timeout_seconds`` bounds one attempt: an attempt still running then fails with
    ``StepTimeoutError`` (the body's thread is abandoned, not killed).
    ``offload`` puts a large result in a payload store and checkpoints a reference
    (see ``durable_core.payloads``).
    ``error_types``: exception classes the step raises as themselves when it fails for
    good (a ``PaymentError`` instead of a ``StepError`` naming it), rebuilt from the
    record on replay too, subclasses included; the ``StepError`` is the ``__cause__``.
    Their args and attributes are kept as JSON data (never pickled), so list only
    classes whose state is data.
    """

    retry: RetryStrategy | None = None
    semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY
    timeout_seconds: float | None = None
    serdes: SerDes[T] | None = None
    sub_type: str | None = None
    offload: Offload | None = None
    error_types: tuple[type[Exception], ...] = ()

    def __post_init__(self) -> None:
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            raise ValidationError("StepConfig.timeout_seconds must be positive")
        validate_sub_type(self.sub_type)
        if not all(isinstance(t, type) and issubclass(t, Exception) for t in self.error_types):
            raise ValidationError("StepConfig.error_types must be a tuple of exception classes")

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


# AWS's SDK's default for steps: 6 attempts, 5 s doubling up to 60 s, full jitter.
_DEFAULT_RETRY: RetryStrategy = RetryPolicy(
    max_attempts=6, initial_delay_seconds=5, max_delay_seconds=60, backoff_rate=2
)


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


# Results read without a chosen serdes have no type to infer: they default to Any, so
# ``ctx.create_callback()`` or ``ctx.invoke("fn", x)`` type-check without annotations.
# The default matters only to type checkers; importing typing_extensions for it at run
# time would cost a cold start ~15 ms.
if TYPE_CHECKING:
    from typing_extensions import TypeVar as DefaultTypeVar

    ResultT = DefaultTypeVar("ResultT", default=Any)
    PayloadT = DefaultTypeVar("PayloadT", default=Any)
else:
    ResultT = TypeVar("ResultT")
    PayloadT = TypeVar("PayloadT")

# CallbackOptions TimeoutSeconds / HeartbeatTimeoutSeconds in boto3's service model.
_CALLBACK_TIMEOUT_MAX = 99_999_999
# ChainedInvokeOptions.TenantId in boto3's service model.
_TENANT_ID = re.compile(r"[a-zA-Z0-9\._:\/=+\-@ ]{1,256}")


def _validate_timeout(field_name: str, seconds: int | None) -> None:
    if seconds is None:
        return
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationError(f"{field_name} must be whole seconds (an int), got {seconds!r}")
    if not 0 < seconds <= _CALLBACK_TIMEOUT_MAX:
        raise ValidationError(
            f"{field_name} must be between 1 and {_CALLBACK_TIMEOUT_MAX} seconds, got {seconds}"
        )


@dataclass(frozen=True)
class CallbackConfig(Generic[ResultT]):
    """Options of a callback.

    ``timeout_seconds``: the callback times out (``CallbackTimeoutError``) when no
    answer arrives in time; ``heartbeat_timeout_seconds``: likewise when no heartbeat
    arrives in time. None (the default) means no timeout, sent as 0 as AWS's SDK does.
    ``serdes`` reads the result the external system sent; None returns the payload
    string as it arrived, unparsed, as AWS's SDK does.
    """

    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None
    serdes: SerDes[ResultT] | None = None
    sub_type: str | None = None

    def __post_init__(self) -> None:
        _validate_timeout("timeout_seconds", self.timeout_seconds)
        _validate_timeout("heartbeat_timeout_seconds", self.heartbeat_timeout_seconds)
        validate_sub_type(self.sub_type)


@dataclass(frozen=True)
class WaitForCallbackConfig(CallbackConfig[ResultT]):
    """Options of ``wait_for_callback``: the callback's, and ``retry`` for the submitter step.

    As in AWS's SDK, ``serdes`` also serialises the submitter step's (None) result.
    """

    retry: RetryStrategy | None = None


@dataclass(frozen=True)
class InvokeConfig(Generic[PayloadT, ResultT]):
    """Options of a chained invoke.

    ``payload_serdes`` writes the payload, ``result_serdes`` reads the invoked
    function's result; both default to plain JSON (what Lambda passes a handler and
    what it returns), as in AWS's SDK. ``tenant_id`` scopes the invocation to a tenant.
    """

    payload_serdes: SerDes[PayloadT] | None = None
    result_serdes: SerDes[ResultT] | None = None
    tenant_id: str | None = None

    def __post_init__(self) -> None:
        if self.tenant_id is not None and not (
            isinstance(self.tenant_id, str) and _TENANT_ID.fullmatch(self.tenant_id)
        ):
            raise ValidationError(
                f"tenant_id {self.tenant_id!r} must be 1 to 256 characters of "
                "letters, digits, spaces and ._:/=+-@"
            )


@dataclass(frozen=True)
class WaitForConditionConfig(Generic[T]):
    """Options of ``wait_for_condition``.

    ``wait_strategy`` is asked after every poll (see ``durable_core.waits``);
    ``initial_state`` is given to the first poll, round-tripped through ``serdes``
    (the extended default when None) so the first poll sees what later polls read
    back from the checkpoint.
    """

    wait_strategy: WaitStrategy[T]
    initial_state: T
    serdes: SerDes[T] | None = None

    def __post_init__(self) -> None:
        if not callable(self.wait_strategy):
            raise ValidationError("WaitForConditionConfig.wait_strategy must be callable")
