"""The SDK's typed errors.

Two families:

* ``DurableError`` and its subclasses are raised by the SDK itself: bad input,
  non-determinism, serialisation, checkpoint failures. Each has a stable ``code``.
* ``DurableOperationError`` subclasses surface a *recorded* failure of an operation
  (a step that exhausted its retries, a failed child context). They are raised the
  same way on first run and on replay, rebuilt from the checkpointed ``ErrorObject``.

``SuspendExecution`` is not an error: it unwinds the handler when the invocation must
end with ``PENDING``. It derives from ``BaseException`` so that a user's
``except Exception`` cannot swallow a suspension.
"""

from __future__ import annotations

import dataclasses
import json
import os
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, Self

from durable_core.types import ErrorObject

__all__ = [
    "BranchCancelled",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "CheckpointError",
    "ChildContextError",
    "DurableError",
    "DurableOperationError",
    "InvalidEventError",
    "InvokeError",
    "NonDeterministicExecutionError",
    "PayloadTooLargeError",
    "SerDesError",
    "StepError",
    "StepInterruptedError",
    "StepTimeoutError",
    "SuspendExecution",
    "UnawaitedOperationError",
    "ValidationError",
    "WaitForConditionError",
    "error_object_from_exception",
    "log_user_failure",
    "qualified_type_name",
    "raise_step_error",
    "rebuild_exception",
    "recorded_error",
    "stack_trace_of",
    "wire_error_type",
    "with_exception_data",
]


class DurableError(Exception):
    """Base of every error the SDK raises about its own work."""

    code: str = "DurableError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidEventError(DurableError):
    """The Lambda event is not a durable invocation (missing or malformed fields)."""

    code = "InvalidEvent"


class ValidationError(DurableError):
    """An argument the service would reject (a name too long, a wait under one second...)."""

    code = "InvalidParameterValue"


class UnawaitedOperationError(ValidationError):
    """An ``AsyncDurableContext`` operation was called but never awaited, so it never ran.

    Without this the invocation would succeed as if the operation had run (Python only
    warns about a coroutine never awaited), so the invocation fails instead.
    """

    code = "UnawaitedOperation"


class NonDeterministicExecutionError(DurableError):
    """The code took a different path than the recorded history at ``operation_id``.

    Raised when the operation at an id differs from the checkpoint in type, subtype,
    name or parent. The execution fails: replaying further would corrupt it.
    """

    code = "NonDeterministicExecution"

    def __init__(self, message: str, *, operation_id: str) -> None:
        super().__init__(message)
        self.operation_id = operation_id


class SerDesError(DurableError):
    """A value could not be serialised, or a payload could not be read by its serdes."""

    code = "SerDes"


class PayloadTooLargeError(DurableError):
    """A payload exceeds a service limit and cannot be checkpointed."""

    code = "PayloadTooLarge"


class CheckpointError(DurableError):
    """A checkpoint call failed. ``retryable`` tells whether a new invocation may succeed.

    Buffered updates are never dropped when this is raised: the invocation ends and
    Lambda re-drives it from the last persisted checkpoint.
    """

    code = "Checkpoint"

    def __init__(self, message: str, *, retryable: bool, error_code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.error_code = error_code


class StepTimeoutError(Exception):
    """A step attempt ran longer than its ``timeout_seconds``; counts as a failed attempt."""


class StepInterruptedError(Exception):
    """An at-most-once step had started in an earlier invocation and never finished.

    Its body is not run again for that attempt; the retry strategy decides what next.
    """


class DurableOperationError(Exception):
    """A recorded failure of an operation, identical on first run and on replay.

    ``error_type`` is the type name of the original exception (``ValueError``,
    ``mypkg.errors.PaymentDeclined``), ``message`` its message.
    """

    def __init__(
        self,
        message: str | None,
        *,
        error_type: str | None = None,
        data: str | None = None,
        stack_trace: list[str] | None = None,
    ) -> None:
        super().__init__(message or error_type or "operation failed")
        self.message = message
        self.error_type = error_type
        self.data = data
        self.stack_trace = stack_trace

    @classmethod
    def from_error_object(cls, error: ErrorObject | None) -> Self:
        error = error or ErrorObject()
        return cls(
            error.error_message,
            error_type=error.error_type,
            data=error.error_data,
            stack_trace=error.stack_trace,
        )


class StepError(DurableOperationError):
    """A step failed for good (retries exhausted or not retryable)."""


class ChildContextError(DurableOperationError):
    """A child context's function raised."""


class SuspendExecution(BaseException):
    """Unwinds the handler: the invocation ends PENDING and Lambda re-invokes later."""


class BranchCancelled(BaseException):
    """Unwinds a parallel/map branch that is still running after its batch completed."""


def qualified_type_name(exc: BaseException) -> str:
    """The wire ErrorType of an exception: ``module.Class``, builtins unqualified (AWS's rule)."""
    cls = type(exc)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


# Where AWS's SDK defines the errors it names in a record's ErrorType.
AWS_EXCEPTIONS_MODULE = "aws_durable_execution_sdk_python.exceptions"


def wire_error_type(exc: BaseException) -> str:
    """The ErrorType AWS's SDK records for ``exc``: the class of the exception itself.

    The SDK's own errors are recorded under AWS's names (``aws_durable_execution_sdk_python.
    exceptions.StepError``), because AWS's SDK reads those names back on replay to pick the
    class it raises: a wait_for_callback context recorded as ``...CallbackExternalError``
    replays as ``CallbackExternalError``, one recorded under the user's type as a bare
    ``ChildContextError``. So a record written by either SDK is caught by the same
    ``except`` clause after a hand-over. Any SerDesError is pinned to the base name (AWS).
    """
    if isinstance(exc, SerDesError):
        return f"{AWS_EXCEPTIONS_MODULE}.SerDesError"
    name = _AWS_NAMED.get(type(exc))
    return f"{AWS_EXCEPTIONS_MODULE}.{name}" if name else qualified_type_name(exc)


def error_object_from_exception(exc: BaseException) -> ErrorObject:
    """Encode an exception as AWS's SDK does (``ErrorObject.from_exception``).

    The type is the exception's own class (``wire_error_type``). A recorded operation error
    keeps the message, data and stack trace of the failure it wraps, so an error re-raised
    through several levels still carries its origin's; any other exception carries its own
    traceback (``stack_trace_of``), unless the SDK raised it. Messages and data are cut to
    fit the service's 32 KiB error limit: a huge message must not make the failure
    impossible to record (every invocation would die trying).
    """
    if isinstance(exc, DurableOperationError):
        # Another subclass stands in for the failure it names (asyncio's CancelledError).
        named = type(exc) in _AWS_NAMED
        error_type = wire_error_type(exc) if named else exc.error_type or wire_error_type(exc)
        return _clipped(exc.message, error_type, exc.data, exc.stack_trace)
    stack_trace = None if isinstance(exc, DurableError) else stack_trace_of(exc)
    return _clipped(str(exc), wire_error_type(exc), None, stack_trace)


def recorded_error(exc: DurableOperationError) -> ErrorObject:
    """The record a recorded operation error carries, under the type it escaped with.

    AWS's SDK records a failed parallel branch or map item this way (``_branch_error_object``):
    the branch's own escaping type (``...StepError`` for a step that failed in it), not the
    ``ChildContextError`` that wraps it.
    """
    return _clipped(exc.message, exc.error_type or wire_error_type(exc), exc.data, exc.stack_trace)


def stack_trace_of(exc: BaseException) -> list[str] | None:
    """The traceback of ``exc`` as the service's ErrorObject.StackTrace, or None without one.

    The format of Lambda's Python runtime for an error response (``traceback.format_list``
    of the extracted frames: ``  File "app.py", line 5, in charge\n    raise ...\n``),
    leading frames of this SDK and of the standard library (asyncio's runner) dropped, as
    the runtime drops its bootstrap: the first line names the user's code, whichever
    driver ran it. AWS's Python SDK leaves StackTrace empty; it reads and
    forwards the field, so filling it costs a hand-over nothing.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    first_user = next(
        (i for i, frame in enumerate(frames) if not frame.filename.startswith(_NOT_USER_DIRS)),
        0,
    )
    return [line[:_MAX_FRAME] for line in traceback.format_list(frames[first_user:])]


def log_user_failure(logger: Any, exc: BaseException, where: str) -> None:
    """Log at ERROR, with its traceback, an exception user code raised in this invocation.

    Called where the failure is recorded, and only for the user's own exception (never for
    a recorded operation error re-raised, which replay raises again without running any
    code, nor for the SDK's own errors, which the response reports, nor for a recorded
    failure rebuilt as the user's own type, ``StepConfig.error_types``), so a failure is
    logged once, by the invocation that ran the code. No mark is set on the exception: its
    attributes are recorded (``with_exception_data``).
    """
    if isinstance(exc, DurableOperationError | DurableError) or isinstance(
        exc.__cause__, DurableOperationError
    ):
        return  # the SDK's, or a recorded failure raised as the user's own type
    # Code that raised ran now, whatever the replay state of the context (a child context
    # resumed in a later invocation runs while its parent still replays).
    replay_safe = getattr(logger, "with_replay_logging", None)
    if callable(replay_safe):
        logger = replay_safe()
    logger.error("%s raised %s: %s", where, qualified_type_name(exc), exc, exc_info=exc)


_STDLIB = os.path.dirname(os.path.abspath(os.__file__))
# Where the frames that run user code come from (without importing asyncio for its path).
_NOT_USER_DIRS = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.join(_STDLIB, "asyncio") + os.sep,
    os.path.join(_STDLIB, "concurrent") + os.sep,
    os.path.join(_STDLIB, "threading.py"),
)

# Together well under the 32 KiB the service accepts for an error object.
_MAX_MESSAGE = 16 * 1024
_MAX_DATA = 8 * 1024
_MAX_FRAMES = 20
_MAX_FRAME = 256
# The service's limit for a whole error object, as JSON (AWS's local runner's validator).
_MAX_ERROR_JSON = 32_768


def _clipped(
    message: str | None, error_type: str, data: str | None, stack_trace: list[str] | None
) -> ErrorObject:
    error = ErrorObject(
        error_message=_clip(message, _MAX_MESSAGE),
        error_type=error_type,
        error_data=_clip(data, _MAX_DATA),
        stack_trace=stack_trace[-_MAX_FRAMES:] if stack_trace else None,
    )
    # Characters JSON escapes (quotes, control characters) count double or more: the
    # traceback goes first, then the message shrinks, until the record fits.
    limit = _MAX_MESSAGE
    while len(json.dumps(error.to_wire())) > _MAX_ERROR_JSON:
        if error.stack_trace:
            error = dataclasses.replace(error, stack_trace=None)
            continue
        limit //= 2
        error = dataclasses.replace(
            error, error_message=_clip(message, limit), error_data=_clip(data, limit // 2)
        )
    return error


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"


class CallbackError(DurableOperationError):
    """A callback ended without a success: catches every callback failure.

    ``error_type`` is the type the service recorded (``Callback.Timeout``,
    ``Callback.Heartbeat``, or what the sender of SendDurableExecutionCallbackFailure
    passed). The subclasses tell the cause apart, as AWS's SDK does.
    """


class CallbackExternalError(CallbackError):
    """The external system reported failure (SendDurableExecutionCallbackFailure)."""


class CallbackTimeoutError(CallbackError):
    """The callback timed out: no answer within its timeout, or no heartbeat in time."""


class CallbackSubmitterError(CallbackError):
    """The submitter step of ``wait_for_callback`` failed for good."""


class InvokeError(DurableOperationError):
    """A chained invoke ended FAILED, TIMED_OUT or STOPPED; carries the recorded error."""


class WaitForConditionError(DurableOperationError):
    """A ``wait_for_condition`` failed: the check raised, or the polls were exhausted."""


# -- typed step errors: the user's exception class back, from an allow-list ----------
#
# A recorded failure names its exception's type (``mypkg.errors.PaymentError``); it
# never holds the exception object, and a name read from the record is never imported
# nor its class called (unpickling data would run code chosen by whoever wrote it).
# The caller lists the types it wants back; a recorded type that is one of them, or a
# subclass already defined, is rebuilt as Python's own pickling of an exception would
# rebuild it (``cls.__new__`` with the args, then the instance attributes, no
# ``__init__``), from JSON data kept in ``ErrorData``, a free-form string in AWS's
# wire shape. A record without that data (written by AWS's SDK) gives the message alone.

ExceptionTypes = Sequence[type[Exception]]


def _type_name(cls: type[BaseException]) -> str:
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _with_subclasses(allowed: ExceptionTypes) -> Iterator[type[Exception]]:
    for cls in allowed:
        yield cls
        yield from _with_subclasses(cls.__subclasses__())


def with_exception_data(error: ErrorObject, exc: BaseException) -> ErrorObject:
    """``error`` with the args and attributes of ``exc`` as JSON data in ``ErrorData``,
    so that ``rebuild_exception`` can restore them; what is not JSON data is left out
    (the attributes, then the args), never failing the record."""
    from durable_core.serdes import EXTENDED_SERDES

    for state in (
        {"args": list(exc.args), "attributes": dict(vars(exc))},
        {"args": list(exc.args), "attributes": {}},
    ):
        try:
            data = EXTENDED_SERDES.serialize(state)
        except (SerDesError, TypeError, ValueError):
            continue
        return dataclasses.replace(error, error_data=data)
    return error


def rebuild_exception(error: ErrorObject | None, allowed: ExceptionTypes) -> Exception | None:
    """The recorded exception as an instance of its own class, when that class is in
    ``allowed`` or a subclass of one of them; otherwise None."""
    if error is None or not error.error_type or not allowed:
        return None
    cls = next((c for c in _with_subclasses(allowed) if _type_name(c) == error.error_type), None)
    if cls is None:
        return None
    args, attributes = _recorded_state(error)
    rebuilt = cls.__new__(cls, *args)
    rebuilt.args = tuple(args)
    rebuilt.__dict__.update(attributes)
    return rebuilt


def _recorded_state(error: ErrorObject) -> tuple[list[object], dict[str, object]]:
    from durable_core.serdes import EXTENDED_SERDES

    message_only: list[object] = [] if error.error_message is None else [error.error_message]
    if not error.error_data:
        return message_only, {}
    try:
        state = EXTENDED_SERDES.deserialize(error.error_data)
    except SerDesError:
        return message_only, {}
    if not (
        isinstance(state, dict)
        and isinstance(state.get("args"), list)
        and isinstance(state.get("attributes"), dict)
    ):
        return message_only, {}
    return state["args"], state["attributes"]


def raise_step_error(
    error: ErrorObject | None, allowed: ExceptionTypes, cause: BaseException | None = None
) -> NoReturn:
    """Raise a failed step's error: its own type rebuilt when ``allowed`` lists it (the
    ``StepError`` is its ``__cause__``), else the ``StepError``. Identical on the run
    that recorded the failure and on replay; ``cause`` (the original exception, on the
    first run only) chains under the ``StepError`` so its traceback is shown."""
    step_error = StepError.from_error_object(error)
    typed = rebuild_exception(error, allowed)
    step_error.__cause__ = cause
    if typed is None:
        raise step_error
    raise typed from step_error


# Our errors that AWS's SDK defines too, by AWS's class name (``wire_error_type``).
_AWS_NAMED: dict[type[BaseException], str] = {
    cls: cls.__name__
    for cls in (
        StepError,
        InvokeError,
        ChildContextError,
        WaitForConditionError,
        CallbackError,
        CallbackExternalError,
        CallbackTimeoutError,
        CallbackSubmitterError,
    )
}
