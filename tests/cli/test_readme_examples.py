"""The README's worked example of the unit-testing kit runs, as written (a doc test)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "packages" / "durable-testing" / "README.md"


def _example(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python example under {heading!r}"
    return match.group(1)


def test_the_mock_context_example_runs_and_its_tests_pass() -> None:
    namespace: dict[str, Any] = {"__name__": "readme_mock_example"}
    exec(compile(_example("## Unit tests without a service"), str(README), "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()
