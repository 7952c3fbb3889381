"""How findings are shown: one line each for people, a JSON array for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from durable_testing.lint.checker import Finding

__all__ = ["format_json", "format_text"]


def format_text(findings: Sequence[Finding]) -> str:
    """``path:line:col: CODE message [fix: ...]`` per finding, as ruff and flake8 print."""
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.code} {f.message} [fix: {f.rule.fix}]" for f in findings
    ]
    count = len(findings)
    lines.append(f"Found {count} finding{'' if count == 1 else 's'}." if count else "All clear.")
    return "\n".join(lines)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        [
            {
                "code": f.code,
                "rule": f.rule.name,
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "message": f.message,
                "fix": f.rule.fix,
            }
            for f in findings
        ],
        indent=2,
    )
