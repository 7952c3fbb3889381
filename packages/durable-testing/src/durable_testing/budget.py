"""``durable budget``: how close an execution's checkpoints are to the service's limits.

The limits are durable-core's (``durable_core.payloads``): a step's or callback's
payload at most 6 MB, a child context's result recorded only up to 256 KB (above, its
children replay on every invocation), the handler's result at most Lambda's 6 MB
response, and at most 25,000 operations in one history. The report lists the largest
payloads first, each with its share of the limit that applies to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from durable_core.payloads import (
    BUDGET_WARNING_RATIO,
    CHILD_RESULT_LIMIT_BYTES,
    MAX_OPERATIONS,
    PAYLOAD_LIMIT_BYTES,
    RESPONSE_LIMIT_BYTES,
)
from durable_core.types import Operation, OperationType

__all__ = ["BudgetEntry", "budget_entries", "format_budget_report"]


@dataclass(frozen=True)
class BudgetEntry:
    """One recorded payload: whose, what (result or error), its size and its limit."""

    label: str
    kind: str
    size: int
    limit: int

    @property
    def share(self) -> float:
        return self.size / self.limit

    @property
    def near(self) -> bool:
        return self.share >= BUDGET_WARNING_RATIO


def _result_limit(op: Operation) -> int:
    if op.type is OperationType.EXECUTION:
        return RESPONSE_LIMIT_BYTES
    if op.type is OperationType.CONTEXT:
        return CHILD_RESULT_LIMIT_BYTES
    return PAYLOAD_LIMIT_BYTES


def _label(op: Operation) -> str:
    return f"{op.type.value} {op.name!r}" if op.name else f"{op.type.value} {op.id[:12]}"


def budget_entries(operations: Sequence[Operation]) -> list[BudgetEntry]:
    """Every non-empty result and error, the closest to its limit first."""
    entries = []
    for op in operations:
        if op.result:
            entries.append(
                BudgetEntry(_label(op), "result", len(op.result.encode()), _result_limit(op))
            )
        if op.error is not None:
            size = len(json.dumps(op.error.to_wire()).encode())
            entries.append(BudgetEntry(_label(op), "error", size, PAYLOAD_LIMIT_BYTES))
    return sorted(entries, key=lambda e: (-e.share, e.label))


def format_budget_report(operations: Sequence[Operation], top: int = 10) -> str:
    """A table of the ``top`` largest payloads and the operation count against the limit."""
    entries = budget_entries(operations)
    count = len(operations)
    lines = [
        f"operations: {count} of {MAX_OPERATIONS} ({count / MAX_OPERATIONS:.1%})",
        f"{'operation':<40} {'payload':<7} {'bytes':>10} {'limit':>10} {'used':>7}",
    ]
    for entry in entries[:top]:
        flag = "  <- near the limit" if entry.near else ""
        lines.append(
            f"{entry.label[:40]:<40} {entry.kind:<7} {entry.size:>10} {entry.limit:>10} "
            f"{entry.share:>7.1%}{flag}"
        )
    if not entries:
        lines.append("(no recorded payloads)")
    return "\n".join(lines)
