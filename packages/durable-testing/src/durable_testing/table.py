"""A fixed-width rendering of an execution history, for terminals and test failure output."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from durable_testing.history import HistoryEvent

__all__ = ["format_history_table"]

_DETAIL_WIDTH = 48
_COLUMNS = ("#", "EventType", "Name", "SubType", "Time", "Details")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _error_text(block: dict[str, Any] | None) -> str:
    payload = (block or {}).get("Payload") or {}
    error_type = payload.get("ErrorType") or "Error"
    message = payload.get("ErrorMessage")
    return f"{error_type}: {message}" if message else error_type


def _summary(event: HistoryEvent) -> str:
    """The one detail a reader looks for: a result, an error, an attempt, a duration."""
    details: dict[str, Any] = event.get(f"{event['EventType']}Details") or {}
    parts: list[str] = []
    if "Input" in details:
        parts.append(f"input={details['Input'].get('Payload', '')}")
    if "Result" in details:
        parts.append(f"result={details['Result'].get('Payload', '')}")
    if "Error" in details:
        parts.append(_error_text(details["Error"]))
    retry = details.get("RetryDetails")
    if retry:
        parts.append(f"attempt {retry.get('CurrentAttempt')}")
        if "NextAttemptDelaySeconds" in retry:
            parts.append(f"retry in {retry['NextAttemptDelaySeconds']}s")
    if "Duration" in details:
        parts.append(f"{details['Duration']}s")
    if event["EventType"] == "InvocationCompleted":
        start, end = details.get("StartTimestamp"), details.get("EndTimestamp")
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
            parts.insert(0, f"ran {(end - start).total_seconds() * 1000:.0f}ms")
    return ", ".join(parts)


def _offset(event: HistoryEvent, origin: dt.datetime | None) -> str:
    stamp = event.get("EventTimestamp")
    if origin is None or not isinstance(stamp, dt.datetime):
        return ""
    return f"+{(stamp - origin).total_seconds():.3f}s"


def format_history_table(events: Sequence[HistoryEvent]) -> str:
    """Render events as columns: id, type, name (or id), subtype, time since start, details."""
    origin = events[0].get("EventTimestamp") if events else None
    rows = [
        (
            str(event.get("EventId", "")),
            str(event["EventType"]),
            _short(str(event.get("Name") or (event.get("Id") or "")[:12]), 24),
            str(event.get("SubType") or ""),
            _offset(event, origin if isinstance(origin, dt.datetime) else None),
            _short(_summary(event), _DETAIL_WIDTH),
        )
        for event in events
    ]
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    header = "  ".join(cell.ljust(w) for cell, w in zip(_COLUMNS, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join(line.rstrip() for line in [header, rule, *lines])
