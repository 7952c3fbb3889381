"""Branch threads: reused between batches, one per branch in flight, idle ones end."""

from __future__ import annotations

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
