"""The one entry point: a Lambda event in, ``{Status, Result|Error}`` out.

Every API style (closure, decorator, class, builder) calls ``run_invocation``. It
parses the event, loads every page of the checkpoint log, runs the handler with a
root ``DurableContext``, flushes every buffered update, and turns the outcome into
the response Lambda's durable execution service expects:

* the handler returned: ``SUCCEEDED`` with the JSON result (a result above Lambda's
  response limit is checkpointed on the EXECUTION operation instead, as AWS's SDK does);
* an operation suspended (wait, retry backoff): ``PENDING``;
* the handler raised: ``FAILED`` with the error (non-determinism included);
* the checkpoint service failed transiently: the exception propagates, so Lambda
  re-drives the invocation from the last persisted checkpoint and nothing is lost.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable_core._replay import CheckpointLog, OperationCall
from durable_core.backends.base import DurableBackend
from durable_core.checkpoint import Checkpointer
from durable_core.context import DurableContext, ExecutionState
from durable_core.errors import (
    CheckpointError,
    InvalidEventError,
    PayloadTooLargeError,
    SerDesError,
    SuspendExecution,
    ValidationError,
    error_object_from_exception,
    log_user_failure,
)
from durable_core.operations._flow import is_coroutine_function
from durable_core.plugins import InvocationStatus as PluginStatus
from durable_core.plugins import PluginDispatcher, PluginEntry
from durable_core.serdes import to_json
from durable_core.tracing import tracing_plugins
from durable_core.types import (
    ErrorObject,
    InvocationInput,
    InvocationStatus,
    Operation,
    OperationAction,
    OperationType,
    OperationUpdate,
    WireFormatError,
)

if TYPE_CHECKING:
    from durable_core.aio import AsyncDurableContext
    from durable_core.payloads import Offload

__all__ = [
    "LAMBDA_RESPONSE_SIZE_LIMIT",
    "DurableHandler",
    "ExecutionOptions",
    "HandlerResult",
    "LambdaHandler",
    "run_invocation",
    "use_backend",
]

HandlerResult = None | bool | int | float | str | Sequence[Any] | Mapping[str, Any]
"""What a sync handler returns: a JSON-serialisable value. Never an awaitable, so mypy
rejects an ``async def`` handler that declares the sync ``DurableContext``: at run time it
gets ``AsyncDurableContext``, whose operations do nothing unless awaited."""
DurableHandler = (
    Callable[[Any, DurableContext], HandlerResult]
    | Callable[[Any, "AsyncDurableContext"], Awaitable[Any]]
)
"""A durable workflow: ``def (input, ctx: DurableContext) -> JSON-serialisable result``,
or ``async def (input, ctx: AsyncDurableContext)``; the engine passes that context."""
LambdaHandler = Callable[[Any, Any], dict[str, Any]]
"""What Lambda calls: ``(event, lambda_context) -> {Status, Result|Error}``."""

# Lambda's 6 MB response limit, minus room for the envelope (as AWS's SDK).
LAMBDA_RESPONSE_SIZE_LIMIT = 6 * 1024 * 1024 - 50
# The largest payload CheckpointDurableExecution accepts.
_MAX_PAYLOAD = 6 * 1024 * 1024

_backend_override: contextvars.ContextVar[DurableBackend | None] = contextvars.ContextVar(
    "durable_backend_override", default=None
)
_default_backend: DurableBackend | None = None


@contextlib.contextmanager
def use_backend(backend: DurableBackend) -> Iterator[DurableBackend]:
    """Run every durable handler invoked inside the block against ``backend``.

    This is how a local service or a test injects itself under any API style
    without the handler knowing: the override wins over ``ExecutionOptions.backend``.
    """
    token = _backend_override.set(backend)
    try:
        yield backend
    finally:
        _backend_override.reset(token)


@dataclass(frozen=True)
class ExecutionOptions:
    """What an API style may configure. Every field has the behaviour of AWS's SDK by default.

    ``batch_checkpoints`` buffers step results so sequential steps share one
    checkpoint call (everything is flushed before any suspension and before the
    handler returns). ``pipeline_checkpoints`` sends at-least-once step results in the
    background while the handler goes on (fast on a slow network); both trade the same
    guarantee: after a crash, a later step may have acted on an earlier result that was
    lost and is then computed again (docs/performance.md, "Semantics kept").
    ``plugins`` observe each invocation, operation and step attempt
    (``durable_core.plugins``: plugin instances, or factories called once per
    invocation). ``tracing`` adds the built-in tracing plugins
    (``durable_core.tracing``): a record per operation start and end on the
    ``durable.trace`` logger, and OpenTelemetry spans when ``opentelemetry-api`` is
    installed. ``offload`` stores every step result above its threshold in a payload
    store and checkpoints a reference (``durable_core.payloads``; a step's own
    ``StepConfig.offload`` wins). ``error_handler`` (sync, or ``async def``: awaited on a
    loop of its own) sees an exception the handler raised and returns a
    replacement result (or raises the error to report). ``preload`` is the unit-testing
    kit's seam (``durable_testing.MockDurableContext``): asked for the record of an
    operation the log lacks, it may supply one, so the operation replays it.
    """

    backend: DurableBackend | None = None
    batch_checkpoints: bool = False
    pipeline_checkpoints: bool = False
    tracing: bool = False
    error_handler: Callable[[Exception], Any] | None = None
    logger: Any = None
    plugins: Sequence[PluginEntry] = ()
    offload: Offload | None = None
    preload: Callable[[OperationCall], Operation | None] | None = None


def _resolve_backend(options: ExecutionOptions) -> DurableBackend:
    global _default_backend
    override = _backend_override.get()
    if override is not None:
        return override
    if options.backend is not None:
        return options.backend
    if _default_backend is None:
        from durable_core.backends.lambda_backend import LambdaBackend

        # One client per process: Lambda reuses the process across warm invocations.
        _default_backend = LambdaBackend()
    return _default_backend


def _parse_event(event: Any) -> InvocationInput:
    try:
        return InvocationInput.from_wire(event)
    except WireFormatError as exc:
        raise InvalidEventError(
            "The event is not a durable execution invocation "
            f"(is durability enabled on the function?): {exc}"
        ) from None


def _load_log(invocation: InvocationInput, backend: DurableBackend) -> CheckpointLog:
    log = CheckpointLog()
    log.add_wire(invocation.initial_execution_state.operations)
    marker = invocation.initial_execution_state.next_marker
    if not marker:
        return log
    with _collector_paused():
        _load_pages(invocation, backend, log, marker)
    return log


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the pages of a long log are parsed.

    Each record parsed is a few container objects that live for the whole invocation
    and form no cycles; at 100,000 records the collections they trigger (each pass of
    the oldest generation walks every record parsed so far) made replay a third slower
    per step than at 1,000. Nothing collectable is made meanwhile, and a collector the
    caller had turned off stays off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_pages(
    invocation: InvocationInput, backend: DurableBackend, log: CheckpointLog, marker: str | None
) -> None:
    seen: set[str] = set()
    while marker:
        if marker in seen:
            raise InvalidEventError(f"GetDurableExecutionState returned marker {marker!r} twice")
        seen.add(marker)
        # A backend answers an unreadable page with a CheckpointError (MalformedResponse).
        page = backend.get_state(
            invocation.durable_execution_arn, invocation.checkpoint_token, marker
        )
        log.update(page.operations)
        marker = page.next_marker


def _input_of(log: CheckpointLog) -> Any:
    execution = log.execution()
    payload = (
        execution.execution_details.input_payload
        if execution and execution.execution_details
        else None
    )
    if payload is None or not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise InvalidEventError(f"The execution's input payload is not JSON: {exc}") from None


def _response(
    status: InvocationStatus, result: str | None = None, error: ErrorObject | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"Status": status.value}
    if result is not None:
        response["Result"] = result
    if error is not None:
        response["Error"] = error.to_wire()
    return response


def run_invocation(
    handler: DurableHandler,
    event: Any,
    lambda_context: Any = None,
    options: ExecutionOptions | None = None,
) -> dict[str, Any]:
    """Run one invocation of a durable handler and return Lambda's durable response."""
    options = options or ExecutionOptions()
    runner_backend = None
    if not isinstance(event, dict):
        # AWS's in-process test runner hands over an invocation object with its own
        # client; the adapter is loaded only then, never on a Lambda cold start.
        from durable_core.backends.aws_client import invocation_event

        event, runner_backend = invocation_event(event)
    invocation = _parse_event(event)
    backend = runner_backend or _resolve_backend(options)
    log = _load_log(invocation, backend)
    checkpointer = Checkpointer(
        backend,
        invocation.durable_execution_arn,
        invocation.checkpoint_token,
        log,
        batch=options.batch_checkpoints,
        pipeline=options.pipeline_checkpoints,
    )
    plugins = _start_plugins(options, invocation, log, lambda_context)
    state = ExecutionState(
        invocation.durable_execution_arn,
        log,
        checkpointer,
        logger=options.logger,
        plugins=plugins,
        offload=options.offload,
        preload=options.preload,
    )
    ctx = DurableContext(state, replaying=log.has_history(), lambda_context=lambda_context)
    try:
        response = _run(handler, ctx, options, checkpointer, log)
    except BaseException as exc:
        if plugins is not None:
            # Lambda re-drives the invocation: the plugins see RETRY, as in AWS's SDK.
            plugins.finish(PluginStatus.RETRY, error=error_object_from_exception(exc))
        raise
    finally:
        checkpointer.close()
    if plugins is None:
        return response
    error = response.get("Error")
    plugins.finish(
        PluginStatus(response["Status"]),
        result=response.get("Result"),
        error=ErrorObject.from_wire(error) if error is not None else None,
    )
    return response


def _start_plugins(
    options: ExecutionOptions,
    invocation: InvocationInput,
    log: CheckpointLog,
    lambda_context: Any,
) -> PluginDispatcher | None:
    """This invocation's plugins, their ``on_invocation_start`` dispatched; None without any."""
    entries = [*options.plugins, *(tracing_plugins() if options.tracing else ())]
    if not entries:
        return None
    execution_input: Any = None
    with contextlib.suppress(InvalidEventError):  # the handler's run reports it
        execution_input = _input_of(log)
    return PluginDispatcher.start(
        entries,
        execution_arn=invocation.durable_execution_arn,
        log=log,
        execution_input=execution_input,
        lambda_context=lambda_context,
        updated_ids=invocation.updated_operation_ids,
    )


def _run(
    handler: DurableHandler,
    ctx: DurableContext,
    options: ExecutionOptions,
    checkpointer: Checkpointer,
    log: CheckpointLog,
) -> dict[str, Any]:
    response = _settle(handler, ctx, options, checkpointer, log)
    if checkpointer.revoked:
        # What this invocation did past the revocation was not recorded: as AWS's SDK,
        # end PENDING and let the next invocation replay from the persisted state.
        return _response(InvocationStatus.PENDING)
    return response


def _settle(
    handler: DurableHandler,
    ctx: DurableContext,
    options: ExecutionOptions,
    checkpointer: Checkpointer,
    log: CheckpointLog,
) -> dict[str, Any]:
    try:
        value = _call_handler(handler, _input_of(log), ctx)
    except SuspendExecution:
        checkpointer.flush()
        return _response(InvocationStatus.PENDING)
    except CheckpointError:
        raise
    except Exception as exc:
        log_user_failure(ctx.logger, exc, "the handler")
        return _failed(exc, options, checkpointer, log)
    except BaseException:
        # The process is going down (SystemExit, KeyboardInterrupt, MemoryError):
        # persist what is buffered (STARTs, batched results) on a best-effort basis,
        # as AWS's background checkpointer would have, then let it go down.
        with contextlib.suppress(Exception):
            checkpointer.flush()
        raise
    return _succeeded(value, checkpointer)


def _call_handler(handler: DurableHandler, input_value: Any, ctx: DurableContext) -> Any:
    """Call the handler; an ``async def`` one runs on a loop with ``AsyncDurableContext``.

    ``durable_core.aio`` (and asyncio) is imported only for async handlers: it is not
    on a sync handler's cold start. A plain function (a lambda, say) that returns a
    coroutine was given the sync ``DurableContext``, which an async workflow cannot
    use (its awaits fail, or its un-awaited operations look like they ran): refused.
    """
    if is_coroutine_function(handler):
        from durable_core.aio import run_async_handler

        return run_async_handler(handler, input_value, ctx)  # type: ignore[arg-type]
    value = handler(input_value, ctx)  # type: ignore[arg-type]
    if inspect.isawaitable(value):
        close = getattr(value, "close", None)
        if close is not None:
            close()  # it never runs: no "never awaited" warning later
        raise ValidationError(
            f"The handler {getattr(handler, '__qualname__', handler)!r} is a plain function "
            "that returned an awaitable, so it was given the sync DurableContext; write the "
            "handler itself as `async def handler(event, ctx: AsyncDurableContext)`"
        )
    return value


def _failed(
    exc: Exception, options: ExecutionOptions, checkpointer: Checkpointer, log: CheckpointLog
) -> dict[str, Any]:
    if options.error_handler is not None and not isinstance(exc, InvalidEventError):
        try:
            replacement = options.error_handler(exc)
            if inspect.isawaitable(replacement):  # an ``async def`` error handler
                from durable_core.aio import run_awaitable

                replacement = run_awaitable(replacement)
        except SuspendExecution:
            checkpointer.flush()
            return _response(InvocationStatus.PENDING)
        except Exception as handled:
            exc = handled
        else:
            return _succeeded(replacement, checkpointer)
    checkpointer.flush()
    return _response(InvocationStatus.FAILED, error=error_object_from_exception(exc))


def execution_result_id() -> str:
    """The id of the EXECUTION update that carries a result too large for the response.

    AWS's SDK names it ``execution-result-<epoch ms>`` (``OperationUpdate.
    create_execution_succeed``), never the execution operation's own id: AWS's runners
    key the update by it, and with the execution's id their history loses ExecutionStarted.
    """
    return f"execution-result-{time.time_ns() // 1_000_000}"


def _succeeded(value: Any, checkpointer: Checkpointer) -> dict[str, Any]:
    try:
        result = to_json(value)
    except SerDesError as exc:
        checkpointer.flush()
        error = error_object_from_exception(
            SerDesError(f"The handler's result cannot be serialised as JSON: {exc.message}")
        )
        return _response(InvocationStatus.FAILED, error=error)
    if len(result) > LAMBDA_RESPONSE_SIZE_LIMIT:
        if len(result) > _MAX_PAYLOAD:
            checkpointer.flush()
            too_large = PayloadTooLargeError(
                f"The handler's result is {len(result)} bytes; "
                f"the service accepts at most {_MAX_PAYLOAD}"
            )
            return _response(InvocationStatus.FAILED, error=error_object_from_exception(too_large))
        checkpointer.send(
            OperationUpdate(
                id=execution_result_id(),
                type=OperationType.EXECUTION,
                action=OperationAction.SUCCEED,
                payload=result,
            ),
            sync=True,
        )
        return _response(InvocationStatus.SUCCEEDED, result="")
    checkpointer.flush()
    return _response(InvocationStatus.SUCCEEDED, result=result)
