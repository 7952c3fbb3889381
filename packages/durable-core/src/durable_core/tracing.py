"""Tracing as plugins: OpenTelemetry spans, and structured log records on ``durable.trace``.

``ExecutionOptions(tracing=True)`` (``DurableBuilder().with_tracing()``) registers
``tracing_plugins()``: the log records always, and OpenTelemetry spans when
``opentelemetry-api`` is installed (``pip install durable-core[tracing]``). Without it
the log records are all there is, and a warning says so once per process.

Spans, through the global tracer provider (configure the SDK and an exporter as for
any OpenTelemetry application):

* ``Invocation``: one per Lambda invocation; attributes ``durable.execution_arn``,
  ``durable.invocation.first``, ``durable.invocation.status``, ``faas.invocation_id``.
* ``Operation: <name or subtype>``: one per operation reported in the invocation,
  child of its context's span (its parent operation's, else the invocation's);
  attributes ``durable.operation.{id,name,type,subtype,status,replayed,attempt}``.
  An operation still running when the invocation ends (a wait, a retry backoff) has
  its span ended there, with the status it had.
* ``Attempt: <name or subtype> #<n>``: one per step attempt, child of the step's
  span and current while the body runs, so spans of instrumented calls in the body
  nest under it.

A failure (an operation or attempt that failed, an invocation that failed or will be
retried) sets the span's status to ERROR and records an ``exception`` event with the
error's type and message.

Trace context for chained invokes goes where AWS's SDKs put it: the X-Ray trace header
(``Root=1-…;Parent=…;Sampled=…``) in the START's ``ChainedInvokeOptions.XAmznTraceId``,
which the service hands to the target's invocation, never into the payload (user data).
``provide_propagation_metadata`` builds it from the invoke operation's span.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any

from durable_core.plugins import (
    DurablePlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    InvocationStatus,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    PluginEntry,
    PropagationInput,
    PropagationMetadata,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)
from durable_core.types import ErrorObject, OperationStatus

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["LogTracing", "OpenTelemetryTracing", "tracing_plugins", "xray_trace_header"]

_trace_log = logging.getLogger("durable.trace")
_FAILED = frozenset({OperationStatus.FAILED, OperationStatus.TIMED_OUT, OperationStatus.STOPPED})


class LogTracing(DurablePlugin):
    """One INFO record per operation start and end on ``durable.trace``, with its fields."""

    def _record(self, phase: str, info: OperationInfo) -> None:
        _trace_log.info(
            "%s %s %s",
            phase,
            info.operation_type.value,
            info.name or info.operation_id,
            extra={
                "operation_id": info.operation_id,
                "operation_type": info.operation_type.value,
                "operation_subtype": info.sub_type,
                "operation_name": info.name,
                "operation_status": info.status.value,
                "replayed": info.is_replayed,
            },
        )

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self._record("start", info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self._record("end", info)


@functools.cache
def tracing_plugins() -> tuple[PluginEntry, ...]:
    """What ``tracing=True`` registers: log records, and spans when OpenTelemetry is there.

    Built once per process (the tracer follows the global provider even when it is
    configured later); without OpenTelemetry the warning is logged that one time.
    """
    try:
        return (LogTracing(), OpenTelemetryTracing())
    except ImportError:
        _trace_log.warning(
            "tracing is on but opentelemetry-api is not installed: no spans, only "
            "log records on 'durable.trace' (pip install 'durable-core[tracing]')"
        )
        return (LogTracing(),)


def xray_trace_header(span: Span) -> str | None:
    """The X-Ray trace header naming ``span`` as parent, or None for an invalid span."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    trace_id = f"{context.trace_id:032x}"
    sampled = 1 if context.trace_flags.sampled else 0
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={context.span_id:016x};Sampled={sampled}"


class OpenTelemetryTracing:
    """Factory of one span-keeping plugin per invocation (raises ImportError without OTel)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        from opentelemetry import trace

        self._tracer = trace.get_tracer("durable_core", tracer_provider=tracer_provider)

    def create_plugin(self, info: InvocationStartInfo, /) -> DurablePlugin:
        return _InvocationSpans(self._tracer)


def _label(info: OperationInfo) -> str:
    return info.name or info.sub_type or info.operation_type.value


def _record_error(span: Span, error: ErrorObject | None, fallback: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    message = (error.error_message if error else None) or fallback
    span.set_status(Status(StatusCode.ERROR, message))
    span.add_event(
        "exception",
        {
            "exception.type": (error.error_type if error else None) or "",
            "exception.message": message,
        },
    )


def _operation_attributes(arn: str | None, info: OperationInfo) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "durable.execution_arn": arn or "",
        "durable.operation.id": info.operation_id,
        "durable.operation.type": info.operation_type.value,
        "durable.operation.subtype": info.sub_type or "",
        "durable.operation.status": info.status.value,
        "durable.operation.replayed": info.is_replayed,
    }
    if info.name is not None:
        attributes["durable.operation.name"] = info.name
    if info.attempt is not None:
        attributes["durable.operation.attempt"] = info.attempt
    return attributes


class _InvocationSpans(DurablePlugin):
    """The spans of one invocation: the invocation's, open operations', running attempts'."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._arn: str | None = None
        self._invocation: Span | None = None
        self._operations: dict[str, Span] = {}
        self._attempts: dict[str, tuple[Span, object]] = {}
        self._lock = threading.Lock()

    def _context_of(self, parent_id: str | None) -> Context | None:
        """The context whose span parents a new span: its parent operation's, else ours."""
        from opentelemetry import trace

        with self._lock:
            parent = self._operations.get(parent_id) if parent_id else None
        span = parent or self._invocation
        return trace.set_span_in_context(span) if span is not None else None

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self._arn = info.execution_arn
        attributes: dict[str, Any] = {
            "durable.execution_arn": info.execution_arn or "",
            "durable.invocation.first": info.is_first_invocation,
        }
        if info.request_id:
            attributes["faas.invocation_id"] = info.request_id
        self._invocation = self._tracer.start_span("Invocation", attributes=attributes)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        span = self._tracer.start_span(
            f"Operation: {_label(info)}",
            context=self._context_of(info.parent_id),
            attributes=_operation_attributes(self._arn, info),
        )
        with self._lock:
            self._operations[info.operation_id] = span

    def on_operation_end(self, info: OperationEndInfo) -> None:
        with self._lock:
            span = self._operations.pop(info.operation_id, None)
        if span is None:  # began in an earlier invocation, completed while suspended
            span = self._tracer.start_span(
                f"Operation: {_label(info)}", context=self._context_of(info.parent_id)
            )
        span.set_attributes(_operation_attributes(self._arn, info))
        if info.status in _FAILED:
            _record_error(span, info.error, f"operation {info.status.value}")
        span.end()

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        from opentelemetry import context, trace

        # A child context's body has no attempt number once its context was started.
        number = "" if info.attempt is None else f" #{info.attempt}"
        span = self._tracer.start_span(
            f"Attempt: {_label(info)}{number}",
            context=self._context_of(info.operation_id),
            attributes=_operation_attributes(self._arn, info),
        )
        token = context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._attempts[info.operation_id] = (span, token)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        from opentelemetry import context

        with self._lock:
            span, token = self._attempts.pop(info.operation_id)
        context.detach(token)  # type: ignore[arg-type]
        span.set_attribute("durable.attempt.outcome", info.outcome.value)
        if info.outcome is UserFunctionOutcome.FAILED:
            _record_error(span, info.error, "attempt failed")
        span.end()

    def provide_propagation_metadata(self, info: PropagationInput) -> PropagationMetadata | None:
        with self._lock:
            span = self._operations.get(info.operation_id) or self._invocation
        return PropagationMetadata(xray_trace_header(span)) if span is not None else None

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        with self._lock:
            still_open, self._operations = self._operations, {}
        for span in still_open.values():
            span.end()
        if self._invocation is None:
            return
        self._invocation.set_attribute("durable.invocation.status", info.status.value)
        if info.status in (InvocationStatus.FAILED, InvocationStatus.RETRY):
            _record_error(self._invocation, info.error, f"invocation {info.status.value}")
        self._invocation.end()
