"""``TypedSerDes(Order)`` gives mypy ``Order`` for what it reads, sync and async, and a
serdes whose type disagrees with the body is a type error: mypy --strict checks
``typing_typed_serdes.py`` (its ``assert_type`` lines and required ``type: ignore``s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).with_name("typing_typed_serdes.py")


def test_typed_serdes_results_have_the_declared_type_for_mypy() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", str(CASES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
