"""``make demo`` run twice on one store: each run its own execution name, and the command it
prints to show the history again works as printed, without ``uv`` on PATH. (Time is
skipped here: the demo's clock is swapped for a virtual one.)"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from durable_testing import VirtualClock

DEMO = Path(__file__).resolve().parents[2] / "examples" / "order_demo.py"


def _demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("order_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_run_has_its_own_name_and_a_hint_that_works_without_uv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _demo()
    monkeypatch.setattr(demo, "RealClock", VirtualClock)
    store = tmp_path / "durable.sqlite3"
    monkeypatch.setattr(sys, "argv", ["order_demo.py", "--store", str(store)])
    hints = []
    for _ in range(2):
        assert demo.main() == 0
        (hint,) = [
            line.removeprefix("show it again: ")
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("show it again: ")
        ]
        hints.append(shlex.split(hint))
    names = [hint[-1] for hint in hints]
    assert names[0] != names[1]

    no_uv = {"PATH": os.pathsep.join(["/usr/bin", "/bin"]), "HOME": str(tmp_path)}
    for command, name in zip(hints, names, strict=True):
        assert "uv" not in command
        shown = subprocess.run(command, env=no_uv, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert "ExecutionSucceeded" in shown.stdout and name in shown.stdout
