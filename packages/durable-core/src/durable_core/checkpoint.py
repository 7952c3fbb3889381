"""The checkpointer: the one owner of the checkpoint token and the backend.

Operations hand it ``OperationUpdate``s. It buffers them and sends them in as few
CheckpointDurableExecution calls as the semantics allow:

* ``send(update, sync=True)`` returns only when the update (and everything buffered
  before it) is persisted: used when the code must not go on before the service
  knows (an at-most-once START, a RETRY before suspending, a wait's START).
* ``send(update, sync=False)`` may stay buffered; with ``batch=True`` step results
  are buffered too, so sequential steps share one call.
* ``send_result(update, pipelined=True)`` (an at-least-once step's SUCCEED) is, when
  the checkpointer was made with ``pipeline=True`` (opt-in), sent from a background
  thread while the handler goes on; what the handler produces meanwhile joins the next
  call. By default results are persisted before the step returns, as AWS's SDK does:
  pipelining lets a later step act on an earlier result that a crash then loses
  (docs/performance.md, "Semantics kept").
* ``flush()`` runs before every suspension and before the handler returns; it also
  waits for the background sender, so no update and no thread outlives it.

One call is in flight at a time. Concurrent branches (parallel, map) that checkpoint
while it is in flight share the next call (group commit), as AWS's background
checkpointer batches them.

Updates are persisted in the order they were sent, whatever the path: a lost
pipelined result loses only results sent after it too, and replay re-runs exactly
those steps (see docs/performance.md, "Semantics kept").

Throttling and 5xx answers are retried with backoff using the same client token, so a
call the service applied but whose answer was lost is not applied twice. A failure that
survives the retries leaves the buffer intact and raises ``CheckpointError``: the
invocation ends and Lambda re-drives it from the last persisted checkpoint.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from durable_core._replay import CheckpointLog
from durable_core.errors import CheckpointError, SuspendExecution
from durable_core.types import OperationType, OperationUpdate

if TYPE_CHECKING:
    from durable_core.backends.base import DurableBackend

__all__ = ["Checkpointer"]

# CheckpointDurableExecution bounds a request; stay well below it.
_MAX_UPDATES_PER_CALL = 250
_MAX_BYTES_PER_CALL = 750 * 1024
# While branches run concurrently, a sender waits for the updates the others are about to
# make: as long as each arrives within _MAX_LINGER of the last, up to this share of a
# round trip in all. Waiting less than half a round trip saves the late updates a whole
# one: a wave of 50 branches takes 5-10 ms of the GIL to reach its checkpoints (a quarter,
# 5 ms at 20 ms, split a parallel of 200 branches into 7-9 calls, half into 6).
_LINGER_SHARE = 0.5
# The round trip assumed until a call is measured: a service across a network (a map's
# first call then waits up to 10 ms for its items to reach their checkpoints).
_SLOW_ROUND_TRIP = 0.02
_MAX_LINGER = 0.001
# An update nobody waits for (an at-least-once step's START, a batched result) is sent
# within this time even if no other send carries it, as AWS's SDK sends a batch after
# max_batch_time_seconds: the service sees a long step as started while it runs (its
# history, the console), and a crash mid-body does not lose the START.
_MAX_BUFFER_AGE = 1.0


class Checkpointer:
    def __init__(
        self,
        backend: DurableBackend,
        execution_arn: str,
        token: str,
        log: CheckpointLog,
        *,
        batch: bool = False,
        pipeline: bool = False,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.execution_arn = execution_arn
        self.token = token
        self.log = log
        self.batch = batch
        self.pipeline = pipeline
        # The service answered without a CheckpointToken: it revoked ours (another
        # invocation took over). Nothing more can be persisted by this invocation.
        self.revoked = False
        self.max_attempts = max_attempts
        self.calls = 0
        # Answers that carried operations none of their updates touched: the service's
        # news (a timer fired, a callback answered) that a waiting branch may act on.
        self.news = 0
        self._sleep = sleep
        # One condition guards the buffer, the counters and the single in-flight call.
        # Updates are numbered as they are queued; a synchronous send waits until the
        # number of persisted updates reaches its own. Whoever finds no call in flight
        # sends everything buffered so far (group commit): concurrent branches that
        # checkpoint while a call is in flight share the next call, and a thread whose
        # update a call already carried returns without a call of its own.
        lock = self._lock = threading.Lock()
        self._cond = threading.Condition(lock)
        # The sender lingering for its siblings waits on its own condition (same lock), so
        # that a sibling arriving wakes only it, not every thread waiting for a call.
        self._arrivals = threading.Condition(lock)
        self._lingering = False
        # The update number each thread inside _persist_through waits for.
        self._waiting: list[int] = []
        # Threads asleep until the call in flight (or the linger) ends, each on its own
        # condition: a call wakes those it persisted and one more to send the next call,
        # not all of them (waking the 100 threads of a wide map's waves for every call
        # cost a fifth of its time under the GIL).
        self._sleepers: list[tuple[int, threading.Condition]] = []
        self._buffer: list[OperationUpdate] = []
        self._queued = 0
        self._persisted = 0
        self._in_flight = False
        self._sender: threading.Thread | None = None
        # Sends what stayed buffered for _MAX_BUFFER_AGE (see ``_send_stale``); ``flush``
        # wakes it to end.
        self._flusher: threading.Thread | None = None
        self._flusher_wake = threading.Condition(lock)
        self._closed = False
        self._failure: BaseException | None = None
        self._branches = 0
        # The last call's duration; until one is measured, the service counts as slow.
        self._round_trip = _SLOW_ROUND_TRIP

    def count_branches(self, delta: int) -> None:
        """Count the concurrent branches (parallel, map) submitted and not yet ended.

        While more than one is, a sender lingers until the others wait on checkpoints too
        (``_linger``), so that the updates they are about to make share its call
        (PostgreSQL's commit_delay with commit_siblings; AWS's checkpointer waits 1 ms per
        update for the same reason). Branches count from their
        submission, not their thread's start, so the first calls of a map already wait
        for the branches whose threads are still starting.
        """
        with self._cond:
            self._branches += delta
            if self._lingering:
                self._arrivals.notify()  # one branch fewer to wait for

    @property
    def pending(self) -> int:
        """Updates buffered and not yet persisted."""
        return len(self._buffer)

    def send(self, update: OperationUpdate, *, sync: bool) -> None:
        number = self.queue(update, sync=sync)
        if number is not None:
            self.persist_through(number)

    def send_result(self, update: OperationUpdate, *, pipelined: bool = False) -> None:
        """An operation's outcome: persisted now, or buffered in batch mode.

        ``pipelined`` (only for a result whose loss replay repairs by running the
        operation again) lets a slow service persist it in the background.
        """
        number = self.queue_result(update, pipelined=pipelined)
        if number is not None:
            self.persist_through(number)

    # ``queue``/``queue_result`` then ``persist_through`` are ``send``/``send_result`` in
    # two halves: queueing never blocks, so the asyncio driver queues on the loop and
    # waits for persistence from one sender thread (group commit without a thread per
    # waiting task).

    def queue(self, update: OperationUpdate, *, sync: bool) -> int | None:
        """Buffer ``update``; return the number to ``persist_through`` if ``sync``."""
        with self._cond:
            self._raise_failure()
            self._buffer.append(update)
            self._queued += 1
            if self._lingering:
                self._arrivals.notify()
            if sync:
                return self._queued
            if self._flusher is None and not self._closed:
                self._flusher = threading.Thread(
                    target=self._send_stale, name="durable-checkpoint-flush", daemon=True
                )
                self._flusher.start()
            return None

    def queue_result(self, update: OperationUpdate, *, pipelined: bool = False) -> int | None:
        """``send_result``'s buffering: the number to persist through, or None."""
        if self.batch:
            return self.queue(update, sync=False)
        if pipelined and self.pipeline:
            self.queue(update, sync=False)
            with self._cond:
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_in_background, name="durable-checkpoint", daemon=True
                    )
                    self._sender.start()
            return None
        return self.queue(update, sync=True)

    @property
    def queued(self) -> int:
        """How many updates were queued so far (``flush`` persists through this)."""
        return self._queued

    @property
    def persisted(self) -> int:
        """How many of the updates queued are persisted."""
        return self._persisted

    def persist_through(self, number: int) -> None:
        """Return once the first ``number`` updates queued are persisted; raise the
        failure that prevented it, or ``SuspendExecution`` if the token was revoked."""
        self._persist_through(number)
        self._raise_failure()
        if self.revoked:
            raise SuspendExecution("the service revoked the checkpoint token")

    def flush(self) -> None:
        with self._cond:
            queued = self._queued
        self._persist_through(queued)
        with self._cond:
            self._flusher_wake.notify()
        for thread in (self._sender, self._flusher):
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        self._raise_failure()

    def _persist_through(self, number: int) -> None:
        """Return once the first ``number`` updates queued are persisted (or the token is
        revoked); send them if no call is in flight, else wait for the one that is."""
        cond = self._cond
        lingered = False
        with cond:
            self._waiting.append(number)
            if self._lingering:
                self._arrivals.notify()
            try:
                while self._persisted < number and not self.revoked:
                    self._raise_failure()
                    if self._in_flight or self._lingering:
                        self._sleep_until_woken(number)
                        continue
                    if self._branches > 1 and not lingered:
                        lingered = True
                        self._linger()
                        continue
                    self._send_chunk()
            finally:
                self._waiting.remove(number)

    def _linger(self) -> None:
        """Before sending while branches run, wait for the siblings' updates to join the
        call: until every branch is blocked on a checkpoint, or no update arrived for
        ``_MAX_LINGER``, or a share of a round trip has passed. A branch still running is
        about to add an update, which would otherwise wait a whole round trip for the next
        call (AWS's batcher waits the same way: 1 ms for each next update)."""
        self._lingering = True
        deadline = time.monotonic() + self._round_trip * _LINGER_SHARE
        try:
            while self._blocked() < self._branches and not self._in_flight:
                remaining = min(deadline - time.monotonic(), _MAX_LINGER)
                if remaining <= 0 or not self._arrivals.wait(remaining):
                    break
        finally:
            self._lingering = False

    def _sleep_until_woken(self, number: int) -> None:
        """Wait, lock released, until ``_wake`` picks this thread (waiting for ``number``)."""
        waiter = threading.Condition(self._lock)
        self._sleepers.append((number, waiter))
        waiter.wait()

    def _wake(self) -> None:
        """A call ended: wake the threads whose updates it persisted and, if others wait,
        the one with the lowest number to send the next call; or all of them when the
        invocation cannot go on (a failure, a revoked token)."""
        sleepers = self._sleepers
        if not sleepers:
            return
        persisted = self._persisted
        if self._failure is not None or self.revoked:
            woken, asleep = sleepers, []
        else:
            woken = [s for s in sleepers if s[0] <= persisted]
            asleep = [s for s in sleepers if s[0] > persisted]
            if asleep:
                next_sender = min(asleep, key=lambda s: s[0])
                woken.append(next_sender)
                asleep.remove(next_sender)
        self._sleepers = asleep
        for _, waiter in woken:
            waiter.notify()

    def _blocked(self) -> int:
        """Threads waiting for an update not yet persisted: a thread a call has just
        released is still in ``_waiting`` until it runs, but will add no more for it."""
        persisted = self._persisted
        return sum(1 for number in self._waiting if number > persisted)

    def _send_chunk(self) -> None:
        """One call with the next chunk of the buffer; the lock is released meanwhile."""
        cond = self._cond
        chunk = self._next_chunk()
        self._in_flight = True
        cond.release()
        sent = False
        try:
            self._call(chunk)
            sent = True
        except BaseException as exc:
            # The invocation ends: every thread waiting, or sending later, raises
            # it too. The buffer stays intact; nothing is marked persisted.
            self._failure = self._failure or exc
            raise
        finally:
            cond.acquire()
            self._in_flight = False
            if sent:
                del self._buffer[: len(chunk)]
                self._persisted += len(chunk)
            self._wake()

    def _send_in_background(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._persisted >= self._queued or self.revoked:
                        self._sender = None
                        return
                    queued = self._queued
                self._persist_through(queued)
        except BaseException:
            # Recorded by _persist_through, with the buffer intact: the handler's thread
            # raises it at its next send or flush, as after a failed synchronous call.
            with self._cond:
                self._sender = None

    def close(self) -> None:
        """The invocation is over (``flush`` ran, or it ends by an error): the flusher
        stops at once and sends nothing more, so no thread of it outlives the invocation
        or sends with its token later."""
        with self._cond:
            self._closed = True
            self._flusher_wake.notify()

    def _send_stale(self) -> None:
        """Every half ``_MAX_BUFFER_AGE``, persist what was queued by the previous tick and
        is still buffered (so nothing waits much longer than ``_MAX_BUFFER_AGE``); end
        once everything queued is persisted, or the invocation cannot go on."""
        stale = 0
        try:
            while True:
                with self._cond:
                    if self._done_flushing():
                        self._flusher = None
                        return
                    self._flusher_wake.wait(_MAX_BUFFER_AGE / 2)
                    if self._closed:
                        continue
                    # What the previous tick saw queued and is still buffered is due now.
                    due = stale if self._persisted < stale else 0
                    stale = self._queued
                if due:
                    self._persist_through(due)
        except BaseException:
            # Recorded by _persist_through: the handler's thread raises it at its next
            # send or flush.
            with self._cond:
                self._flusher = None

    def _done_flushing(self) -> bool:
        return (
            self._closed
            or self._persisted >= self._queued
            or self.revoked
            or self._failure is not None
        )

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _next_chunk(self) -> list[OperationUpdate]:
        chunk: list[OperationUpdate] = []
        size = 0
        for update in self._buffer[:_MAX_UPDATES_PER_CALL]:
            update_size = _update_size(update)
            if chunk and size + update_size > _MAX_BYTES_PER_CALL:
                break
            chunk.append(update)
            size += update_size
        return chunk

    def _call(self, updates: list[OperationUpdate]) -> None:
        client_token = str(uuid.uuid4())
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                response = self.backend.checkpoint(
                    self.execution_arn, self.token, updates, client_token
                )
            except CheckpointError as exc:
                if not exc.retryable or attempt == self.max_attempts:
                    raise
                self._sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
                continue
            self.calls += 1
            self._round_trip = time.perf_counter() - started
            if response.checkpoint_token:
                self.token = response.checkpoint_token
            elif not any(u.type is OperationType.EXECUTION for u in updates):
                # Only the call that ends the execution is answered without a token.
                self.revoked = True
            self.log.update(response.operations)
            sent = {update.id for update in updates}
            if any(operation.id not in sent for operation in response.operations):
                self.news += 1
            return


def _update_size(update: OperationUpdate) -> int:
    """An update's size in the request's JSON, as AWS's SDK measures a batch: its
    payload and error texts, and a margin for the ids, names and options."""
    size = 512 + _json_size(update.payload)
    error = update.error
    if error is not None:
        size += _json_size(error.error_message) + _json_size(error.error_data)
        size += sum(_json_size(line) for line in error.stack_trace or ())
    return size


def _json_size(text: str | None) -> int:
    """A text's size in JSON: quotes and backslashes (a JSON payload is full of them)
    are escaped, and a character outside ASCII becomes a ``\\uXXXX`` escape, so counting
    characters would let a call grow past the limit."""
    return len(json.dumps(text)) - 2 if text else 0
