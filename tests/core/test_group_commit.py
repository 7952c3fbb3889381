"""Group commit: concurrent branches share checkpoint calls, one call in flight at a time.

A synchronous send returns once its own update is persisted. Whoever finds no call in
flight sends everything buffered; a thread whose update an earlier call carried returns
at once instead of queueing behind calls made for others' updates. Each call here waits
for the test to open its gate, so what is in flight when is chosen, not timed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    AsyncDurableContext,
    CheckpointError,
    CheckpointResponse,
    CompletionConfig,
    DurableContext,
    ExecutionOptions,
    MapConfig,
    MemoryBackend,
    ParallelConfig,
    use_backend,
)
from durable_core import checkpoint as checkpoint_module
from durable_core._replay import CheckpointLog
from durable_core.checkpoint import Checkpointer
from durable_core.execution import run_invocation
from durable_core.plugins import DurablePlugin, OperationEndInfo
from durable_core.types import OperationAction, OperationStatus, OperationType, OperationUpdate

from tests.core.conftest import drive

PATIENCE = 10.0  # seconds a test waits for a thread that should get there


class GatedBackend(MemoryBackend):
    """Each checkpoint call waits until the test opens its gate (call i, gate i)."""

    def __init__(self, calls: int, fail: set[int] | None = None) -> None:
        super().__init__()
        self.gates = [threading.Event() for _ in range(calls)]
        self.fail = fail or set()
        self.entered: list[list[str]] = []

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        index = len(self.entered)
        self.entered.append([u.id for u in updates])
        assert self.gates[index].wait(PATIENCE), f"call {index} was never let through"
        if index in self.fail:
            raise CheckpointError("refused", retryable=False)
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.001)


def _update(op_id: str) -> OperationUpdate:
    return OperationUpdate(id=op_id, type=OperationType.STEP, action=OperationAction.START)


def _checkpointer(backend: MemoryBackend) -> Checkpointer:
    event = backend.start_execution(None)
    return Checkpointer(
        backend, event["DurableExecutionArn"], event["CheckpointToken"], CheckpointLog()
    )


def _send_in_thread(checkpointer: Checkpointer, op_id: str) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def send() -> None:
        try:
            checkpointer.send(_update(op_id), sync=True)
            outcome.append("persisted")
        except CheckpointError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, outcome


def test_updates_queued_during_a_call_share_the_next_and_their_senders_do_not_wait_for_more() -> (
    None
):
    backend = GatedBackend(calls=3)
    checkpointer = _checkpointer(backend)
    a, _ = _send_in_thread(checkpointer, "a")
    _eventually(lambda: len(backend.entered) == 1)
    senders = [_send_in_thread(checkpointer, op_id) for op_id in "bcd"]
    _eventually(lambda: checkpointer.pending == 4)  # a in flight, b c d queued behind it

    backend.gates[0].set()
    a.join(PATIENCE)
    _eventually(lambda: len(backend.entered) == 2)
    assert backend.entered[1] == ["b", "c", "d"]  # one call for the three

    # e is queued while [b, c, d] is in flight: it needs a call of its own, but b, c and d
    # must not wait for it.
    e, e_outcome = _send_in_thread(checkpointer, "e")
    _eventually(lambda: checkpointer.pending == 4)
    backend.gates[1].set()
    for thread, outcome in senders:
        thread.join(PATIENCE)
        assert outcome == ["persisted"]
    _eventually(lambda: len(backend.entered) == 3)
    assert backend.entered[2] == ["e"]
    assert e_outcome == []  # still in flight, its gate closed

    backend.gates[2].set()
    e.join(PATIENCE)
    assert e_outcome == ["persisted"]
    assert checkpointer.calls == 3
    assert checkpointer.pending == 0


def test_a_call_wakes_the_threads_it_persisted_and_one_to_send_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """b, c and d sleep while a's call is in flight. Its end wakes b alone, to send the
    next call (which carries all three); c and d sleep on until that call has persisted
    theirs: no thread is woken only to go back to sleep."""
    backend = GatedBackend(calls=2)
    checkpointer = _checkpointer(backend)
    sleeps: list[int] = []
    sleep = Checkpointer._sleep_until_woken

    def counted(self: Checkpointer, number: int) -> None:
        sleeps.append(number)
        sleep(self, number)

    monkeypatch.setattr(Checkpointer, "_sleep_until_woken", counted)
    a, a_outcome = _send_in_thread(checkpointer, "a")
    _eventually(lambda: len(backend.entered) == 1)
    senders = [_send_in_thread(checkpointer, op_id) for op_id in "bcd"]
    _eventually(lambda: len(sleeps) == 3)
    backend.gates[0].set()
    _eventually(lambda: len(backend.entered) == 2)
    assert backend.entered[1] == ["b", "c", "d"]
    backend.gates[1].set()
    for thread, outcome in [(a, a_outcome), *senders]:
        thread.join(PATIENCE)
        assert outcome == ["persisted"]
    assert sorted(sleeps) == [2, 3, 4]  # each slept once


def test_a_failed_call_fails_every_sender_waiting_and_keeps_the_buffer() -> None:
    backend = GatedBackend(calls=1, fail={0})
    checkpointer = _checkpointer(backend)
    first = _send_in_thread(checkpointer, "a")
    _eventually(lambda: len(backend.entered) == 1)
    waiting = [_send_in_thread(checkpointer, op_id) for op_id in "bc"]
    _eventually(lambda: checkpointer.pending == 3)
    backend.gates[0].set()
    for thread, outcome in [first, *waiting]:
        thread.join(PATIENCE)
        assert len(outcome) == 1 and isinstance(outcome[0], CheckpointError)
    assert len(backend.entered) == 1  # nobody retried a call the service refused
    assert checkpointer.pending == 3  # nothing marked persisted: the next invocation redoes it


@pytest.mark.parametrize("api", ["sync", "async"])
def test_each_branch_step_is_persisted_before_it_returns_and_branches_share_calls(
    api: str,
) -> None:
    """The default guarantee holds under group commit, across concurrent branches, for
    branches as threads (sync API) and as tasks (async API)."""
    branches = 6
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    status_at_return: dict[int, OperationStatus] = {}
    all_bodies_done = threading.Barrier(branches)
    all_tasks_done = asyncio.Barrier(branches)

    def work(i: int) -> Callable[[Any], int]:
        def body(_: Any) -> int:
            all_bodies_done.wait(PATIENCE)  # every step result is ready at once
            return i

        return body

    def returned(i: int) -> None:
        (op,) = (op for op in backend.operations(arn) if op.name == f"s{i}")
        status_at_return[i] = op.status

    def branch(i: int) -> Callable[[DurableContext], int]:
        def body(ctx: DurableContext) -> int:
            value = ctx.step(work(i), name=f"s{i}")
            returned(i)
            return value

        return body

    def async_branch(i: int) -> Callable[[AsyncDurableContext], Awaitable[int]]:
        async def async_work(_: Any) -> int:
            await asyncio.wait_for(all_tasks_done.wait(), PATIENCE)
            return i

        async def body(ctx: AsyncDurableContext) -> int:
            value = await ctx.step(async_work, name=f"s{i}")
            returned(i)
            return value

        return body

    config = ParallelConfig[int](max_concurrency=branches)

    def workflow(event: Any, ctx: DurableContext) -> int:
        return sum(ctx.parallel([branch(i) for i in range(branches)], config=config).get_results())

    async def async_workflow(event: Any, ctx: AsyncDurableContext) -> int:
        batch = await ctx.parallel([async_branch(i) for i in range(branches)], config=config)
        return sum(batch.get_results())

    with use_backend(backend):
        response = run(workflow if api == "sync" else async_workflow)(event, None)
    assert response == {"Status": "SUCCEEDED", "Result": str(sum(range(branches)))}
    assert status_at_return == {i: OperationStatus.SUCCEEDED for i in range(branches)}
    # Without sharing, each branch makes at least two calls of its own (its step's and
    # its context's result).
    assert len(backend.calls) < 2 * branches


@pytest.mark.parametrize("flush", [True, False])
def test_nothing_is_sent_twice_and_order_is_kept(flush: bool) -> None:
    backend = MemoryBackend()
    checkpointer = _checkpointer(backend)
    threads = [
        threading.Thread(
            target=lambda k=k: [
                checkpointer.send(_update(f"{k}-{j}"), sync=j % 2 == 0) for j in range(20)
            ]
        )
        for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    if flush:
        checkpointer.flush()
    sent = [u.id for call in backend.calls for u in call.updates]
    assert len(sent) == len(set(sent))
    for k in range(4):
        mine = [int(op_id.split("-")[1]) for op_id in sent if op_id.startswith(f"{k}-")]
        assert mine == sorted(mine)  # each thread's updates in the order it sent them
    if flush:
        assert len(sent) == 80
    else:
        # The last synchronous send of each thread (j = 18) persisted it and all before.
        assert all(f"{k}-18" in sent for k in range(4))


def test_a_sender_lingers_until_every_running_branch_has_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While three branches run, the first to send waits for the other two (each within
    the linger's gap) and one call carries all three; a branch whose update a call has
    just persisted no longer counts as one that will send."""
    monkeypatch.setattr(checkpoint_module, "_MAX_LINGER", PATIENCE)
    monkeypatch.setattr(checkpoint_module, "_LINGER_SHARE", 1e6)
    backend = GatedBackend(calls=3)
    for gate in backend.gates:
        gate.set()
    checkpointer = _checkpointer(backend)
    checkpointer.count_branches(3)
    a, a_outcome = _send_in_thread(checkpointer, "a")
    _eventually(lambda: checkpointer.pending == 1)
    b, _ = _send_in_thread(checkpointer, "b")
    _eventually(lambda: checkpointer.pending == 2)
    time.sleep(0.05)  # room for a call that should not be made
    assert backend.entered == []  # c still runs: a and b wait for it
    checkpointer.send(_update("c0"), sync=False)  # an update that does not wait joins too
    c, _ = _send_in_thread(checkpointer, "c")
    for thread in (a, b, c):
        thread.join(PATIENCE)
    assert backend.entered == [["a", "b", "c0", "c"]]
    assert a_outcome == ["persisted"]

    # Two branches run; one sends, the other ends without sending: the sender stops
    # lingering at once (not after the linger's gap, here the test's patience).
    checkpointer.count_branches(-1)
    d, d_outcome = _send_in_thread(checkpointer, "d")
    _eventually(lambda: checkpointer.pending == 1)
    checkpointer.count_branches(-1)
    d.join(PATIENCE / 10)
    assert d_outcome == ["persisted"]
    assert backend.entered[1:] == [["d"]]


class HoldingBackend(MemoryBackend):
    """Holds the first call carrying a map item's end until ``released`` is set (or a
    while passes), and records whether it was set in time."""

    def __init__(self, released: threading.Event) -> None:
        super().__init__()
        self.released = released
        self.released_while_held: bool | None = None

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        ends_an_item = any(
            u.sub_type == "MapIteration" and u.action is OperationAction.SUCCEED for u in updates
        )
        if ends_an_item and self.released_while_held is None:
            self.released_while_held = self.released.wait(PATIENCE / 5)
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


@pytest.mark.parametrize("api", ["sync", "async"])
def test_an_ended_branch_frees_its_slot_before_its_end_is_persisted(api: str) -> None:
    """With two slots and three items, the third item runs while the call carrying the
    first item's end is still held: the slot was freed when that end was queued, so
    the next item's updates can share its call. (Were the slot freed only once the end
    is persisted, the third item could not start until the held call returned.)"""
    third_started = threading.Event()
    backend = HoldingBackend(third_started)

    def double(x: int) -> Callable[[Any], int]:
        def body(_: Any) -> int:
            if x == 2:
                third_started.set()
            return 2 * x

        return body

    config = MapConfig[int](max_concurrency=2)

    def workflow(event: Any, ctx: DurableContext) -> list[int]:
        return ctx.map(
            [0, 1, 2], lambda c, x, i, xs: c.step(double(x), name="double"), config=config
        ).get_results()

    async def async_workflow(event: Any, ctx: AsyncDurableContext) -> list[int]:
        async def item(c: AsyncDurableContext, x: int, i: int, xs: Any) -> int:
            return await c.step(double(x), name="double")

        return (await ctx.map([0, 1, 2], item, config=config)).get_results()

    event = backend.start_execution(None)
    with use_backend(backend):
        response = run(workflow if api == "sync" else async_workflow)(event, None)
    assert response == {"Status": "SUCCEEDED", "Result": "[0, 2, 4]"}
    assert backend.released_while_held is True


class EndOrder(DurablePlugin):
    """A plugin noting each operation's end, and whether its end was persisted then."""

    def __init__(self, backend: MemoryBackend, arn: str) -> None:
        self.backend = backend
        self.arn = arn
        self.ends: list[tuple[str | None, bool]] = []

    def on_operation_end(self, info: OperationEndInfo) -> None:
        (persisted,) = (
            op for op in self.backend.operations(self.arn) if op.id == info.operation_id
        )
        self.ends.append((info.name, persisted.status is OperationStatus.SUCCEEDED))


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_branch_reports_its_end_once_persisted_and_before_its_batch(api: str) -> None:
    """AWS's plugin contract: an operation's end hook runs after its terminal checkpoint
    is confirmed, and a child's before its parent's; a branch that freed its slot early
    still keeps both."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    plugin = EndOrder(backend, event["DurableExecutionArn"])
    config = MapConfig[int](max_concurrency=3)

    def workflow(event: Any, ctx: DurableContext) -> list[int]:
        return ctx.map(
            list(range(6)),
            lambda c, x, i, xs: c.step(lambda _: x, name="same"),
            name="m",
            config=config,
        ).get_results()

    async def async_workflow(event: Any, ctx: AsyncDurableContext) -> list[int]:
        async def item(c: AsyncDurableContext, x: int, i: int, xs: Any) -> int:
            return await c.step(lambda _: x, name="same")

        return (await ctx.map(list(range(6)), item, name="m", config=config)).get_results()

    options = ExecutionOptions(backend=backend, plugins=[plugin])
    response = run_invocation(workflow if api == "sync" else async_workflow, event, None, options)
    assert response == {"Status": "SUCCEEDED", "Result": "[0, 1, 2, 3, 4, 5]"}
    items = [end for end in plugin.ends if end[0] and end[0].startswith("map-item-")]
    assert sorted(name for name, _ in items) == [f"map-item-{i}" for i in range(6)]
    assert all(persisted for _, persisted in plugin.ends)
    assert plugin.ends[-1][0] == "m"


def _branch_count(ctx: DurableContext | AsyncDurableContext) -> int:
    core = ctx if isinstance(ctx, DurableContext) else ctx._core
    return core._checkpointer._branches


def _item(c: DurableContext, x: int, i: int, xs: Any) -> int:
    if x == 1:
        c.wait(1, name="nap")  # the batch suspends once, resumes on the next invocation
    if x == 2:
        raise ValueError("two")
    return c.step(lambda _: x, name="same")


async def _async_item(c: AsyncDurableContext, x: int, i: int, xs: Any) -> int:
    if x == 1:
        await c.wait(1, name="nap")
    if x == 2:
        raise ValueError("two")
    return await c.step(lambda _: x, name="same")


_CONFIGS = (
    MapConfig[int](max_concurrency=3),
    MapConfig[int](max_concurrency=2, completion_config=CompletionConfig(min_successful=2)),
    MapConfig[int](completion_config=CompletionConfig(tolerated_failure_count=0)),
)


@pytest.mark.parametrize("api", ["sync", "async"])
def test_every_branch_counted_for_the_sender_is_uncounted_when_its_batch_ends(api: str) -> None:
    """The sender lingers while more than one branch counts as running, so a count left
    over by a batch (a handled event, a cancelled branch, a suspension) would make every
    later step of the invocation linger."""
    after: list[int] = []

    def workflow(event: Any, ctx: DurableContext) -> int:
        for config in _CONFIGS:
            ctx.map(list(range(6)), _item, config=config)
            after.append(_branch_count(ctx))
        return 0

    async def async_workflow(event: Any, ctx: AsyncDurableContext) -> int:
        for config in _CONFIGS:
            await ctx.map(list(range(6)), _async_item, config=config)
            after.append(_branch_count(ctx))
        return 0

    driven = drive(run(workflow if api == "sync" else async_workflow))
    assert driven.final == {"Status": "SUCCEEDED", "Result": "0"}
    assert len(after) >= len(_CONFIGS) and set(after) == {0}


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_long_steps_start_reaches_the_service_while_its_body_runs(api: str) -> None:
    """An at-least-once step's START needs no call of its own, but it must not wait for
    the step's end either: AWS's SDK sends what is buffered within a second
    (max_batch_time_seconds), so the history and the console show the step running,
    and a crash mid-body keeps its START."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]

    def started() -> bool:
        return any(op.name == "long" for op in backend.operations(arn))

    def long_body(_: Any) -> bool:
        deadline = time.monotonic() + 3 * checkpoint_module._MAX_BUFFER_AGE
        while not started() and time.monotonic() < deadline:
            time.sleep(0.01)
        return started()

    def workflow(event: Any, ctx: DurableContext) -> bool:
        return ctx.step(long_body, name="long")

    async def async_workflow(event: Any, ctx: AsyncDurableContext) -> bool:
        return await ctx.step(long_body, name="long")

    with use_backend(backend):
        response = run(workflow if api == "sync" else async_workflow)(event, None)
    assert response == {"Status": "SUCCEEDED", "Result": "true"}
    assert not any(t.name == "durable-checkpoint-flush" for t in threading.enumerate())


def test_the_flusher_ends_with_the_invocation_not_at_its_next_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``flush`` wakes the flusher to end it: an invocation does not wait for the tick."""
    monkeypatch.setattr(checkpoint_module, "_MAX_BUFFER_AGE", 3600.0)
    backend = MemoryBackend()
    event = backend.start_execution(None)
    responses: list[Any] = []

    def invoke() -> None:
        with use_backend(backend):
            responses.append(run(lambda e, ctx: ctx.step(lambda _: 1, name="one"))(event, None))

    invocation = threading.Thread(target=invoke, daemon=True)
    invocation.start()
    invocation.join(PATIENCE)
    assert responses == [{"Status": "SUCCEEDED", "Result": "1"}]


def test_closing_stops_the_flusher_at_once_without_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An invocation that ends without persisting everything (its process going down,
    a failed call) closes its checkpointer: the flusher must not send later with the
    invocation's token, nor outlive it."""
    monkeypatch.setattr(checkpoint_module, "_MAX_BUFFER_AGE", 3600.0)
    backend = GatedBackend(calls=1)
    checkpointer = _checkpointer(backend)
    checkpointer.send(_update("start"), sync=False)
    flushers = [t for t in threading.enumerate() if t.name == "durable-checkpoint-flush"]
    assert flushers
    waiters = checkpointer._flusher_wake._waiters  # type: ignore[attr-defined]
    _eventually(lambda: len(waiters) == 1)  # the flusher waits for its next tick
    checkpointer.close()
    for thread in flushers:
        thread.join(PATIENCE / 5)
    assert checkpointer._flusher is None
    assert backend.entered == []
