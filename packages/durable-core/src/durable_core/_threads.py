"""Branch threads: kept between batches and invocations, started only when none is idle.

A parallel or map runs each branch on a thread. Starting a thread costs a handshake
with it (``Thread.start`` waits until it runs), and under the GIL that handshake waits
for the branches already running: a map's first wave of 50 branches took ~12 ms to
start. So the threads stay: an ended branch's thread waits for the next branch, of any
batch of the process (a warm Lambda runs invocation after invocation), and one that
stays idle for ``IDLE_SECONDS`` ends. A batch never waits for a thread: a branch
submitted when none is idle gets a new one (a fixed pool shared by nested batches could
deadlock, each outer branch holding a thread while its inner batch waits for one).
Each branch runs in an empty ``contextvars`` context, as on a new thread.

A task is a plain function: the batch learns how it ended from the task itself (its
events and a semaphore), so no ``Future`` (a condition and a lock each) is made per
branch.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

IDLE_SECONDS = 60.0

_log = logging.getLogger("durable")


class BranchThreads:
    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._forget_threads()
        # A forked child has none of the parent's threads: counting them idle, it would
        # hand them branches that never run.
        os.register_at_fork(after_in_child=self._forget_threads)

    def _forget_threads(self) -> None:
        self._tasks: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Threads waiting for a task that no submission has claimed yet.
        self._idle = 0

    def submit(self, task: Callable[[], Any]) -> None:
        """Run ``task`` on an idle thread, or a new one."""
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # claimed: that thread will take this task
        self._tasks.put(task)
        if start:
            threading.Thread(target=self._serve, name="durable-branch", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # unclaimed: no task is on its way to this thread
                        self._idle -= 1
                        return
                continue  # a submission claimed this thread just now: its task is coming
            try:
                # An empty context, as a new thread's: nothing a branch (or a plugin hook
                # on its thread) set in a context variable reaches the next.
                contextvars.Context().run(task)
            except BaseException:  # a branch reports its own outcome: this is a bug
                _log.exception("a durable branch thread's task raised")
            del task
            with self._lock:
                self._idle += 1


BRANCH_THREADS = BranchThreads()
