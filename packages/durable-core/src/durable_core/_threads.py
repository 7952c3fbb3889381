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
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

IDLE_SECONDS = 60.0

_Task = tuple[Future[None], Callable[[], Any]]


class BranchThreads:
    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._tasks: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Threads waiting for a task that no submission has claimed yet.
        self._idle = 0
        self._idle_seconds = idle_seconds

    def submit(self, func: Callable[[], Any]) -> Future[None]:
        """Run ``func`` on an idle thread, or a new one; the future ends when it has."""
        future: Future[None] = Future()
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # claimed: that thread will take this task
        self._tasks.put((future, func))
        if start:
            threading.Thread(target=self._serve, name="durable-branch", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                future, func = self._tasks.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # unclaimed: no task is on its way to this thread
                        self._idle -= 1
                        return
                continue  # a submission claimed this thread just now: its task is coming
            error: BaseException | None = None
            ran = future.set_running_or_notify_cancel()  # False: cancelled before it ran
            if ran:
                try:
                    # An empty context, as a new thread's: nothing a branch (or a plugin
                    # hook on its thread) set in a context variable reaches the next.
                    contextvars.Context().run(func)
                except BaseException as exc:  # the branch's own errors are events already
                    error = exc
            with self._lock:
                self._idle += 1  # before the future ends: whoever it wakes finds it idle
            if ran and error is None:
                future.set_result(None)
            elif ran:
                future.set_exception(error)
            del future, func, error


BRANCH_THREADS = BranchThreads()
