"""Handlers of the map suite (9-x), written from each requirement's prose."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from durable_closure import run
from durable_core import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    DurableContext,
    LambdaHandler,
    MapConfig,
    NestingType,
)

from tests.conformance.handlers._shared import batch_summary

HANDLERS: dict[str, LambdaHandler] = {}

MapFunction = Callable[[DurableContext, Any, int, Sequence[Any]], Any]
_ALL = ("completionReason", "status", "successCount", "failureCount", "totalCount")
_NO_STATUS = ("completionReason", "successCount", "failureCount", "totalCount")


def _greet(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    return ctx.step(lambda _: f"Hello, {item}!")


def _double(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
    return item * 2


def _plus_index(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
    return item + index


def _times_ten(ctx: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
    return item * 10


def _upper(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    return item.upper()


def _step_item(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    return ctx.step(lambda _: item)


def _fail_on_fail(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    if item == "fail":
        raise RuntimeError(f"item {index} failed")
    return item


def _wait_in_second(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    if index == 1:
        ctx.wait(1)
    return ctx.step(lambda _: item)


def _large(ctx: DurableContext, item: str, index: int, items: Sequence[str]) -> str:
    return item * (70 * 1024)


def results_of(
    func: MapFunction, name: str | None, items: list[Any] | None = None, **config: Any
) -> LambdaHandler:
    """Map ``func`` over ``items`` (the input when None), one at a time; return the results."""

    def handler(event: Any, ctx: DurableContext) -> list[Any]:
        map_config: MapConfig[Any] = MapConfig(max_concurrency=1, **config)
        values = event if items is None else items
        return ctx.map(values, func, name=name, config=map_config).get_results()

    return run(handler)


def summary_of(
    items: list[str], name: str, fields: tuple[str, ...], **completion: Any
) -> LambdaHandler:
    """Map over ``items`` ("fail" raises), one at a time; return the projection ``fields``."""

    def handler(event: None, ctx: DurableContext) -> dict[str, Any]:
        config: MapConfig[Any] = MapConfig(
            max_concurrency=1, completion_config=CompletionConfig(**completion)
        )
        return batch_summary(ctx.map(items, _fail_on_fail, name=name, config=config), *fields)

    return run(handler)


def rethrow(event: None, ctx: DurableContext) -> Any:
    config: MapConfig[Any] = MapConfig(
        max_concurrency=1, completion_config=CompletionConfig(tolerated_failure_count=0)
    )
    batch = ctx.map(["fail", "never"], _fail_on_fail, name="throwing", config=config)
    batch.throw_if_error()
    return batch.get_results()


def concurrent(event: None, ctx: DurableContext) -> list[Any]:
    config: MapConfig[Any] = MapConfig(max_concurrency=2)
    return ctx.map(["r0", "r1", "r2"], _step_item, name="concurrent", config=config).get_results()


class WrappedItemSerDes:
    """Writes ``wrapped:<v>``, reads ``<v>`` back."""

    def serialize(self, value: str) -> str:
        return f"wrapped:{value}"

    def deserialize(self, data: str) -> str:
        return data.removeprefix("wrapped:")


class OperationSerDes:
    """Writes a whole map result as ``OPSERDE:<results joined by commas>`` and reads it back.

    As in AWS's Python SDK, a map ``serdes`` without ``item_serdes`` also encodes each
    item; items keep plain JSON, so only the whole result shows the custom form.
    """

    def serialize(self, value: BatchResult[str] | str) -> str:
        if isinstance(value, BatchResult):
            return "OPSERDE:" + ",".join(value.get_results())
        return json.dumps(value)

    def deserialize(self, data: str) -> BatchResult[str] | str:
        if not data.startswith("OPSERDE:"):
            item: str = json.loads(data)
            return item
        results = data.removeprefix("OPSERDE:").split(",")
        items = [BatchItem(i, BatchItemStatus.SUCCEEDED, r) for i, r in enumerate(results)]
        return BatchResult(items, CompletionReason.ALL_COMPLETED)


def large_results(event: None, ctx: DurableContext) -> dict[str, Any]:
    config: MapConfig[Any] = MapConfig(max_concurrency=1)
    batch = ctx.map(["a", "b", "c", "d"], _large, name="large", config=config)
    return batch_summary(batch, "successCount", "totalCount")


def then_wait(
    func: MapFunction,
    items: list[str],
    name: str,
    project: Callable[[BatchResult[Any]], Any],
    **config: Any,
) -> LambdaHandler:
    """Map, then wait a second (a replay), then return ``project`` of the map result."""

    def handler(event: None, ctx: DurableContext) -> Any:
        batch = ctx.map(items, func, name=name, config=MapConfig(max_concurrency=1, **config))
        ctx.wait(1)
        return project(batch)

    return run(handler)


HANDLERS["9-1"] = results_of(_greet, "map")
HANDLERS["9-2"] = results_of(_double, None)
HANDLERS["9-3"] = results_of(_plus_index, "indexed")
HANDLERS["9-4"] = results_of(_greet, "empty")
HANDLERS["9-5"] = summary_of(["ok", "fail", "never"], "failfast", _ALL, tolerated_failure_count=0)
HANDLERS["9-6"] = run(rethrow)
HANDLERS["9-7"] = summary_of(
    ["a", "b", "c", "d"],
    "min-successful",
    ("completionReason", "successCount", "totalCount"),
    min_successful=2,
)
HANDLERS["9-8"] = summary_of(["a", "fail", "c"], "tolerated", _ALL, tolerated_failure_count=1)
HANDLERS["9-9"] = summary_of(
    ["fail", "fail", "c"], "tolerated-exceeded", _NO_STATUS, tolerated_failure_count=1
)
HANDLERS["9-10"] = summary_of(
    ["fail", "fail", "c", "d"], "tolerated-pct", _NO_STATUS, tolerated_failure_percentage=25
)
HANDLERS["9-11"] = run(concurrent)
HANDLERS["9-12"] = results_of(_step_item, "flat", ["fa", "fb"], nesting_type=NestingType.FLAT)
HANDLERS["9-13"] = results_of(
    _times_ten, "named-items", [1, 2], item_namer=lambda item, index: f"item-{item}"
)
HANDLERS["9-14"] = results_of(_upper, "serdes", ["x", "y"], item_serdes=WrappedItemSerDes())
HANDLERS["9-15"] = results_of(_wait_in_second, "suspend", ["r0", "r1"])
HANDLERS["9-16"] = run(large_results)
HANDLERS["9-17"] = then_wait(_upper, ["a", "b"], "then-wait", BatchResult.get_results)
HANDLERS["9-18"] = then_wait(
    _fail_on_fail,
    ["ok", "fail"],
    "fail-then-wait",
    lambda batch: batch_summary(batch, *_ALL),
    completion_config=CompletionConfig(tolerated_failure_count=1),
)
HANDLERS["9-19"] = results_of(_upper, "op-serde", ["x", "y"], serdes=OperationSerDes())
HANDLERS["9-20"] = then_wait(
    _upper, ["x", "y"], "op-serde-replay", BatchResult.get_results, serdes=OperationSerDes()
)
