"""Branch threads: reused between batches, one per branch in flight, idle ones end."""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import wait

from durable_core._threads import BranchThreads

PATIENCE = 10.0


def _idents(threads: BranchThreads, n: int) -> set[int]:
    """Run ``n`` tasks that all wait for each other (so each needs a thread of its own)."""
    barrier = threading.Barrier(n)
    seen: set[int] = set()

    def task() -> None:
        barrier.wait(PATIENCE)
        seen.add(threading.get_ident())

    done, pending = wait([threads.submit(task) for _ in range(n)], timeout=PATIENCE)
    assert not pending and all(f.exception() is None for f in done)
    return seen


def test_tasks_in_flight_each_get_a_thread_and_the_next_batch_reuses_them() -> None:
    threads = BranchThreads()
    first = _idents(threads, 8)  # a barrier of 8 passes only with 8 threads at once
    assert len(first) == 8
    second = _idents(threads, 8)
    assert second == first


def test_a_thread_idle_for_its_time_ends_and_a_new_one_serves_the_next_task() -> None:
    threads = BranchThreads(idle_seconds=0.05)
    (ident,) = _idents(threads, 1)
    deadline = time.monotonic() + PATIENCE
    while any(t.ident == ident for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle thread never ended"
        time.sleep(0.01)
    assert _idents(threads, 2)  # served by new threads


def test_a_failing_task_fails_its_future_and_the_thread_serves_on() -> None:
    threads = BranchThreads()

    def fail() -> None:
        raise RuntimeError("boom")

    future = threads.submit(fail)
    assert isinstance(future.exception(PATIENCE), RuntimeError)
    assert len(_idents(threads, 1)) == 1


_LEFT = contextvars.ContextVar[str]("left")


def test_each_task_starts_with_an_empty_context_as_on_a_new_thread() -> None:
    """A value a branch (or a plugin hook on its thread) left in a context variable does
    not reach the next branch the thread serves, of this batch or another invocation."""
    threads = BranchThreads()
    seen: list[str | None] = []
    served_by: set[int] = set()

    def leave() -> None:
        served_by.add(threading.get_ident())
        _LEFT.set("from the first branch")

    def look() -> None:
        served_by.add(threading.get_ident())
        seen.append(_LEFT.get(None))

    threads.submit(leave).result(PATIENCE)
    threads.submit(look).result(PATIENCE)
    assert len(served_by) == 1  # the same thread served both
    assert seen == [None]


def test_a_thread_is_idle_before_its_task_is_reported_done() -> None:
    """Whoever the end of a task wakes (a batch about to start its next branch) finds
    the thread idle, so the next branch takes it instead of starting a thread."""
    threads = BranchThreads()
    idle_when_done: list[int] = []
    go = threading.Event()
    future = threads.submit(lambda: go.wait(PATIENCE))
    future.add_done_callback(lambda _: idle_when_done.append(threads._idle))
    go.set()
    future.result(PATIENCE)
    assert idle_when_done == [1]
