"""One workflow through all four API styles: identical checkpoint streams, byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from durable_builder import DurableBuilder
from durable_class import DurableHandler
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    MemoryBackend,
    StepConfig,
    StepContext,
    no_retry,
)
from durable_decorator import durable_execution

from ..core.conftest import drive


def workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    order = ctx.step(lambda s: {"id": event["order"], "total": 42.5}, name="load")
    ctx.wait(3, name="cool-off")

    def ship(c: DurableContext) -> str:
        label = c.step(lambda s: f"label-{order['id']}", name="label")
        return c.step(lambda s: f"{label}:sent", name="send")

    shipped = ctx.run_in_child_context(ship, name="shipping")
    return {"order": order, "shipped": shipped}


@durable_execution
def decorated(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    return workflow(event, ctx)


class ClassFlow(DurableHandler):
    def handle(self, event: Any, ctx: DurableContext) -> Any:
        return workflow(event, ctx)


STYLES: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "closure": run(workflow),
    "decorator": decorated,
    "class": ClassFlow(),
    "builder": DurableBuilder(workflow).with_tracing().build(),
}


def _stream(handler: Callable[[Any, Any], dict[str, Any]]) -> tuple[list[list[str]], str]:
    backend = MemoryBackend()
    driven = drive(handler, {"order": 7}, backend=backend)
    calls = [[json.dumps(u.to_wire(), sort_keys=True) for u in c.updates] for c in backend.calls]
    return calls, driven.final["Result"]


def test_all_styles_produce_identical_checkpoint_streams() -> None:
    streams = {name: _stream(handler) for name, handler in STYLES.items()}
    reference = streams["closure"]
    assert json.loads(reference[1]) == {
        "order": {"id": 7, "total": 42.5},
        "shipped": "label-7:sent",
    }
    # load, the wait's START, shipping's START with label, send, shipping's SUCCEED.
    assert len(reference[0]) == 5
    for name, stream in streams.items():
        assert stream == reference, name


def test_builder_error_handler_replaces_the_failure() -> None:
    def failing(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1 / 0, name="div", config=StepConfig(retry=no_retry))

    handler = DurableBuilder(failing).with_error_handler(
        lambda exc: {"handled": type(exc).__name__}
    )
    driven = drive(handler.build())
    assert driven.final["Status"] == "SUCCEEDED"
    assert json.loads(driven.final["Result"]) == {"handled": "StepError"}


def test_builder_without_handler_builds_a_decorator_that_keeps_the_options() -> None:
    # The design card's spelling: @DurableBuilder().with_...().build()
    @DurableBuilder().with_tracing().with_error_handler(lambda exc: {"handled": str(exc)}).build()
    def failing(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1 / 0, name="div", config=StepConfig(retry=no_retry))

    driven = drive(failing)
    assert driven.final["Status"] == "SUCCEEDED"
    assert json.loads(driven.final["Result"]) == {"handled": "division by zero"}


def _number(i: int, _: StepContext) -> int:
    return i


def test_decorator_with_options_and_class_options_batch_checkpoints() -> None:
    @durable_execution(options=ExecutionOptions(batch_checkpoints=True))
    def many(event: Any, ctx: DurableContext) -> int:
        return sum(ctx.step(partial(_number, i), name=f"s{i}") for i in range(5))

    class Many(DurableHandler):
        options = ExecutionOptions(batch_checkpoints=True)

        def handle(self, event: Any, ctx: DurableContext) -> Any:
            return sum(ctx.step(partial(_number, i), name=f"s{i}") for i in range(5))

    for handler in (many, Many()):
        backend = MemoryBackend()
        assert drive(handler, backend=backend).final["Result"] == "10"
        assert len(backend.calls) == 1


def test_tracing_logs_each_operation(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="durable.trace"):
        drive(STYLES["builder"], {"order": 1})
    names = {
        getattr(r, "operation_name", None) for r in caplog.records if r.name == "durable.trace"
    }
    assert {"load", "cool-off", "shipping", "label", "send"} <= names
