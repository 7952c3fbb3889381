"""Executions outlive the service that started them when they are kept in SQLite."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext
from durable_testing import (
    ExecutionStatus,
    LocalService,
    MemoryStore,
    SqliteStore,
    StoredExecution,
    VirtualClock,
)
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, wait_for_end

from . import resumable_workflow


class ProcessKilled(BaseException):
    """Stands for SIGKILL: nothing in the service catches it."""


class DiesWhenSleeping(VirtualClock):
    """A clock whose first wait kills the process: the service dies mid-wait."""

    def sleep_until(self, instant: dt.datetime) -> None:
        raise ProcessKilled


def _count_calls() -> tuple[dict[str, int], Any]:
    counts: dict[str, int] = {}

    def workflow(event: Any, ctx: DurableContext) -> str:
        def book(_: Any) -> str:
            counts["book"] = counts.get("book", 0) + 1
            return "room 12"

        room = ctx.step(book, name="book")
        ctx.wait(3600, name="until-check-in")
        return str(ctx.step(lambda _: f"{room}, checked in", name="check-in"))

    return counts, run(workflow)


def test_a_service_dropped_mid_wait_is_resumed_by_a_new_one(tmp_path: Path) -> None:
    store_path = tmp_path / "durable.sqlite3"
    counts, handler = _count_calls()
    first = LocalService(store=SqliteStore(store_path), clock=DiesWhenSleeping())
    first.register("hotel", handler)
    arn = first.start("hotel")
    with pytest.raises(ProcessKilled):
        first.run_until_complete(arn)
    del first

    second = LocalService(store=SqliteStore(store_path), clock=VirtualClock())
    second.register("hotel", handler)
    [result] = second.resume_all()

    assert result.arn == arn
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == "room 12, checked in"
    assert counts["book"] == 1, "the step that completed before the restart is replayed"
    assert result.event_types == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
        "StepStarted",
        "StepSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert [e["EventId"] for e in result.history] == list(range(1, 11))
    assert SqliteStore(store_path).list_executions(unfinished_only=True) == []


def test_a_process_killed_mid_wait_is_resumed_from_its_sqlite_file(tmp_path: Path) -> None:
    store_path = tmp_path / "durable.sqlite3"
    script = Path(resumable_workflow.__file__)
    process = subprocess.Popen([sys.executable, str(script), str(store_path)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if store_path.exists() and _waiting(SqliteStore(store_path, read_only=True)):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the subprocess never reached its wait")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    service = LocalService(store=SqliteStore(store_path), clock=VirtualClock())
    service.register(resumable_workflow.FUNCTION, run(resumable_workflow.workflow))
    [result] = service.resume_all(timeout=10)

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == "booked 12, checked in"
    assert result.event_types.count("ExecutionStarted") == 1
    assert result.event_types.count("StepStarted") == 2
    assert result.invocations == 2


def _waiting(store: SqliteStore) -> bool:
    try:
        executions = store.list_executions(unfinished_only=True)
    except sqlite3.OperationalError:
        return False  # the file exists, its writer has not created the tables yet
    return any(e["EventType"] == "InvocationCompleted" for x in executions for e in x.events)


def test_a_service_killed_during_an_invocation_records_it_as_crashed(tmp_path: Path) -> None:
    store_path = tmp_path / "durable.sqlite3"
    kill = {"armed": True}

    def workflow(event: Any, ctx: DurableContext) -> str:
        ctx.step(lambda _: "charged", name="charge")
        if kill["armed"]:
            kill["armed"] = False
            raise ProcessKilled
        return "shipped"

    first = LocalService(store=SqliteStore(store_path))
    first.register("ship", run(workflow))
    with pytest.raises(ProcessKilled):
        first.run("ship")

    second = LocalService(store=SqliteStore(store_path))
    second.register("ship", run(workflow))
    [result] = second.resume_all()

    assert result.result == "shipped"
    crashed = result.history[3]
    assert crashed["EventType"] == "InvocationCompleted"
    assert crashed["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"] == (
        "Runtime.ExitError"
    )
    assert result.event_types.count("StepStarted") == 1


def test_service_restarts_during_a_long_invocation_are_not_handler_crashes(
    tmp_path: Path,
) -> None:
    """The service process dies mid-invocation more often than the handler may crash: the
    execution carries on, each step done before a restart is replayed, never re-run."""
    store_path = tmp_path / "durable.sqlite3"
    restarts = 7
    runs: dict[str, int] = {}

    def workflow(event: Any, ctx: DurableContext) -> int:
        total = 0
        for i in range(restarts + 1):

            def add(_: Any, i: int = i) -> int:
                runs[f"s{i}"] = runs.get(f"s{i}", 0) + 1
                if i < restarts and runs[f"s{i}"] == 1:
                    # Checkpointed up to the previous step: the service dies in this body.
                    raise ProcessKilled
                return i

            total += ctx.step(add, name=f"s{i}")
        return total

    for _ in range(restarts):
        service = LocalService(store=SqliteStore(store_path), max_invocation_attempts=3)
        service.register("long", run(workflow))
        with pytest.raises(ProcessKilled):
            if service.store.list_executions():
                service.resume_all()
            else:
                service.run("long")
    service = LocalService(store=SqliteStore(store_path), max_invocation_attempts=3)
    service.register("long", run(workflow))
    [result] = service.resume_all()

    assert result.status is ExecutionStatus.SUCCEEDED, result.error
    assert result.result == sum(range(restarts + 1))
    assert result.invocations == restarts + 1
    crashed = [
        e["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"]
        for e in result.history
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]
    assert crashed == ["Runtime.ExitError"] * restarts
    assert result.event_types.count("StepSucceeded") == restarts + 1


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_stores_give_back_what_was_saved(kind: str, tmp_path: Path) -> None:
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "s.sqlite3")
    service = LocalService(store=store)
    service.register("echo", run(lambda event, ctx: ctx.step(lambda _: event, name="echo")))
    arn = service.run("echo", {"x": 1}).arn

    loaded = store.load(arn)
    assert isinstance(loaded, StoredExecution)
    assert loaded.status is ExecutionStatus.SUCCEEDED
    assert loaded.result == '{"x": 1}'
    assert loaded.operations == service.backend.operations(arn)
    assert loaded.events == service.history(arn)
    assert isinstance(loaded.events[0]["EventTimestamp"], dt.datetime)
    assert store.load("arn:missing") is None
    assert [e.arn for e in store.list_executions()] == [arn]


def test_an_unreadable_record_fails_its_execution_and_no_other(tmp_path: Path) -> None:
    store_path = tmp_path / "durable.sqlite3"

    def approval(event: Any, ctx: DurableContext) -> str:
        return str(ctx.wait_for_callback(lambda callback_id, _: None, name="approve"))

    first = LocalService(store=SqliteStore(store_path))
    first.register("approval", run(approval))
    bad = first.run("approval", execution_name="bad").arn
    good = first.run("approval", execution_name="good").arn
    [pending] = first.callbacks(good)
    first.store.close()  # type: ignore[attr-defined]
    with sqlite3.connect(store_path) as db:
        db.execute("UPDATE operations SET body = '{\"Id\": ' WHERE arn = ?", (bad,))

    second = LocalService(store=SqliteStore(store_path))
    second.register("approval", run(approval))
    with LambdaApiServer(second) as server:
        client = lambda_client(server.endpoint_url)
        described = client.get_durable_execution(DurableExecutionArn=bad)
        listed = client.list_durable_executions_by_function(FunctionName="approval")
        client.send_durable_execution_callback_success(CallbackId=pending.callback_id, Result=b"7")
        ended = wait_for_end(client, good)

    statuses = {e["DurableExecutionName"]: e["Status"] for e in listed["DurableExecutions"]}
    assert statuses == {"bad": "FAILED", "good": "RUNNING"}
    assert described["Status"] == "FAILED"
    assert described["Error"]["ErrorType"] == "durable_testing.stores.UnreadableRecordError"
    assert bad in described["Error"]["ErrorMessage"]
    assert ended["Status"] == "SUCCEEDED"
    assert ended["Result"] == '"7"'
