"""Branch threads: reused between batches, one per branch in flight, idle ones end."""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time

import pytest
from durable_core._threads import BranchThreads

PATIENCE = 10.0


def _idents(threads: BranchThreads, n: int) -> set[int]:
    """Run ``n`` tasks that all wait for each other (so each needs a thread of its own)."""
    barrier = threading.Barrier(n)
    seen: set[int] = set()
    done = threading.Semaphore(0)

    def task() -> None:
        barrier.wait(PATIENCE)
        seen.add(threading.get_ident())
        done.release()

    for _ in range(n):
        threads.submit(task)
    for _ in range(n):
        assert done.acquire(timeout=PATIENCE)
    return seen


def test_tasks_in_flight_each_get_a_thread_and_the_next_batch_reuses_them() -> None:
    threads = BranchThreads()
    first = _idents(threads, 8)  # a barrier of 8 passes only with 8 threads at once
    assert len(first) == 8
    _eventually_idle(threads, 8)
    second = _idents(threads, 8)
    assert second == first


def _eventually_idle(threads: BranchThreads, n: int) -> None:
    deadline = time.monotonic() + PATIENCE
    while threads._idle < n:
        assert time.monotonic() < deadline, "the threads never became idle"
        time.sleep(0.001)


def test_a_thread_idle_for_its_time_ends_and_a_new_one_serves_the_next_task() -> None:
    threads = BranchThreads(idle_seconds=0.05)
    (ident,) = _idents(threads, 1)
    deadline = time.monotonic() + PATIENCE
    while any(t.ident == ident for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the idle thread never ended"
        time.sleep(0.01)
    assert _idents(threads, 2)  # served by new threads


def test_a_failing_task_is_logged_and_the_thread_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    threads = BranchThreads()

    def fail() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="durable"):
        threads.submit(fail)
        _eventually_idle(threads, 1)
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
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

    threads.submit(leave)
    _eventually_idle(threads, 1)
    threads.submit(look)
    _eventually_idle(threads, 1)
    assert len(served_by) == 1  # the same thread served both
    assert seen == [None]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_starts_threads_of_its_own() -> None:
    """A child forked after a batch has none of the parent's idle threads: its branches
    get threads of their own instead of waiting for ones that do not exist there."""
    threads = BranchThreads()
    _idents(threads, 2)
    _eventually_idle(threads, 2)
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its tasks ran, and never return to pytest
        code = 1
        try:
            code = 0 if len(_idents(threads, 2)) == 2 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
