"""A user's mistake at the ``durable`` command: one line naming the problem, no Python
traceback, and an exit code that says what kind (``ExitCode``). A user's own exception is
the exception: it is shown with its traceback."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from durable_testing import ExecutionStatus, LocalService, SqliteStore
from durable_testing.cli import ExitCode, load_handler, main
from durable_testing.http import LambdaApiServer

from .test_cli import write_flow


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    return write_flow(tmp_path)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], status: ExitCode, says: str) -> str:
    """Run ``durable argv``: it must exit ``status`` with one line on stderr saying ``says``."""
    assert main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert re.search(says, lines[0]), lines[0]
    return lines[0]


# -- handlers ---------------------------------------------------------------------------


def test_a_handler_that_cannot_be_loaded(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3")]
    _fails(capsys, ["run", "no_such_module:handler", *store], ExitCode.HANDLER,
           "no module named 'no_such_module'")  # fmt: skip
    _fails(capsys, ["run", f"{flow}:nope", *store], ExitCode.HANDLER, "has no callable 'nope'")
    _fails(capsys, ["run", f"{tmp_path}/missing.py:handler", *store], ExitCode.HANDLER,
           "no Python file at")  # fmt: skip
    _fails(capsys, ["run", str(flow), *store], ExitCode.USAGE, "is not MODULE:HANDLER")


def test_a_handler_that_is_not_durable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plain Lambda function answers its own value, not {Status: ...} (boto3's durable
    invocation output): the run names the handler and how to make it durable."""
    plain = tmp_path / "plain.py"
    plain.write_text("def handler(event, context):\n    return {'hello': 'world'}\n")
    argv = ["run", f"{plain}:handler", "--store", str(tmp_path / "s.sqlite3")]
    assert main(argv) == ExitCode.HANDLER
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"durable: {plain}:handler is not a durable handler: it returned")
    assert "{'hello': 'world'}, not {'Status': ...}; wrap the function" in last


def test_a_handler_file_imports_the_modules_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As on Lambda, where the function's code root is on sys.path: `durable run
    src/app.py:handler` with the module it imports next to it."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "pricing_beside_app.py").write_text("def total(items):\n    return sum(items)\n")
    (src / "app.py").write_text(
        "from durable_closure import run\n"
        "from pricing_beside_app import total\n\n"
        "handler = run(lambda event, ctx: ctx.step(lambda _: total(event), name='total'))\n"
    )
    argv = ["run", f"{src}/app.py:handler", "--input", "[1, 2]", "--store", str(tmp_path / "s")]
    assert main(argv) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == 3


def test_an_exception_of_the_users_module_keeps_its_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(
        textwrap.dedent("""
        import missing_dependency_of_the_user
    """)
    )
    assert main(["run", f"{broken}:handler", "--store", str(tmp_path / "s")]) == ExitCode.HANDLER
    err = capsys.readouterr().err
    assert "Traceback" in err and f'File "{broken}", line 2' in err
    assert "No module named 'missing_dependency_of_the_user'" in err


def test_a_handler_class_instead_of_its_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "greeter.py"
    flow.write_text(
        "from durable_class import DurableHandler\n\n\n"
        "class Greet(DurableHandler):\n"
        "    def handle(self, event, ctx):\n"
        "        return ctx.step(lambda _: 'hi', name='greet')\n\n\n"
        "handler = Greet()\n"
    )
    store = ["--store", str(tmp_path / "s.sqlite3")]
    says = re.escape("greeter.py:Greet is a class; name an instance of it (handler = Greet())")
    _fails(capsys, ["run", f"{flow}:Greet", *store], ExitCode.HANDLER, says)
    assert main(["run", f"{flow}:handler", *store]) == ExitCode.OK


def test_a_module_that_exits_at_import_is_a_handler_that_cannot_be_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its sys.exit(3) is its own: shown with its traceback, never taken for exit code 3
    (waiting for a callback)."""
    exits = tmp_path / "exits.py"
    exits.write_text("import sys\n\nsys.exit(3)\n")
    assert main(["run", f"{exits}:handler", "--store", str(tmp_path / "s")]) == ExitCode.HANDLER
    err = capsys.readouterr().err
    assert "Traceback" in err and f'File "{exits}", line 3' in err and "SystemExit: 3" in err
    assert err.strip().splitlines()[-1] == f"durable: importing {exits} raised (above)"


def test_replay_against_a_handler_that_is_not_durable(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3")]
    main(["run", f"{flow}:handler", "--input", '{"n": 2}', "--name", "saved", *store])
    capsys.readouterr()
    main(["history", "saved", "--format", "json", *store])
    saved = tmp_path / "saved.json"
    saved.write_text(capsys.readouterr().out)
    plain = tmp_path / "plain.py"
    plain.write_text("def handler(event, context):\n    return 5\n")
    _fails(capsys, ["replay", str(saved), f"{plain}:handler"], ExitCode.HANDLER,
           f"{plain}:handler is not a durable handler: it returned 5, not")  # fmt: skip


# -- arguments --------------------------------------------------------------------------


def test_bad_json_and_bad_names(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3")]
    spec = f"{flow}:handler"
    _fails(capsys, ["run", spec, "--input", "{bad", *store], ExitCode.USAGE, "--input is not JSON")
    _fails(capsys, ["callback", "succeed", "abc", "--result", "yes", *store], ExitCode.USAGE,
           "--result is not JSON")  # fmt: skip
    # boto3's DurableExecutionName: [a-zA-Z0-9-_]+, 1 to 64 characters.
    for bad in ("my run", "x" * 65):
        _fails(capsys, ["run", spec, "--name", bad, *store], ExitCode.USAGE, "not an execution")
    assert main(["run", spec, "--input", '{"n": 1}', "--name", "x" * 64, *store]) == ExitCode.OK
    capsys.readouterr()
    _fails(capsys, ["run", spec, "--input", '{"n": 1}', "--name", "x" * 64, *store],
           ExitCode.USAGE, "already holds an execution named")  # fmt: skip


def test_a_registration_without_a_function_name_or_twice(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Lambda function name is 1 to 64 letters, digits, '-' or '_' (the FunctionName
    pattern of boto3's service model, without its ARN forms)."""
    with socket.socket() as taken:  # were the name accepted, serve would stop at the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        serve = ["serve", "--port", str(taken.getsockname()[1])]
        for name in ("", "my flow", "x" * 65):
            argv = [*serve, "--register", f"{name}={flow}:handler", "--store", str(tmp_path / "s")]
            _fails(capsys, argv, ExitCode.USAGE, f"--register '{name}' is not a function name")
        twice = ["--register", f"f={flow}:handler", "--register", f"f={flow}:approval_handler"]
        says = re.escape(f"--register 'f' twice ({flow}:handler and {flow}:approval_handler)")
        _fails(capsys, [*serve, *twice, "--store", str(tmp_path / "s")], ExitCode.USAGE, says)


def test_an_option_of_another_callback_outcome(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It would be dropped: a failure sent without the --result the user meant, or the
    reverse."""
    store = ["--store", str(tmp_path / "missing.sqlite3")]  # refused before the store is read
    for argv, option, outcome in (
        (["fail", "abc", "--result", "1"], "--result", "succeed"),
        (["succeed", "abc", "--error-type", "Declined"], "--error-type", "fail"),
        (["heartbeat", "abc", "--error-message", "no"], "--error-message", "fail"),
    ):
        _fails(capsys, ["callback", *argv, *store], ExitCode.USAGE,
               f"{option} goes with `callback {outcome}`, not `callback {argv[0]}`")  # fmt: skip


# -- stores and files -------------------------------------------------------------------


def test_a_missing_or_corrupt_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.sqlite3")
    _fails(capsys, ["history", "x", "--store", missing], ExitCode.FILE, "no store at")
    _fails(capsys, ["callback", "heartbeat", "abc", "--store", missing], ExitCode.FILE,
           "no store at")  # fmt: skip
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    for argv in (["history", "x"], ["list"], ["budget", "x"], ["callback", "heartbeat", "abc"]):
        _fails(capsys, [*argv, "--store", str(corrupt)], ExitCode.FILE, "not a usable|unreadable")


def test_a_folder_as_store(flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(tmp_path)
    for argv in (
        ["run", f"{flow}:handler"],
        ["serve", "--port", "0"],
        ["history", "x"],
        ["list"],
        ["budget", "x"],
        ["callback", "heartbeat", "abc"],
    ):
        _fails(capsys, [*argv, "--store", folder], ExitCode.FILE,
               f"{folder} is a folder; --store names the store's file")  # fmt: skip


def test_unknown_execution_and_callback(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3")]
    assert main(["run", f"{flow}:approval_handler", "--name", "a1", "--timeout", "0", *store]) == 3
    callback_id = re.findall(r"waiting for callback approval (\S+)", capsys.readouterr().err)[0]
    _fails(capsys, ["history", "nope", *store], ExitCode.NOT_FOUND, "no execution matches 'nope'")
    _fails(capsys, ["callback", "succeed", "AAAA", *store], ExitCode.NOT_FOUND,
           "ResourceNotFoundException: Callback AAAA not found")  # fmt: skip
    _fails(capsys, ["callback", "succeed", "not/valid!", *store], ExitCode.SERVICE,
           "InvalidParameterValueException")  # fmt: skip
    assert main(["callback", "succeed", callback_id, "--result", "1", *store]) == ExitCode.OK
    capsys.readouterr()
    _fails(capsys, ["callback", "succeed", callback_id, *store], ExitCode.SERVICE,
           "CallbackTimeoutException")  # fmt: skip


def test_replay_of_a_missing_corrupt_or_foreign_history(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"{flow}:handler"
    _fails(capsys, ["replay", str(tmp_path / "none.json"), spec], ExitCode.FILE, "cannot read")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"Operations": [')
    _fails(capsys, ["replay", str(corrupt), spec], ExitCode.FILE, "is not JSON")
    store = ["--store", str(tmp_path / "s.sqlite3")]
    main(["run", spec, "--input", '{"n": 2}', "--name", "saved", *store])
    capsys.readouterr()
    main(["history", "saved", "--json", *store])  # the events only: not what replay reads
    events_only = tmp_path / "events.json"
    events_only.write_text(capsys.readouterr().out)
    _fails(capsys, ["replay", str(events_only), spec], ExitCode.FILE, "is not a saved history")

    main(["history", "saved", "--format", "json", *store])
    saved = tmp_path / "saved.json"
    saved.write_text(capsys.readouterr().out)
    other = tmp_path / "other.py"
    other.write_text("from durable_closure import run\n\nhandler = run(lambda event, ctx: 'hi')\n")
    assert main(["replay", str(saved), f"{other}:handler"]) == ExitCode.FAILED
    report = capsys.readouterr().out
    assert report.startswith("divergence: the saved execution returned")
    without_end = json.loads(saved.read_text())
    without_end["Events"] = without_end["Events"][:3]  # saved while it was running
    saved.write_text(json.dumps(without_end))
    assert main(["replay", str(saved), spec]) == ExitCode.OK


# -- the service ------------------------------------------------------------------------


def test_a_port_in_use(flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        _fails(capsys, ["serve", "--port", port, "--store", str(tmp_path / "s.sqlite3")],
               ExitCode.SERVICE, f"port {port} on 127.0.0.1 is in use")  # fmt: skip


def test_two_outputs_for_one_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json (the events only) is an output of its own: with --format one would be lost."""
    with pytest.raises(SystemExit) as usage:  # argparse's own way: its usage, then the error
        main(["history", "x", "--format", "tree", "--json", "--store", str(tmp_path / "s")])
    assert usage.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.strip().splitlines()[-1].endswith("argument --json: not allowed with argument --format")
    )


def test_a_budget_of_no_payloads(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--store", str(tmp_path / "s.sqlite3")]
    main(["run", f"{flow}:handler", "--input", '{"n": 2}', "--name", "b1", *store])
    capsys.readouterr()
    for top in ("0", "-3"):
        _fails(capsys, ["budget", "b1", "--top", top, *store], ExitCode.USAGE,
               f"--top {top} lists nothing")  # fmt: skip


def test_serving_beyond_loopback_warns_once(tmp_path: Path) -> None:
    """The server warns (a log record and a Python warning, for library users); the command
    shows it once. A name under .invalid (RFC 2606) never resolves: it cannot listen."""
    serve = _durable(
        "serve", "--host", "durable.invalid", "--port", "0", "--store", str(tmp_path / "s")
    )
    try:
        _, err = serve.communicate(timeout=30)
    finally:
        serve.kill()
        serve.wait(10)
    assert serve.returncode == ExitCode.SERVICE
    assert len(re.findall("which is not a loopback address", err)) == 1
    assert err.strip().splitlines()[-1].startswith("durable: cannot listen on durable.invalid:0")


def test_a_port_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for port in ("65536", "-1"):
        _fails(capsys, ["serve", "--port", port, "--store", str(tmp_path / "s.sqlite3")],
               ExitCode.USAGE, f"--port {port} is not a port: 0 to 65535")  # fmt: skip


def test_an_empty_callback_id_for_an_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    """boto3 refuses it before sending (CallbackId: min length 1 in its service model)."""
    with LambdaApiServer(LocalService()) as server:
        _fails(capsys, ["callback", "succeed", "", "--endpoint", server.endpoint_url],
               ExitCode.USAGE, "not sent: Invalid length for parameter CallbackId")  # fmt: skip


def test_an_unreachable_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _fails(capsys, ["callback", "heartbeat", "abc", "--endpoint", f"http://127.0.0.1:{port}"],
           ExitCode.SERVICE, "cannot reach")  # fmt: skip


def test_an_endpoint_that_is_no_url(capsys: pytest.CaptureFixture[str]) -> None:
    for endpoint in ("localhost:8765", "ftp://x", "http://", "http://127.0.0.1:99999"):
        _fails(capsys, ["callback", "heartbeat", "abc", "--endpoint", endpoint], ExitCode.USAGE,
               f"--endpoint '{endpoint}' is not an http\\(s\\) URL")  # fmt: skip


def test_an_endpoint_that_hangs_up(capsys: pytest.CaptureFixture[str]) -> None:
    """It accepts each connection and closes it unanswered (boto3: ConnectionClosedError)."""
    with socket.socket() as rude:
        rude.bind(("127.0.0.1", 0))
        rude.listen()

        def hang_up() -> None:
            with contextlib.suppress(OSError):
                while True:
                    rude.accept()[0].close()

        threading.Thread(target=hang_up, daemon=True).start()
        endpoint = f"http://127.0.0.1:{rude.getsockname()[1]}"
        _fails(capsys, ["callback", "heartbeat", "abc", "--endpoint", endpoint], ExitCode.SERVICE,
               f"cannot reach {endpoint}")  # fmt: skip


def test_an_error_answer_of_the_service(flow: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LambdaApiServer(LocalService()) as server:
        _fails(capsys, ["callback", "succeed", "AAAA", "--endpoint", server.endpoint_url],
               ExitCode.NOT_FOUND, "ResourceNotFoundException")  # fmt: skip


@pytest.fixture
def orphan_store(flow: Path, tmp_path: Path) -> Iterator[Path]:
    """A store with an execution of a function called 'ghost', due to be invoked."""
    path = tmp_path / "orphan.sqlite3"
    service = LocalService(store=SqliteStore(path))
    service.register("ghost", load_handler(f"{flow}:handler"))
    service.start("ghost", {"n": 1})
    yield path


def test_an_unregistered_function_under_serve_is_reported_once(
    orphan_store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="durable_testing.http")
    service = LocalService(store=SqliteStore(orphan_store))
    with LambdaApiServer(service, poll_interval=0.01):
        time.sleep(0.3)  # dozens of scheduler passes
    reports = [r for r in caplog.records if r.name == "durable_testing.http"]
    assert len(reports) == 1
    assert "needs function 'ghost'" in reports[0].getMessage()
    assert reports[0].exc_info is None


# -- noise and interruptions ------------------------------------------------------------


def test_run_does_not_announce_its_embedded_server(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The embedded server of `durable run` only takes callback answers from other
    terminals (the waiting line says how); where it listens is `durable serve`'s news."""
    argv = ["run", f"{flow}:handler", "--input", '{"n": 1}', "--store", str(tmp_path / "s")]
    assert main(argv) == ExitCode.OK
    err = capsys.readouterr().err
    assert "ExecutionSucceeded" in err
    assert "serving" not in err
    assert len([line for line in err.splitlines() if line.startswith("started ")]) == 1


def test_an_answer_in_the_store_shows_only_what_happens_now(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The events recorded before the answer were shown by the run that recorded them."""
    store = ["--store", str(tmp_path / "s.sqlite3")]
    assert main(["run", f"{flow}:approval_handler", "--timeout", "0", *store]) == 3
    callback_id = re.findall(r"waiting for callback approval (\S+)", capsys.readouterr().err)[0]
    assert main(["callback", "succeed", callback_id, "--result", "1", *store]) == ExitCode.OK
    progress = [line.split()[0] for line in capsys.readouterr().err.splitlines()]
    assert "CallbackStarted" not in progress and "ExecutionStarted" not in progress
    assert progress.index("CallbackSucceeded") < progress.index("ExecutionSucceeded")


def test_a_run_out_of_time_says_how_to_answer_once(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", f"{flow}:approval_handler", "--timeout", "0.3", "--store", str(tmp_path / "s")]
    assert main(argv) == ExitCode.WAITING
    err = capsys.readouterr().err
    assert len(re.findall(r"waiting for callback approval", err)) == 1
    assert len(re.findall(r"answer it from another terminal", err)) == 1
    assert err.rstrip().endswith(
        "durable: still waiting (--timeout); an answer sent later resumes it"
    )


def test_a_real_time_run_out_of_time_with_no_callback_says_what_resumes_it(
    flow: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its 60 s wait is not due at --timeout: there is no callback to answer."""
    store = tmp_path / "s.sqlite3"
    spec = f"{flow}:handler"
    argv = ["run", spec, "--input", '{"n": 1}', "--real-time", "--timeout", "0.2"]
    assert main([*argv, "--store", str(store)]) == ExitCode.WAITING
    err = capsys.readouterr().err
    assert "callback" not in err
    assert err.strip().splitlines()[-1] == (
        "durable: still running at --timeout (a wait or retry is not due yet);"
        f" `durable serve --register flow={spec} --store {store}` resumes it"
    )


def test_an_unnamed_callback_is_announced_by_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "unnamed.py"
    flow.write_text(
        "from durable_closure import run\n\n"
        "handler = run(lambda event, ctx: ctx.create_callback().result())\n"
    )
    argv = ["run", f"{flow}:handler", "--timeout", "0", "--store", str(tmp_path / "s")]
    assert main(argv) == ExitCode.WAITING
    waiting = re.findall(r"waiting for callback.*", capsys.readouterr().err)
    assert len(waiting) == 1 and re.fullmatch(r"waiting for callback [A-Za-z0-9+/]+=*", waiting[0])


def _durable(*argv: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "durable_testing.cli", *argv]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_until(process: subprocess.Popen[str], needle: str) -> list[str]:
    """stderr lines up to the first holding ``needle``, which must come within 30 s."""
    stderr = process.stderr
    assert stderr is not None
    lines: list[str] = []

    def read() -> None:
        while not lines or (lines[-1] and needle not in lines[-1]):
            lines.append(stderr.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive() and lines[-1], f"no {needle!r} in: {''.join(lines)}"
    return lines


def test_serve_says_where_once_and_stops_quietly_on_ctrl_c(tmp_path: Path) -> None:
    serve = _durable("serve", "--port", "0", "--store", str(tmp_path / "s.sqlite3"))
    try:
        lines = _read_until(serve, "serving on")
        url = lines[-1].split("serving on ")[1].split(",")[0]
        with urllib.request.urlopen(url + "/", timeout=10) as console:  # it serves by now
            assert console.status == 200
        serve.send_signal(signal.SIGINT)
        _, rest = serve.communicate(timeout=30)
    finally:
        serve.kill()
        serve.wait(10)
    err = "".join(lines) + rest
    assert serve.returncode == ExitCode.OK
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "serving" in line] == [lines[-1].rstrip("\n")]


APPROVED_THEN_SLOW = """
import sys
import time

from durable_closure import run


def slow(step):
    print("the slow step runs", file=sys.stderr, flush=True)
    time.sleep(60)


def flow(event, ctx):
    ctx.create_callback(name="approval").result()
    return ctx.step(slow, name="slow")


handler = run(flow)
"""


def test_ctrl_c_while_an_answer_resumes_the_execution(tmp_path: Path) -> None:
    """The answer is recorded before the execution resumes in this process: Ctrl-C stops
    the resumption, not the answer, and says what resumes it."""
    flow = tmp_path / "slow_flow.py"
    flow.write_text(APPROVED_THEN_SLOW)
    store = ["--store", str(tmp_path / "s.sqlite3")]
    run = _durable("run", f"{flow}:handler", "--timeout", "0", *store)
    _, err = run.communicate(timeout=60)
    assert run.returncode == ExitCode.WAITING
    callback_id = re.findall(r"waiting for callback approval (\S+)", err)[0]
    answer = _durable("callback", "succeed", callback_id, "--result", "1", *store)
    try:
        _read_until(answer, "the slow step runs")  # for 60 s
        answer.send_signal(signal.SIGINT)
        _, rest = answer.communicate(timeout=30)
    finally:
        answer.kill()
        answer.wait(10)
    assert answer.returncode == ExitCode.INTERRUPTED
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == (
        f"durable: stopped; the answer is recorded in {store[1]}:"
        f" `durable serve --register slow_flow={flow}:handler {' '.join(store)}`"
        " resumes the execution"
    )


def test_serve_on_every_address_shows_a_console_url_that_answers(tmp_path: Path) -> None:
    """The console answers loopback clients naming a loopback host: http://0.0.0.0:PORT/
    is refused (403), http://127.0.0.1:PORT/ is the way in."""
    serve = _durable("serve", "--host", "0.0.0.0", "--port", "0", "--store", str(tmp_path / "s"))
    try:
        line = _read_until(serve, "serving on")[-1]
        console = re.findall(r"console at (\S+)", line)
        assert console and console[0].startswith("http://127.0.0.1:"), line
        with urllib.request.urlopen(console[0], timeout=10) as page:
            assert page.status == 200
    finally:
        serve.kill()
        serve.wait(10)


def test_ctrl_c_while_the_handler_module_imports(tmp_path: Path) -> None:
    """A moment no command handles itself: one line, no traceback, exit 130."""
    slow = tmp_path / "slow_import.py"
    slow.write_text(
        "import sys\nimport time\n\n"
        "print('importing', file=sys.stderr, flush=True)\ntime.sleep(60)\n"
    )
    serve = _durable("serve", "--port", "0", "--register", f"f={slow}:handler",
                     "--store", str(tmp_path / "s.sqlite3"))  # fmt: skip
    try:
        _read_until(serve, "importing")
        serve.send_signal(signal.SIGINT)
        _, rest = serve.communicate(timeout=30)
    finally:
        serve.kill()
        serve.wait(10)
    assert serve.returncode == ExitCode.INTERRUPTED
    assert rest.strip() == "durable: interrupted"


def test_ctrl_c_during_a_run_says_what_resumes_it(flow: Path, tmp_path: Path) -> None:
    """Interrupted in a real-time wait, with no callback to answer: the line names the
    command that resumes it (`durable serve` picks up a store's unfinished executions)."""
    store = tmp_path / "s.sqlite3"
    spec = f"{flow}:handler"
    argv = ["--name", "r1", "--input", '{"n": 1}', "--real-time", "--store", str(store)]
    run = _durable("run", spec, *argv)
    try:
        _read_until(run, "WaitStarted")  # a 60 s wait, really waited
        run.send_signal(signal.SIGINT)
        _, rest = run.communicate(timeout=30)
    finally:
        run.kill()
        run.wait(10)
    assert run.returncode == ExitCode.INTERRUPTED
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith(f"durable: stopped; r1 stays in {store}: ")
    assert last.endswith(f"`durable serve --register flow={spec} --store {store}` resumes it")

    serve = _durable("serve", "--port", "0", "--register", f"flow={spec}", "--store", str(store))
    try:
        _read_until(serve, "flow/r1 SUCCEEDED")  # the wait fires on skipped time: it ends
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)
    finally:
        serve.kill()
        serve.wait(10)
    assert [e.status for e in SqliteStore(store).list_executions()] == [ExecutionStatus.SUCCEEDED]
