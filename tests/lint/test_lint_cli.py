"""``durable lint`` as a command: output formats, exit status, paths and folders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from durable_testing.lint import main

FIXTURES = Path(__file__).parent / "fixtures"
TEXT_LINE = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>DL\d{3}) .+ \[fix: .+\]$"
)


def test_findings_exit_1_and_print_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "silenced.py"
    assert main([str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    parsed = [TEXT_LINE.match(line) for line in lines[:-1]]
    assert [(m["line"], m["code"]) for m in parsed if m] == [("13", "DL001"), ("14", "DL002")]
    assert lines[-1] == "Found 2 findings."


def test_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURES / "clean.py")]) == 0
    assert capsys.readouterr().out.strip() == "All clear."


def test_json_format_lists_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "silenced.py"
    assert main(["--format", "json", str(path)]) == 1
    [first, second] = json.loads(capsys.readouterr().out)
    assert first == {
        "code": "DL001",
        "rule": "wall-clock",
        "path": str(path),
        "line": 13,
        "column": 9,
        "message": first["message"],
        "fix": "move it into a ctx.step and use the step's checkpointed result",
    }
    assert "time.time()" in first["message"]
    assert (second["code"], second["line"]) == ("DL002", 14)


def test_folder_is_searched_for_python_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "flow.py").write_text(
        "import uuid\ndef h(event, ctx):\n    ctx.wait(1)\n    return uuid.uuid4()\n"
    )
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "dep.py").write_text(
        "import uuid\ndef h(event, ctx):\n    ctx.wait(1)\n    return uuid.uuid4()\n"
    )
    (tmp_path / "notes.txt").write_text("not python")
    assert main(["--format", "json", str(tmp_path)]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [(Path(f["path"]).name, f["code"]) for f in findings] == [("flow.py", "DL003")]


def test_unparsable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def handler(:\n")
    assert main([str(broken)]) == 2
    assert "broken.py: cannot lint" in capsys.readouterr().err


def test_a_file_that_cannot_be_linted_is_never_all_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.py"
    clean = tmp_path / "clean.py"
    clean.write_text("def handler(event, ctx):\n    return ctx.step(lambda _: 1)\n")
    assert main([str(missing), str(clean)]) == 2
    captured = capsys.readouterr()
    assert "missing.py: cannot lint" in captured.err
    assert captured.out.strip() == "No findings. 1 file could not be linted (see above)."


def test_runs_as_a_module() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "durable_testing.lint", str(FIXTURES / "clean.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (completed.returncode, completed.stdout.strip()) == (0, "All clear.")
