"""The ``durable`` command end to end: run, history (table, tree, json), callback, serve,
replay and lint, on handlers written to a temporary module."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from durable_testing import LocalService, SqliteStore
from durable_testing.cli import load_handler, main
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution, wait_for_end

FLOW = """
from durable_closure import run


def flow(event, ctx):
    doubled = ctx.step(lambda _: event["n"] * 2, name="{first}")
    ctx.wait(60, name="minute")
    label = ctx.run_in_child_context(lambda c: c.step(lambda _: "box", name="pack"), name="ship")
    return {{"doubled": doubled, "label": label}}


def approval(event, ctx):
    callback = ctx.create_callback(name="approval")
    return {{"answer": callback.result()}}


handler = run(flow)
approval_handler = run(approval)
"""


def write_flow(directory: Path, first_step: str = "double") -> Path:
    path = directory / "flow.py"
    path.write_text(textwrap.dedent(FLOW.format(first=first_step)))
    return path


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    return write_flow(tmp_path)


def test_run_shows_progress_and_prints_the_result(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite3"
    args = ["run", f"{flow}:handler", "--input", '{"n": 21}', "--store", str(store)]
    assert main([*args, "--name", "r1"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"doubled": 42, "label": "box"}
    progress = [line.split()[0] for line in err.splitlines() if line.startswith("  ")]
    assert progress[:3] == ["ExecutionStarted", "StepStarted", "StepSucceeded"]
    assert "WaitSucceeded" in progress and progress[-1] == "ExecutionSucceeded"


def test_history_as_table_tree_and_json(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s.sqlite3")
    main(["run", f"{flow}:handler", "--input", '{"n": 1}', "--store", store, "--name", "h1"])
    capsys.readouterr()
    assert main(["history", "h1", "--store", store]) == 0
    assert "ExecutionSucceeded" in capsys.readouterr().out
    assert main(["history", "h1", "--store", store, "--format", "tree"]) == 0
    tree = capsys.readouterr().out.splitlines()
    assert tree[0] == "EXECUTION SUCCEEDED"
    assert tree[1].startswith("├── STEP 'double' SUCCEEDED -> 2")
    assert tree[-2].startswith("└── CONTEXT 'ship' SUCCEEDED")
    assert tree[-1].startswith("    └── STEP 'pack' SUCCEEDED")
    assert main(["history", "h1", "--store", store, "--format", "json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert [op["Type"] for op in saved["Operations"]] == [
        "EXECUTION", "STEP", "WAIT", "CONTEXT", "STEP",
    ]  # fmt: skip
    assert saved["Events"][0]["EventType"] == "ExecutionStarted"


def test_replay_finds_no_divergence_then_the_renamed_step(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "s.sqlite3")
    main(["run", f"{flow}:handler", "--input", '{"n": 1}', "--store", store, "--name", "p1"])
    capsys.readouterr()
    main(["history", "p1", "--store", store, "--format", "json"])
    saved = tmp_path / "saved.json"
    saved.write_text(capsys.readouterr().out)
    assert main(["replay", str(saved), f"{flow}:handler"]) == 0
    assert "no divergence" in capsys.readouterr().out

    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    changed = write_flow(changed_dir, first_step="triple")
    assert main(["replay", str(saved), f"{changed}:handler"]) == 1
    report = capsys.readouterr().out
    assert report.startswith("divergence:")
    assert "name recorded 'double', now 'triple'" in report


def test_a_run_that_times_out_waiting_is_resumed_by_the_answer_with_the_stored_handler(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite3"
    spec = f"{flow}:approval_handler"
    assert main(["run", spec, "--store", str(store), "--name", "c1", "--timeout", "0"]) == 3
    err = capsys.readouterr().err
    callback_id = re.findall(r"waiting for callback approval (\S+)", err)[0]
    assert f"callback succeed {callback_id} --result JSON --store {store}" in err

    answer = ["callback", "succeed", callback_id, "--result", '"yes"', "--store", str(store)]
    assert main(answer) == 0
    out, err = capsys.readouterr()
    assert f"resuming {SqliteStore(store).list_executions()[0].arn} with {spec}" in err
    assert json.loads(out) == {"answer": '"yes"'}
    (done,) = SqliteStore(store).list_executions()
    assert done.status.value == "SUCCEEDED" and done.handler == spec


def test_callback_through_an_endpoint(flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    service = LocalService()
    service.register("approval", load_handler(f"{flow}:approval_handler"))
    with LambdaApiServer(service) as server:
        client = lambda_client(server.endpoint_url)
        arn = start_execution(server.endpoint_url, "approval", None, "e1")
        callback_id = _callback_id(service, arn)
        endpoint = ["--endpoint", server.endpoint_url]
        assert main(["callback", "heartbeat", callback_id, *endpoint]) == 0
        assert main(["callback", "succeed", callback_id, "--result", "42", *endpoint]) == 0
        assert json.loads(wait_for_end(client, arn)["Result"]) == {"answer": "42"}


def _callback_id(service: LocalService, arn: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with_ids = [op for op in service.backend.operations(arn) if op.callback_details]
        if with_ids and with_ids[0].callback_details and with_ids[0].callback_details.callback_id:
            return with_ids[0].callback_details.callback_id
        time.sleep(0.05)
    raise TimeoutError("no callback was created")


@pytest.fixture
def served(flow: Path, tmp_path: Path) -> Iterator[str]:
    """``durable serve`` in a subprocess on a free port (bounded start and stop)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "durable_testing.cli", "serve",
        "--port", str(port), "--store", str(tmp_path / "served.sqlite3"),
        "--register", f"flow={flow}:handler",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_serve_runs_registered_functions(served: str) -> None:
    client = lambda_client(served)
    arn = start_execution(served, "flow", {"n": 5}, "served-1")
    assert json.loads(wait_for_end(client, arn)["Result"]) == {"doubled": 10, "label": "box"}


def test_serve_has_a_console_whose_replay_reads_the_code_now_on_disk(
    served: str, flow: Path
) -> None:
    arn = start_execution(served, "flow", {"n": 5}, "served-2")
    wait_for_end(lambda_client(served), arn)
    with urllib.request.urlopen(served + "/", timeout=10) as response:
        page = response.read().decode()
    assert 'data-execution="served-2"' in page
    token = re.findall(r'name="console-token" content="([^"]+)"', page)[0]

    def replay() -> dict[str, Any]:
        request = urllib.request.Request(
            served + "/console/actions/replay",
            data=json.dumps({"DurableExecutionArn": arn}).encode(),
            headers={"Content-Type": "application/json", "X-Console-Token": token},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    assert replay()["divergence"] is None
    write_flow(flow.parent, first_step="triple")
    assert "name recorded 'double', now 'triple'" in replay()["divergence"]


def test_lint_json_as_docs_lint_md_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = tmp_path / "order.py"
    handler.write_text(
        "import time\nfrom durable_core import DurableContext\n\n\n"
        "def handler(event, ctx: DurableContext):\n    return time.time()\n"
    )
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    (finding,) = json.loads(capsys.readouterr().out)
    assert (finding["code"], finding["path"], finding["line"]) == ("DL001", str(handler), 6)


def test_lint_says_when_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "durable_testing.lint", None)
    assert main(["lint", "a.py"]) == 2
    assert "lint is not available" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["run", "history", "callback", "serve", "replay", "lint", "list"]
)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert "example:\n  durable " + command in capsys.readouterr().out
