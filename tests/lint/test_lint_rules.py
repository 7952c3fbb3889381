"""The linter against a corpus of handlers annotated by hand.

Each fixture marks the lines that must be reported with ``# expect: DL00x`` (several
codes separated by commas); every other line must be clean. The annotations are the
independent truth: they say what a reader of the rule would flag, line by line.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from durable_testing.lint import RULES, check_source

FIXTURES = Path(__file__).parent / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>DL\d{3}(?:\s*,\s*DL\d{3})*)")


def expected_findings(source: str) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for number, line in enumerate(source.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found.update((number, code.strip()) for code in match.group("codes").split(","))
    return found


def actual_findings(path: Path) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in check_source(path.read_text(), str(path))}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.py")), ids=lambda p: p.stem)
def test_fixture_findings_are_exactly_the_annotated_lines(path: Path) -> None:
    assert actual_findings(path) == expected_findings(path.read_text())


def test_corpus_exercises_every_rule_at_least_twice() -> None:
    counts: Counter[str] = Counter()
    for path in FIXTURES.glob("*.py"):
        counts.update(code for _, code in expected_findings(path.read_text()))
    assert {rule.code: counts[rule.code] >= 2 for rule in RULES} == {
        rule.code: True for rule in RULES
    }


def test_clean_handler_has_no_findings() -> None:
    assert check_source((FIXTURES / "clean.py").read_text()) == []


def test_rule_codes_are_unique_and_sequential() -> None:
    assert [rule.code for rule in RULES] == [f"DL00{n}" for n in range(1, 10)]


def test_clock_inside_a_step_body_is_not_reported() -> None:
    source = "import time\ndef handler(event, ctx):\n    return ctx.step(lambda s: time.time())\n"
    assert check_source(source) == []


def test_same_call_outside_a_step_is_reported_with_position_and_fix() -> None:
    source = "import time\ndef handler(event, ctx):\n    ctx.wait(1)\n    return time.time()\n"
    [finding] = check_source(source, "h.py")
    assert (finding.path, finding.line, finding.column, finding.code) == ("h.py", 4, 12, "DL001")
    assert "time.time()" in finding.message
    assert "ctx.step" in finding.rule.fix


def test_plain_function_is_not_durable_code() -> None:
    source = "import time\ndef handler(event, context):\n    return time.time()\n"
    assert check_source(source) == []


def test_step_result_clears_the_taint_of_a_reassigned_name() -> None:
    source = (
        "import time\n"
        "def handler(event, ctx):\n"
        "    t = time.time()  # durable: ignore[DL001]\n"
        "    t = ctx.step(lambda s: time.time())\n"
        "    if t > 0:\n"
        "        ctx.wait(1)\n"
    )
    assert check_source(source) == []


def test_taint_flows_through_assignments() -> None:
    source = (
        "import random\n"
        "def handler(event, ctx):\n"
        "    a = random.random()  # durable: ignore\n"
        "    b = a * 2\n"
        "    c, d = b, 1\n"
        "    if c:\n"
        "        ctx.wait(1)\n"
    )
    assert [(f.line, f.code) for f in check_source(source)] == [(6, "DL008")]


def test_docs_describe_every_rule_under_its_code_and_name() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "lint.md").read_text()
    headings = re.findall(r"^### (DL\d{3}) ([\w-]+):", docs, flags=re.M)
    assert headings == [(rule.code, rule.name) for rule in RULES]
