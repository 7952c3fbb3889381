"""One process writes a SQLite store at a time; the others are refused at once or go
through it.

Two writers of one store would each resume its executions (every step run twice,
at-most-once steps included) and overwrite each other's records (a callback answer
lost). The writer here is a real ``durable serve`` process; the test process is the
second one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from durable_testing import SqliteStore, StoreInUseError
from durable_testing.cli import main

from tests.http.support import lambda_client, start_execution, wait_for_end, wait_for_operation

FLOW = """
from durable_closure import run


def approval(event, ctx):
    step = ctx.step(lambda _: "asked", name="ask")
    callback = ctx.create_callback(name="approval")
    return {"step": step, "answer": callback.result()}


handler = run(approval)
"""


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    store: Path
    spec: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``durable serve`` on a free port, in its own process (bounded start and stop)."""
    flow = tmp_path / "approvals.py"
    flow.write_text(textwrap.dedent(FLOW))
    store = tmp_path / "s.sqlite3"
    command = [
        sys.executable, "-m", "durable_testing.cli", "serve", "--port", "0",
        "--store", str(store), "--register", f"approvals={flow}:handler",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        lines: list[str] = []
        while not lines or "serving on" not in lines[-1]:
            lines.append(process.stderr.readline().decode())
            assert lines[-1], f"durable serve ended: {''.join(lines)}"
        url = lines[-1].split("serving on ")[1].split()[0].rstrip(",")
        # Its log lines must not fill the pipe and block it.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield Served(process, url, store, f"{flow}:handler")
    finally:
        process.kill()
        process.wait(10)


def _callback_id(client: Any, arn: str) -> str:
    event = wait_for_operation(client, arn, "CallbackStarted")
    callback_id: str = event["CallbackStartedDetails"]["CallbackId"]
    return callback_id


def test_a_second_writer_is_refused_with_the_owner_named(served: Served) -> None:
    with pytest.raises(StoreInUseError) as refused:
        SqliteStore(served.store)

    owner = refused.value.owner
    assert owner is not None
    assert owner.pid == served.process.pid
    assert owner.endpoint == served.url
    assert f"process {served.process.pid}" in str(refused.value)


def test_durable_run_on_a_served_store_fails_at_once_without_a_traceback(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", served.spec, "--store", str(served.store), "--name", "second"])

    assert status == 5  # ExitCode.FILE: the store is in use (durable --help lists the codes)
    err = capsys.readouterr().err
    assert f"is in use by process {served.process.pid}" in err
    assert served.url in err
    assert "Traceback" not in err
    client = lambda_client(served.url)
    listed = client.list_durable_executions_by_function(FunctionName="approvals")
    assert listed["DurableExecutions"] == [], "the refused run started nothing"


def test_durable_callback_on_a_served_store_goes_through_the_server(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    client = lambda_client(served.url)
    arn = start_execution(served.url, "approvals", None, "answered")
    callback_id = _callback_id(client, arn)

    store = ["--store", str(served.store)]
    assert main(["callback", "succeed", callback_id, "--result", '"yes"', *store]) == 0
    assert main(["history", "answered", *store]) == 0, "a reader is not refused"

    ended = wait_for_end(client, arn)
    assert ended["Status"] == "SUCCEEDED"
    assert json.loads(ended["Result"]) == {"step": "asked", "answer": '"yes"'}
    events = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert [e["EventType"] for e in events].count("StepStarted") == 1
    assert "CallbackSucceeded" in [e["EventType"] for e in events]
    assert "Traceback" not in capsys.readouterr().err


def test_the_store_is_free_again_once_its_owner_is_killed(served: Served) -> None:
    client = lambda_client(served.url)
    arn = start_execution(served.url, "approvals", None, "orphaned")
    _callback_id(client, arn)
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(10)

    deadline = time.monotonic() + 10
    while True:
        try:
            store = SqliteStore(served.store)
            break
        except StoreInUseError:
            assert time.monotonic() < deadline, "the killed owner still holds the store"
            time.sleep(0.05)
    try:
        [execution] = store.list_executions(unfinished_only=True)
        assert execution.arn == arn
    finally:
        store.close()
