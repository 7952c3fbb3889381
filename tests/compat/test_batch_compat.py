"""parallel and map on AWS's SDK and on ours: the same updates, the same BatchResult.

AWS's SDK is the reference. Branches run concurrently in both SDKs, so the order of
updates between branches may differ; each branch's own updates are compared in
order, and the multiset of all updates must be equal. ``max_concurrency=1`` makes the
order deterministic, and then the flattened sequences must be equal too.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.config import MapConfig as AwsMapConfig
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.execution import durable_execution
from durable_core import DurableContext
from durable_core.batch import MapConfig, ParallelConfig

from tests.compat.conftest import Run, aws_invoker, our_invoker, start


def _branches(wait: Any) -> list[Any]:
    def make(i: int) -> Any:
        def body(c: Any) -> dict[str, Any]:
            value = c.step(lambda s: {"i": i, "sq": i * i}, name=f"s{i}")
            wait(c, f"w{i}")
            return value

        return body

    return [make(i) for i in range(3)]


def _aws_wait(c: Any, name: str) -> None:
    c.wait(Duration.from_seconds(2), name=name)


def _our_wait(c: Any, name: str) -> None:
    c.wait(2, name=name)


@durable_execution
def aws_parallel(event: Any, ctx: Any) -> Any:
    result = ctx.parallel(
        _branches(_aws_wait), name="fan", config=AwsParallelConfig(max_concurrency=1)
    )
    mapped = ctx.map(
        [1, 2],
        lambda c, x, i, xs: c.step(lambda s: x + i, name="add"),
        name="m",
        config=AwsMapConfig(max_concurrency=1),
    )
    return {"p": result.get_results(), "m": mapped.get_results()}


def our_parallel(event: Any, ctx: DurableContext) -> Any:
    result = ctx.parallel(
        _branches(_our_wait), name="fan", config=ParallelConfig(max_concurrency=1)
    )
    mapped = ctx.map(
        [1, 2],
        lambda c, x, i, xs: c.step(lambda s: x + i, name="add"),
        name="m",
        config=MapConfig(max_concurrency=1),
    )
    return {"p": result.get_results(), "m": mapped.get_results()}


def _flat(run: Run) -> list[dict[str, Any]]:
    return [u for call in run.updates_by_call() for u in call]


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run]:
    aws_run = start(None)
    aws_run.until_done(aws_invoker(aws_parallel))
    our_run = start(None)
    our_run.until_done(our_invoker(our_parallel))
    return aws_run, our_run


def test_results_are_equal(runs: tuple[Run, Run]) -> None:
    aws_run, our_run = runs
    assert aws_run.final["Status"] == "SUCCEEDED"
    assert json.loads(our_run.final["Result"]) == json.loads(aws_run.final["Result"])


def test_updates_are_identical_in_order(runs: tuple[Run, Run]) -> None:
    aws_run, our_run = runs
    assert _flat(our_run) == _flat(aws_run)


def test_invocations_suspend_at_the_same_points(runs: tuple[Run, Run]) -> None:
    aws_run, our_run = runs
    assert [r["Status"] for r in our_run.responses] == [r["Status"] for r in aws_run.responses]


def test_recorded_batch_payload_is_the_same(runs: tuple[Run, Run]) -> None:
    aws_run, our_run = runs
    payloads = Counter(
        u.get("Payload") for u in _flat(aws_run) if u.get("SubType") in ("Parallel", "Map")
    )
    ours = Counter(
        u.get("Payload") for u in _flat(our_run) if u.get("SubType") in ("Parallel", "Map")
    )
    assert ours == payloads
