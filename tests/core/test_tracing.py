"""OpenTelemetry spans from the tracing plugin, its fallback, and logging through any logger.

Spans are read back with the OpenTelemetry SDK's ``InMemorySpanExporter``. Operation
ids are ``blake2b(str(n))[:64]`` at the root and ``blake2b(f"{parent}-{n}")`` inside a
child context (AWS's id derivation), so the expected ids have their own source.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sys
from typing import Any

import pytest
from durable_builder import DurableBuilder
from durable_closure import run
from durable_core import DurableContext, ExecutionOptions, StepConfig, StepError, no_retry
from durable_core.plugins import (
    InvocationStartInfo,
    OperationStartInfo,
    PluginEntry,
    PropagationInput,
)
from durable_core.tracing import LogTracing, OpenTelemetryTracing, tracing_plugins
from durable_core.types import OperationStatus, OperationType
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.core.conftest import drive
from tests.core.test_plugins import Faulty, Recorder


def _id(key: str) -> str:
    return hashlib.blake2b(key.encode()).hexdigest()[:64]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name]
    return span


def attrs(span: ReadableSpan | Event) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


current_in_body: list[int] = []


def workflow(event: Any, ctx: DurableContext) -> str:
    def fetch(_: Any) -> str:
        current_in_body.append(trace.get_current_span().get_span_context().span_id)
        return "data"

    data = ctx.step(fetch, name="fetch")
    ctx.run_in_child_context(lambda c: c.step(lambda _: 1, name="inner"), name="group")
    with contextlib.suppress(StepError):
        ctx.step(_boom, name="boom", config=StepConfig(retry=no_retry))
    ctx.wait(5, name="pause")
    return data


def _boom(_: Any) -> None:
    raise KeyError("missing")


def test_spans_nest_and_carry_the_operation_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    current_in_body.clear()
    options = ExecutionOptions(plugins=[OpenTelemetryTracing(provider)])
    driven = drive(run(workflow, options=options))
    assert driven.final["Status"] == "SUCCEEDED"
    spans = exporter.get_finished_spans()

    invocations = [s for s in spans if s.name == "Invocation"]
    assert [attrs(s)["durable.invocation.first"] for s in invocations] == [True, False]
    assert [attrs(s)["durable.invocation.status"] for s in invocations] == [
        "PENDING",
        "SUCCEEDED",
    ]
    first = invocations[0]
    assert all(attrs(s)["durable.execution_arn"] == driven.arn for s in spans)

    fetch = by_name(spans, "Operation: fetch")
    assert parent_of(fetch) == span_id(first)
    assert fetch.context is not None and first.context is not None
    assert fetch.context.trace_id == first.context.trace_id
    assert dict(fetch.attributes or {}) == {
        "durable.execution_arn": driven.arn,
        "durable.operation.id": _id("1"),
        "durable.operation.name": "fetch",
        "durable.operation.type": "STEP",
        "durable.operation.subtype": "Step",
        "durable.operation.status": "SUCCEEDED",
        "durable.operation.replayed": False,
        "durable.operation.attempt": 1,
    }
    attempt = by_name(spans, "Attempt: fetch #1")
    assert parent_of(attempt) == span_id(fetch)
    assert attrs(attempt)["durable.operation.attempt"] == 1
    assert attrs(attempt)["durable.attempt.outcome"] == "SUCCEEDED"
    assert current_in_body == [span_id(attempt)]  # the body runs inside its attempt span

    group = by_name(spans, "Operation: group")
    inner = by_name(spans, "Operation: inner")
    assert attrs(group)["durable.operation.subtype"] == "RunInChildContext"
    assert parent_of(group) == span_id(first)
    assert parent_of(inner) == span_id(group)  # child-context operations under the context
    assert attrs(inner)["durable.operation.id"] == _id(f"{_id('2')}-1")


def test_errors_are_recorded_on_the_spans(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    drive(run(workflow, options=ExecutionOptions(plugins=[OpenTelemetryTracing(provider)])))
    spans = exporter.get_finished_spans()
    for name in ("Operation: boom", "Attempt: boom #1"):
        span = by_name(spans, name)
        assert span.status.status_code is StatusCode.ERROR
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert attrs(event)["exception.type"] == "KeyError"
    assert attrs(by_name(spans, "Operation: boom"))["durable.operation.status"] == "FAILED"
    assert by_name(spans, "Operation: fetch").status.status_code is StatusCode.UNSET

    def fails(event: Any, ctx: DurableContext) -> None:
        raise RuntimeError("bad input")

    exporter.clear()
    drive(run(fails, options=ExecutionOptions(plugins=[OpenTelemetryTracing(provider)])))
    invocation = by_name(exporter.get_finished_spans(), "Invocation")
    assert invocation.status.status_code is StatusCode.ERROR
    assert invocation.status.description == "bad input"


def test_an_operation_open_at_the_end_of_an_invocation_ends_with_it(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    drive(run(workflow, options=ExecutionOptions(plugins=[OpenTelemetryTracing(provider)])))
    pauses = [s for s in exporter.get_finished_spans() if s.name == "Operation: pause"]
    # Ended with the invocation that started it, still waiting; the next invocation, told
    # the timer fired (UpdatedOperationIds), reports its end.
    assert [attrs(p)["durable.operation.status"] for p in pauses] == ["STARTED", "SUCCEEDED"]


def test_a_faulty_plugin_does_not_break_tracing(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    recorder = Recorder()
    plugins: list[PluginEntry] = [Faulty(), OpenTelemetryTracing(provider), recorder]
    driven = drive(run(workflow, options=ExecutionOptions(plugins=plugins)))
    assert driven.final == {"Status": "SUCCEEDED", "Result": '"data"'}
    names = {s.name for s in exporter.get_finished_spans()}
    assert {"Invocation", "Operation: fetch", "Operation: inner", "Attempt: boom #1"} <= names
    assert recorder.events[-1] == ("invocation-end", "SUCCEEDED")


def test_chained_invokes_get_the_span_as_an_xray_trace_header(provider: TracerProvider) -> None:
    start = InvocationStartInfo("req", "arn:x", is_first_invocation=True)
    spans = OpenTelemetryTracing(provider).create_plugin(start)
    spans.on_invocation_start(start)
    spans.on_operation_start(
        OperationStartInfo(
            _id("1"),
            OperationType.CHAINED_INVOKE,
            "ChainedInvoke",
            "call",
            None,
            None,
            False,
            OperationStatus.STARTED,
        )
    )
    metadata = spans.provide_propagation_metadata(PropagationInput("arn:x", _id("1"), "target"))
    assert metadata is not None and metadata.x_amzn_trace_id is not None
    # X-Ray's header: Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>
    found = re.fullmatch(
        r"Root=1-([0-9a-f]{8})-([0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=1",
        metadata.x_amzn_trace_id,
    )
    assert found is not None
    invoke_span = spans._operations[_id("1")]  # type: ignore[attr-defined]
    context = invoke_span.get_span_context()
    assert found[1] + found[2] == f"{context.trace_id:032x}"
    assert found[3] == f"{context.span_id:016x}"


def test_with_tracing_records_spans_and_log_records(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    global_provider = trace.get_tracer_provider()
    if not isinstance(global_provider, TracerProvider):
        global_provider = TracerProvider()
        trace.set_tracer_provider(global_provider)
    global_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with caplog.at_level(logging.INFO, logger="durable.trace"):
        drive(DurableBuilder(workflow).with_tracing().build())
    assert "Operation: fetch" in {s.name for s in exporter.get_finished_spans()}
    ends = [
        r for r in caplog.records if r.name == "durable.trace" and r.getMessage().startswith("end")
    ]
    assert {getattr(r, "operation_name", None) for r in ends} >= {"fetch", "inner", "boom"}


def test_without_opentelemetry_tracing_falls_back_to_log_records(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import raises ImportError
    with caplog.at_level(logging.WARNING, logger="durable.trace"):
        plugins = tracing_plugins.__wrapped__()
    assert [type(p) for p in plugins] == [LogTracing]
    (warning,) = [r for r in caplog.records if r.name == "durable.trace"]
    assert "opentelemetry-api is not installed" in warning.getMessage()


class PowertoolsLikeLogger:
    """The call shape of AWS Lambda Powertools' ``Logger``: keyword ``extra``/``stacklevel``."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def _log(self, level: str, msg: object, *args: Any, **kwargs: Any) -> None:
        extra = dict(kwargs.pop("extra", None) or {})
        kwargs.pop("stacklevel", None)
        assert not kwargs, f"unexpected keywords {kwargs}"
        self.lines.append((level, str(msg) % args if args else str(msg), extra))

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("INFO", msg, *args, **kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("WARNING", msg, *args, **kwargs)


@pytest.mark.parametrize("kind", ["powertools", "stdlib"])
def test_handlers_log_through_any_logger_once_per_execution(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = PowertoolsLikeLogger()
    logger: Any = fake if kind == "powertools" else logging.getLogger("orders")

    def handler(event: Any, ctx: DurableContext) -> str:
        ctx.logger.info("order %s received", 7)
        ctx.step(lambda s: s.logger.warning("charging"), name="charge")
        ctx.wait(5)
        ctx.logger.info("done")
        return "ok"

    with caplog.at_level(logging.INFO, logger="orders"):
        driven = drive(run(handler, options=ExecutionOptions(logger=logger)))
    charge_id = _id("1")
    if kind == "powertools":
        lines = [(level, text) for level, text, _ in fake.lines]
        extras = [extra for _, _, extra in fake.lines]
    else:
        lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "orders"]
        extras = [vars(r) for r in caplog.records if r.name == "orders"]
    # two invocations, but each line once: replayed code does not log again
    assert lines == [("INFO", "order 7 received"), ("WARNING", "charging"), ("INFO", "done")]
    assert all(extra["executionArn"] == driven.arn for extra in extras)
    assert extras[1]["operationId"] == charge_id and extras[1]["attempt"] == 1


def test_plugins_are_accepted_by_the_builder() -> None:
    recorder = Recorder()
    other = Recorder()
    handler = DurableBuilder(workflow).with_plugins(recorder).with_plugins(other).build()
    drive(handler)
    assert recorder.events == other.events
    assert recorder.events[0] == ("invocation-start", True)


def test_a_new_chained_invoke_carries_the_trace_header(provider: TracerProvider) -> None:
    """The START of an invoke carries the X-Ray header of the invoke's span; without a
    tracing plugin it carries none."""
    from durable_core import MemoryBackend, use_backend
    from durable_core.types import OperationAction

    def caller(event: Any, ctx: DurableContext) -> Any:
        return ctx.invoke("target", {"x": 1}, name="call")

    headers: list[str | None] = []
    for options in (ExecutionOptions(plugins=[OpenTelemetryTracing(provider)]), None):
        backend = MemoryBackend()
        with use_backend(backend):
            assert run(caller, options=options)(backend.start_execution(None), None) == {
                "Status": "PENDING"
            }
        (start,) = [
            u
            for c in backend.calls
            for u in c.updates
            if u.type is OperationType.CHAINED_INVOKE and u.action is OperationAction.START
        ]
        assert start.chained_invoke_options is not None
        headers.append(start.chained_invoke_options.x_amzn_trace_id)
    traced, plain = headers
    assert traced is not None and re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};.*", traced)
    assert plain is None


def test_a_child_context_body_runs_in_a_span_numbered_only_when_it_starts(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def napping(event: Any, ctx: DurableContext) -> None:
        ctx.run_in_child_context(lambda c: c.wait(5, name="nap"), name="group")

    drive(run(napping, options=ExecutionOptions(plugins=[OpenTelemetryTracing(provider)])))
    runs = [s for s in exporter.get_finished_spans() if s.name.startswith("Attempt: group")]
    # Run once as the context starts (attempt 1, as AWS's SDK numbers it), then again in
    # the next invocation to reach the wait's end: no attempt number then.
    assert [s.name for s in runs] == ["Attempt: group #1", "Attempt: group"]
    assert [attrs(s)["durable.attempt.outcome"] for s in runs] == ["INCOMPLETE", "SUCCEEDED"]
