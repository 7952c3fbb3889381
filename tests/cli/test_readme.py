"""The READMEs' test examples run as written: each ```python block that defines ``test_``
functions is executed, and every test it defines is called with the ``durable_runner``
fixture, as pytest would."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from durable_testing.runner import DurableTestRunner

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "packages" / "durable-testing" / "README.md"]


def _test_blocks() -> list[tuple[str, str]]:
    blocks = []
    for readme in READMES:
        for index, block in enumerate(re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)):
            if "def test_" in block:
                blocks.append((f"{readme.relative_to(ROOT)}#{index}", block))
    return blocks


@pytest.mark.parametrize(("where", "code"), _test_blocks(), ids=[w for w, _ in _test_blocks()])
def test_the_readme_tests_pass_as_written(
    where: str, code: str, durable_runner: Callable[[Any], DurableTestRunner]
) -> None:
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, where, "exec"), namespace)
    tests: list[Callable[..., None]] = [
        value for name, value in namespace.items() if name.startswith("test_")
    ]
    assert tests, f"{where} defines no test"
    for test in tests:
        if inspect.signature(test).parameters:
            test(durable_runner)
        else:
            test()


def test_both_readmes_hold_a_callback_test() -> None:
    wheres = [where for where, code in _test_blocks() if "wait_for_callback(" in code]
    assert {w.split("#")[0] for w in wheres} == {"README.md", "packages/durable-testing/README.md"}
