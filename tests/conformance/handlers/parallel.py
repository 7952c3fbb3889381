"""Handlers of the parallel suite (8-x), written from each requirement's prose."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from durable_closure import run
from durable_core import (
    CompletionConfig,
    DurableContext,
    LambdaHandler,
    NestingType,
    ParallelConfig,
)

from tests.conformance.handlers._shared import batch_summary, fail_branch

HANDLERS: dict[str, LambdaHandler] = {}

Branch = Callable[[DurableContext], Any]
_ALL = ("completionReason", "status", "successCount", "failureCount", "totalCount")
_NO_STATUS = ("completionReason", "successCount", "failureCount", "totalCount")


def returns(value: Any) -> Branch:
    return lambda ctx: value


def step_returns(value: Any) -> Branch:
    return lambda ctx: ctx.step(lambda _: value)


def sequential(**completion: Any) -> ParallelConfig[Any]:
    return ParallelConfig(max_concurrency=1, completion_config=CompletionConfig(**completion))


def results_of(branches: list[Branch], name: str | None, **config: Any) -> LambdaHandler:
    """Run ``branches`` one at a time and return the succeeded results in index order."""

    def handler(event: None, ctx: DurableContext) -> list[Any]:
        parallel_config = ParallelConfig(max_concurrency=1, **config)
        return ctx.parallel(branches, name=name, config=parallel_config).get_results()

    return run(handler)


def summary_of(
    branches: list[Branch], name: str, fields: tuple[str, ...], **completion: Any
) -> LambdaHandler:
    """Run ``branches`` one at a time and return the batch projection ``fields``."""

    def handler(event: None, ctx: DurableContext) -> dict[str, Any]:
        return batch_summary(
            ctx.parallel(branches, name=name, config=sequential(**completion)), *fields
        )

    return run(handler)


def rethrow(event: None, ctx: DurableContext) -> Any:
    batch = ctx.parallel(
        [fail_branch, returns("never")],
        name="throwing",
        config=sequential(tolerated_failure_count=0),
    )
    batch.throw_if_error()
    return batch.get_results()


def concurrent(event: None, ctx: DurableContext) -> list[Any]:
    config: ParallelConfig[Any] = ParallelConfig(max_concurrency=2)
    branches = [returns("r0"), returns("r1"), returns("r2")]
    return ctx.parallel(branches, name="concurrent", config=config).get_results()


def _wait_then(value: str) -> Branch:
    def branch(ctx: DurableContext) -> str:
        ctx.wait(2)
        return value

    return branch


class WrappingSerDes:
    """Writes ``{"wrapped": v}``, reads ``v`` back."""

    def serialize(self, value: Any) -> str:
        return json.dumps({"wrapped": value})

    def deserialize(self, data: str) -> Any:
        return json.loads(data)["wrapped"]


def bad_concurrency(event: None, ctx: DurableContext) -> Any:
    config: ParallelConfig[Any] = ParallelConfig(max_concurrency=0)
    return ctx.parallel([returns(1), returns(2)], name="bad-concurrency", config=config)


def accessors(event: None, ctx: DurableContext) -> dict[str, Any]:
    batch = ctx.parallel(
        [returns("a"), fail_branch, returns("c")],
        name="accessors",
        config=sequential(tolerated_failure_count=1),
    )
    return {
        "hasFailure": batch.has_failure,
        "successCount": len(batch.succeeded()),
        "failureCount": len(batch.failed()),
        "errorCount": len(batch.get_errors()),
    }


def nested(event: None, ctx: DurableContext) -> list[Any]:
    def inner(branch_ctx: DurableContext) -> list[Any]:
        branches = [step_returns("i1"), step_returns("i2")]
        return branch_ctx.parallel(branches, name="inner", config=sequential()).get_results()

    return ctx.parallel([inner], name="outer", config=sequential()).get_results()


HANDLERS["8-1"] = results_of([step_returns("task-1"), step_returns("task-2")], "parallel")
HANDLERS["8-2"] = results_of([returns("alpha"), returns("beta")], None)
HANDLERS["8-3"] = results_of([returns("one"), returns("two")], "named")
HANDLERS["8-4"] = results_of([returns("hello"), returns(42), returns({"k": "v"})], "hetero")
HANDLERS["8-5"] = results_of([], "empty")
HANDLERS["8-6"] = summary_of(
    [returns("ok"), fail_branch, returns("never")], "failfast", _ALL, tolerated_failure_count=0
)
HANDLERS["8-7"] = run(rethrow)
HANDLERS["8-8"] = summary_of(
    [returns(f"b{i}") for i in range(4)],
    "min-successful",
    ("completionReason", "successCount", "totalCount"),
    min_successful=2,
)
HANDLERS["8-9"] = summary_of(
    [returns("a"), fail_branch, returns("c")], "tolerated", _ALL, tolerated_failure_count=1
)
HANDLERS["8-10"] = summary_of(
    [fail_branch, fail_branch, returns("c")],
    "tolerated-exceeded",
    _NO_STATUS,
    tolerated_failure_count=1,
)
HANDLERS["8-11"] = run(concurrent)
HANDLERS["8-12"] = results_of(
    [step_returns("fa"), step_returns("fb")], "flat", nesting_type=NestingType.FLAT
)
HANDLERS["8-13"] = summary_of(
    [fail_branch, fail_branch, returns("c"), returns("d")],
    "tolerated-pct",
    _NO_STATUS,
    tolerated_failure_percentage=25,
)
HANDLERS["8-14"] = results_of([step_returns("b0"), _wait_then("b1")], "replay")
HANDLERS["8-15"] = results_of([returns("x"), returns("y")], "serde", item_serdes=WrappingSerDes())
HANDLERS["8-16"] = summary_of(
    [fail_branch, fail_branch, fail_branch], "all-fail", _ALL, tolerated_failure_count=3
)
HANDLERS["8-17"] = summary_of(
    [returns("a"), fail_branch, returns("c")], "min-not-reached", _ALL, min_successful=3
)
HANDLERS["8-18"] = summary_of(
    [fail_branch, fail_branch, returns("c"), returns("d")],
    "combined",
    _NO_STATUS,
    min_successful=3,
    tolerated_failure_count=1,
)
HANDLERS["8-19"] = run(bad_concurrency)
HANDLERS["8-20"] = run(accessors)
HANDLERS["8-21"] = run(nested)
HANDLERS["8-22"] = summary_of(
    [fail_branch, returns("b"), returns("c"), returns("d")],
    "pct-boundary",
    _ALL,
    tolerated_failure_percentage=25,
)
