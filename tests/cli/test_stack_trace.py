"""``durable run`` and ``durable history`` show where the user's code raised, from the
ErrorObject's ``StackTrace`` (the service's field: a list of strings; Python SDKs fill it
with ``traceback`` lines, which is what these records hold)."""

from __future__ import annotations

import textwrap
import traceback
from pathlib import Path

import pytest
from durable_testing.cli import main
from durable_testing.table import format_stack_trace

FAILING = textwrap.dedent("""
    import traceback


    def charge(order):
        raise ValueError(f"card declined for {order}")


    def handler(event, context):
        try:
            charge(7)
        except ValueError as exc:
            error = {
                "ErrorType": "ValueError",
                "ErrorMessage": str(exc),
                "StackTrace": traceback.format_exception(exc),
            }
            return {"Status": "FAILED", "Error": error}
""")


def test_run_and_history_show_the_users_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "billing.py"
    module.write_text(FAILING)
    store = ["--store", str(tmp_path / "s.sqlite3")]
    assert main(["run", f"{module}:handler", "--name", "b1", *store]) == 1
    err = capsys.readouterr().err
    assert "error: ValueError: card declined for 7" in err
    assert f"at {module}:6 in charge" in err
    assert 'raise ValueError(f"card declined for {order}")' in err
    assert f"at {module}:11 in handler" in err

    assert main(["history", "b1", *store]) == 0
    out = capsys.readouterr().out
    assert "where the errors were raised:" in out
    assert "ExecutionFailed b1: ValueError: card declined for 7" in out
    assert f"at {module}:6 in charge" in out


def test_frames_of_the_sdk_and_the_standard_library_are_left_out(tmp_path: Path) -> None:
    user_file = tmp_path / "flow.py"
    sdk_file = tmp_path / "site-packages" / "durable_core" / "engine.py"
    namespace: dict[str, object] = {}
    exec(compile("def body():\n    return 1 / 0\n", str(user_file), "exec"), namespace)
    exec(compile("def run(fn):\n    return fn()\n", str(sdk_file), "exec"), namespace)
    try:
        namespace["run"](namespace["body"])  # type: ignore[operator]
    except ZeroDivisionError as exc:
        trace = traceback.format_exception(exc)
    shown = format_stack_trace(trace)
    assert f"  at {user_file}:2 in body" in shown
    assert any(str(sdk_file) in line for line in trace), "the SDK frame was in the record"
    assert not any(str(sdk_file) in line for line in shown)


def test_a_trace_of_other_lines_is_shown_as_it_is() -> None:
    assert format_stack_trace(["at charge (flow.js:12:3)", ""]) == ["  at charge (flow.js:12:3)"]
    assert format_stack_trace(None) == []
