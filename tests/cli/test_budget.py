"""``durable budget``: the largest payloads of a stored execution against their limits.

Expected sizes are JSON arithmetic: a string of n characters is checkpointed as a JSON
string of n + 2 bytes. Limits: 256 KiB for a child context's recorded result (AWS's
SDK), 6 MiB for an operation payload (boto3's service model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, StepConfig, no_retry
from durable_testing import LocalService, SqliteStore
from durable_testing.budget import budget_entries
from durable_testing.cli import main


def _workflow(event: Any, ctx: DurableContext) -> int:
    small: str = ctx.step(lambda s: "a" * 1000, name="small")
    big: str = ctx.run_in_child_context(lambda c: "b" * 230_000, name="big child")
    try:

        def boom(s: Any) -> None:
            raise ValueError("no")

        ctx.step(boom, name="broken", config=StepConfig(retry=no_retry))
    except Exception:
        pass
    return len(small) + len(big)


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    store = tmp_path / "durable.sqlite3"
    service = LocalService(store=SqliteStore(store))
    service.register("budgeted", run(_workflow))
    result = service.run("budgeted", execution_name="budget-1")
    assert result.status.value == "SUCCEEDED"
    return store


def test_report_lists_the_closest_to_its_limit_first(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["budget", "budget-1", "--store", str(stored)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("operations: ")
    rows = lines[2:]
    child = rows[0].split()
    assert child[:3] == ["CONTEXT", "'big", "child'"]
    assert child[3:6] == ["result", str(230_002), str(256 * 1024)]
    assert child[6] == f"{230_002 / 262_144:.1%}"
    assert rows[0].endswith("<- near the limit")
    small = next(row for row in rows if "'small'" in row).split()
    assert small[2:5] == ["result", "1002", str(6 * 1024 * 1024)]
    assert any("'broken'" in row and " error " in row for row in rows)


def test_entries_are_sorted_by_share_of_their_limit(stored: Path) -> None:
    execution = SqliteStore(stored).load(next(e.arn for e in SqliteStore(stored).list_executions()))
    assert execution is not None
    shares = [entry.share for entry in budget_entries(execution.operations)]
    assert shares == sorted(shares, reverse=True)


def test_top_limits_the_rows_and_unknown_execution_fails(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["budget", "budget-1", "--store", str(stored), "--top", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["budget", "nope", "--store", str(stored)]) == 6  # ExitCode.NOT_FOUND
