"""Stores write what changed, yet give back whole, independent records."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, StepContext
from durable_testing import (
    ExecutionStatus,
    LocalService,
    MemoryStore,
    SqliteStore,
    StoredExecution,
    VirtualClock,
)


def _number(i: int, _: StepContext) -> int:
    return i


def _steps_then_wait(event: Any, ctx: DurableContext) -> int:
    total = sum(ctx.step(partial(_number, i), name=f"s{i}") for i in range(5))
    ctx.wait(60, name="pause")
    return total + ctx.step(lambda _: 100, name="after")


def _store(kind: str, tmp_path: Path) -> MemoryStore | SqliteStore:
    return MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "s.sqlite3")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_record_handed_out_does_not_change_when_the_service_goes_on(
    kind: str, tmp_path: Path
) -> None:
    store = _store(kind, tmp_path)
    service = LocalService(store=store)
    service.register("sum", run(_steps_then_wait))
    arn = service.start("sum")
    service.run_until_complete(arn, until=VirtualClock().now())
    before = store.load(arn)
    assert before is not None and before.status is ExecutionStatus.RUNNING
    frozen = (list(before.operations), list(before.events), dict(before.callbacks))

    result = service.run_until_complete(arn)

    assert result.result == 110
    assert (before.operations, before.events, before.callbacks) == frozen
    after = store.load(arn)
    assert after is not None
    assert after.operations == result.operations == service.backend.operations(arn)
    assert after.events == result.history
    assert [e["EventId"] for e in after.events] == list(range(1, len(after.events) + 1))


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_edits_to_a_loaded_record_do_not_leak_into_the_store(kind: str, tmp_path: Path) -> None:
    store = _store(kind, tmp_path)
    service = LocalService(store=store)
    service.register("sum", run(_steps_then_wait))
    arn = service.run("sum").arn
    loaded = store.load(arn)
    assert loaded is not None
    loaded.operations.clear()
    loaded.events.clear()

    again = store.load(arn)
    assert again is not None
    assert again.operations == service.backend.operations(arn)
    assert again.events == service.history(arn)


def test_a_record_saved_whole_by_anyone_is_written_whole(tmp_path: Path) -> None:
    """A record built outside the service names no changed operations: every one is written."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    service = LocalService(store=store)
    service.register("sum", run(_steps_then_wait))
    arn = service.run("sum").arn
    loaded = store.load(arn)
    assert loaded is not None and loaded.changed_operations is None
    loaded.operations = loaded.operations[:2]

    store.save(loaded)

    reread = SqliteStore(tmp_path / "s.sqlite3").load(arn)
    assert reread is not None
    assert reread.operations == loaded.operations


def test_a_file_of_whole_records_is_still_read_and_resumed(tmp_path: Path) -> None:
    """Files written before operations and events had tables of their own."""
    path = tmp_path / "old.sqlite3"
    service = LocalService(store=MemoryStore())
    service.register("sum", run(_steps_then_wait))
    arn = service.start("sum")
    service.run_until_complete(arn, until=VirtualClock().now())
    record = service.store.load(arn)
    assert isinstance(record, StoredExecution)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE executions (arn TEXT PRIMARY KEY, function_name TEXT NOT NULL,"
            " status TEXT NOT NULL, started_at TEXT NOT NULL, record TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO executions VALUES (?, ?, ?, ?, ?)",
            (arn, "sum", "RUNNING", record.start_timestamp.isoformat(), record.to_json()),
        )
    db.close()

    resumed = LocalService(store=SqliteStore(path))
    resumed.register("sum", run(_steps_then_wait))
    [result] = resumed.resume_all()

    assert result.result == 110
    reread = SqliteStore(path).load(arn)
    assert reread is not None
    assert reread.events == result.history
    assert reread.operations == result.operations
