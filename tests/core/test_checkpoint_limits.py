"""One CheckpointDurableExecution call carries at most 250 updates and 750 KiB.

The limits are AWS's SDK's (``CheckpointBatcherConfig``: ``max_batch_operations=250``,
``max_batch_size_bytes=750 * 1024``, a size measured as the update's JSON): a call over
them is refused by the service, so a flush of more splits into several calls, in order,
each as full as the limits allow.
"""

from __future__ import annotations

import json

import pytest
from durable_core import MemoryBackend
from durable_core._replay import CheckpointLog
from durable_core.checkpoint import Checkpointer
from durable_core.types import ErrorObject, OperationAction, OperationType, OperationUpdate

KIB = 1024
MAX_UPDATES = 250
MAX_BYTES = 750 * KIB


def _checkpointer(backend: MemoryBackend) -> Checkpointer:
    event = backend.start_execution(None)
    return Checkpointer(
        backend, event["DurableExecutionArn"], event["CheckpointToken"], CheckpointLog()
    )


def _update(index: int, payload: str | None = None) -> OperationUpdate:
    return OperationUpdate(
        id=f"op-{index}",
        type=OperationType.STEP,
        action=OperationAction.SUCCEED if payload is not None else OperationAction.START,
        payload=payload,
    )


def _flush(updates: list[OperationUpdate]) -> list[list[str]]:
    """Queue every update, flush, and return the ids each call carried."""
    backend = MemoryBackend()
    checkpointer = _checkpointer(backend)
    for update in updates:
        checkpointer.send(update, sync=False)
    checkpointer.flush()
    calls = [call.updates for call in backend.calls]
    for call in calls:
        assert len(call) <= MAX_UPDATES
        wire_size = sum(len(json.dumps(u.to_wire()).encode()) for u in call)
        assert len(call) == 1 or wire_size <= MAX_BYTES, f"a call of {wire_size} bytes"
    return [[u.id for u in call] for call in calls]


@pytest.mark.parametrize(
    ("count", "sizes"),
    [
        (1, [1]),
        (249, [249]),
        (250, [250]),
        (251, [250, 1]),
        (500, [250, 250]),
        (501, [250, 250, 1]),
    ],
)
def test_a_flush_splits_at_250_updates_per_call(count: int, sizes: list[int]) -> None:
    ids = _flush([_update(i) for i in range(count)])
    assert [len(call) for call in ids] == sizes
    assert [i for call in ids for i in call] == [f"op-{i}" for i in range(count)]


def test_a_flush_splits_at_750_kib_per_call() -> None:
    # Two 300 KiB payloads fit in one call (600 KiB and the updates' fields); a third
    # would make 900 KiB, so it goes in the next call.
    ids = _flush([_update(i, "x" * (300 * KIB)) for i in range(3)])
    assert ids == [["op-0", "op-1"], ["op-2"]]


def test_the_size_is_the_size_on_the_wire_not_the_number_of_characters() -> None:
    # 200 Ki characters of "é" are 200 KiB as characters but 1.2 MB as JSON (each one is
    # written \u00e9): each such update exceeds the limit and goes alone.
    ids = _flush([_update(i, "é" * (200 * KIB)) for i in range(2)])
    assert ids == [["op-0"], ["op-1"]]


def test_escaped_quotes_count_too() -> None:
    # A JSON payload is full of quotes, each written \" in the request: two payloads of
    # 200 Ki quotes make 800 KiB on the wire.
    ids = _flush([_update(i, '"' * (200 * KIB)) for i in range(2)])
    assert ids == [["op-0"], ["op-1"]]


def test_error_texts_count_too() -> None:
    # 740 KiB of payload leave room for a bare update, not for one with 20 KiB of error.
    error = ErrorObject(error_message="m" * (10 * KIB), stack_trace=["  at x\n" * 128] * 10)
    failure = OperationUpdate(
        id="op-1", type=OperationType.STEP, action=OperationAction.FAIL, error=error
    )
    ids = _flush([_update(0, "x" * (740 * KIB)), failure])
    assert ids == [["op-0"], ["op-1"]]


def test_an_update_bigger_than_a_call_is_sent_alone_not_held_back() -> None:
    ids = _flush([_update(0), _update(1, "x" * (800 * KIB)), _update(2)])
    assert ids == [["op-0"], ["op-1"], ["op-2"]]
