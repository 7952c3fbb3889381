"""``durable lint``: find code that breaks replay in durable handlers, before it is deployed.

A durable handler runs again from the top on every invocation, so everything outside
its steps must compute the same values each time. The rules (``DL001``..``DL008``, see
``durable_testing.lint.rules`` and docs/lint.md) flag the clock, randomness, UUIDs, the
environment and I/O outside steps, branching on such values, and step bodies that
mutate the handler's state or call durable operations.

Exit status: 0 when nothing is found, 1 when something is, 2 when a file does not
parse or the arguments are wrong. A finding is silenced on its line with
``# durable: ignore[DL001]`` or ``# durable: ignore``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from durable_testing.lint.checker import Finding, check_source
from durable_testing.lint.report import format_json, format_text
from durable_testing.lint.rules import RULES, Rule

__all__ = ["RULES", "Finding", "Rule", "check_source", "main"]

_SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "build", "dist"})


def _python_files(path: Path) -> Iterator[Path]:
    """``path`` itself, or the ``.py`` files under it outside hidden and build directories."""
    if not path.is_dir():
        yield path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if not child.name.startswith(".") and child.name not in _SKIPPED_DIRECTORIES:
                yield from _python_files(child)
        elif child.suffix == ".py":
            yield child


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable lint",
        description="Flag code that breaks replay in durable handlers.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Lint every path; print the findings; return the exit status (0, 1 or 2)."""
    args = _parser().parse_args(argv)
    findings: list[Finding] = []
    unlinted = 0
    for root in args.paths:
        for path in _python_files(root):
            try:
                findings.extend(check_source(path.read_text(encoding="utf-8"), str(path)))
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
                print(f"{path}: cannot lint: {exc}", file=sys.stderr)
                unlinted += 1
    output = format_json(findings) if args.format == "json" else format_text(findings, unlinted)
    print(output)
    return 2 if unlinted else (1 if findings else 0)
