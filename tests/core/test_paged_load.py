"""Loading a log of many pages pauses the cyclic garbage collector, and only then.

The records parsed live for the invocation and form no cycles; the collections they
would trigger grow with the log (benchmarks/replay_paged.py measures the effect). What
must hold is that the collector is back as the caller had it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from durable_core import DurableContext, ExecutionOptions, MemoryBackend, run_invocation
from durable_core.backends.base import StatePage


class Observed(MemoryBackend):
    """Pages of two operations; records whether the collector ran during each page."""

    def __init__(self) -> None:
        super().__init__(page_size=2)
        self.collector_during_pages: list[bool] = []

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        self.collector_during_pages.append(gc.isenabled())
        return super().get_state(execution_arn, checkpoint_token, marker)


def _steps(event: Any, ctx: DurableContext) -> int:
    return sum(ctx.step(lambda s, i=i: i, name=f"s{i}") for i in range(6))


def _replay(backend: Observed) -> dict[str, Any]:
    event = backend.start_execution(None)
    options = ExecutionOptions(backend=backend)
    run_invocation(_steps, event, None, options)  # records six steps
    replay = backend.invocation_event(event["DurableExecutionArn"])  # holds the first page
    backend.collector_during_pages.clear()
    return run_invocation(_steps, replay, None, options)


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


@pytest.mark.usefixtures("collector")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_for_the_pages_and_left_as_it_was(enabled: bool) -> None:
    (gc.enable if enabled else gc.disable)()
    backend = Observed()
    assert _replay(backend) == {"Status": "SUCCEEDED", "Result": "15"}
    assert backend.collector_during_pages and not any(backend.collector_during_pages)
    assert gc.isenabled() is enabled
