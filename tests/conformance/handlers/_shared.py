"""What several requirement handlers share: a one-time crash, serdes, batch projections."""

from __future__ import annotations

from typing import Any

from durable_core import BatchResult, DurableContext, Jitter, RetryPolicy

__all__ = [
    "ONE_SECOND_RETRY",
    "UppercaseSerDes",
    "batch_summary",
    "crash_once",
    "fail_branch",
]

# The requirements that retry state ``NextAttemptDelaySeconds: 1``.
ONE_SECOND_RETRY = RetryPolicy(
    max_attempts=2, initial_delay_seconds=1, backoff_rate=1, jitter=Jitter.NONE
)

_crashed: set[tuple[str, str]] = set()


def crash_once(ctx: DurableContext, label: str) -> None:
    """Exit the process (``Runtime.ExitError``) the first time an execution gets here."""
    key = (ctx.execution_arn, label)
    if key not in _crashed:
        _crashed.add(key)
        raise SystemExit(1)


class UppercaseSerDes:
    """Writes strings uppercased and unquoted; reads back what was written."""

    def serialize(self, value: Any) -> str:
        return str(value).upper()

    def deserialize(self, data: str) -> Any:
        return data


def batch_summary(batch: BatchResult[Any], *fields: str) -> dict[str, Any]:
    """The projection the batch requirements return, with the fields each one names."""
    values: dict[str, Any] = {
        "completionReason": batch.completion_reason.value,
        "status": batch.status.value,
        "successCount": batch.success_count,
        "failureCount": batch.failure_count,
        "totalCount": batch.total_count,
    }
    return {name: values[name] for name in fields}


def fail_branch(ctx: DurableContext) -> Any:
    raise RuntimeError("branch failed")
