"""How findings are shown: one line each for people, a JSON array for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from durable_testing.lint.checker import Finding

__all__ = ["format_json", "format_text"]


def format_text(findings: Sequence[Finding], unlinted: int = 0) -> str:
    """``path:line:col: CODE message [fix: ...]`` per finding, as ruff and flake8 print,
    and a summary, which says "All clear." only when every file could be linted."""
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.code} {f.message} [fix: {f.rule.fix}]" for f in findings
    ]
    count = len(findings)
    summary = f"Found {count} finding{'' if count == 1 else 's'}." if count else "No findings."
    if unlinted:
        files = "file" if unlinted == 1 else "files"
        summary += f" {unlinted} {files} could not be linted (see above)."
    lines.append(summary if count or unlinted else "All clear.")
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
