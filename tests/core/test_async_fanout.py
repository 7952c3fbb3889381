"""Async fan-out: the threads an async invocation uses, and what its checkpoints promise.

docs/performance.md ("The async driver") says: one event loop thread, one checkpoint
sender thread however many branches wait on checkpoints (it was a pool of up to 32,
which made a wide map slower than the sync one), and concurrent branches checkpoint the
same updates per operation as the sync driver, grouped into calls as timing falls, so
the per-operation sequences are compared here, never the calls.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from durable_closure import run
from durable_core import DurableContext, MemoryBackend, StepContext
from durable_core.aio import AsyncDurableContext
from durable_core.backends.base import CheckpointResponse
from durable_core.batch import MapConfig
from durable_core.types import OperationUpdate

from .conftest import drive

ITEMS = 40


class SlowBackend(MemoryBackend):
    """A checkpoint call takes a moment, so branches pile up waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[threading.Thread] = set()

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        self.threads.add(threading.current_thread())
        time.sleep(0.002)
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


def _checkpoint_threads(before: set[threading.Thread]) -> int:
    """Checkpoint threads started since ``before`` (other tests' may still be ending)."""
    return sum(
        1
        for t in threading.enumerate()
        if t.name.startswith("durable-checkpoint") and t not in before
    )


def test_a_wide_async_map_checkpoints_from_one_thread() -> None:
    seen: list[int] = []

    async def item(ctx: AsyncDurableContext, value: int, i: int, items: Sequence[int]) -> int:
        async def double(s: StepContext) -> int:
            seen.append(_checkpoint_threads(before))
            return value * 2

        return await ctx.step(double, name="double")

    async def wf(event: Any, ctx: AsyncDurableContext) -> int:
        batch = await ctx.map(list(range(ITEMS)), item, config=MapConfig(max_concurrency=ITEMS))
        return sum(batch.get_results())

    backend = SlowBackend()
    before = set(threading.enumerate())
    assert drive(run(wf), backend=backend).final["Result"] == str(sum(range(ITEMS)) * 2)
    assert len(backend.threads) == 1
    # The sender, and the flusher of updates left buffered for a second (idle here):
    # however many tasks wait on checkpoints.
    assert len(seen) == ITEMS and max(seen) <= 2


def _per_operation(backend: MemoryBackend) -> dict[str, list[dict[str, Any]]]:
    """Each operation's updates in the order they were sent; the calls forgotten."""
    updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in backend.calls:
        for update in call.updates:
            updates[update.id].append(update.to_wire())
    return dict(updates)


def test_concurrent_branches_send_the_same_updates_per_operation_in_any_grouping() -> None:
    def sync_item(ctx: DurableContext, value: int, i: int, items: Sequence[int]) -> int:
        return ctx.step(lambda s: value * 2, name="double")

    def sync_wf(event: Any, ctx: DurableContext) -> list[int]:
        return ctx.map(
            list(range(ITEMS)), sync_item, config=MapConfig(max_concurrency=8)
        ).get_results()

    async def async_item(ctx: AsyncDurableContext, value: int, i: int, items: Sequence[int]) -> int:
        return await ctx.step(lambda s: value * 2, name="double")

    async def async_wf(event: Any, ctx: AsyncDurableContext) -> list[int]:
        batch = await ctx.map(list(range(ITEMS)), async_item, config=MapConfig(max_concurrency=8))
        return batch.get_results()

    streams = []
    for handler in (run(sync_wf), run(async_wf)):
        backend = SlowBackend()
        assert drive(handler, backend=backend).final["Status"] == "SUCCEEDED"
        streams.append(_per_operation(backend))
    sync_updates, async_updates = streams
    assert async_updates == sync_updates
    # Every item's step and child context were checkpointed (START and SUCCEED each).
    assert sum(len(u) for u in sync_updates.values()) >= 4 * ITEMS
