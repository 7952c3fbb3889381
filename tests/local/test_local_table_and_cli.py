"""The history table a user reads, and the ``durable`` command that prints it from a store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext
from durable_testing import LocalService, SqliteStore, format_history_table
from durable_testing.cli import main


def _workflow(event: Any, ctx: DurableContext) -> str:
    ctx.step(lambda _: "ok", name="validate")
    ctx.wait(3, name="cool-off")
    return "done"


def test_the_table_has_one_row_per_event_with_type_name_and_time_offset() -> None:
    service = LocalService()
    service.register("flow", run(_workflow))
    result = service.run("flow")

    lines = format_history_table(result.history).splitlines()
    header, rows = lines[0].split(), lines[2:]
    assert header == ["#", "EventType", "Name", "SubType", "Time", "Details"]
    assert len(rows) == len(result.history)
    assert rows[1].split()[:4] == ["2", "StepStarted", "validate", "Step"]
    assert 'result="ok"' in rows[2]
    wait_fired = rows[5]
    assert "WaitSucceeded" in wait_fired and "+3.000s" in wait_fired
    assert format_history_table([]).splitlines()[0].startswith("#")


def test_durable_history_prints_the_table_of_a_stored_execution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "durable.sqlite3"
    service = LocalService(store=SqliteStore(store))
    service.register("flow", run(_workflow))
    arn = service.run("flow", execution_name="flow-7").arn

    assert main(["history", "--store", str(store), arn]) == 0
    table = capsys.readouterr().out
    assert "ExecutionSucceeded" in table and "cool-off" in table

    assert main(["history", "--store", str(store), arn.rsplit("/", 1)[-1], "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))

    assert main(["history", "--store", str(store), "flow-7"]) == 0
    assert "cool-off" in capsys.readouterr().out

    assert main(["list", "--store", str(store)]) == 0
    assert arn in capsys.readouterr().out

    assert main(["history", "--store", str(store), "no-such-execution"]) == 6  # not found
    assert main(["history", "--store", str(tmp_path / "missing.sqlite3"), arn]) == 5  # no store
