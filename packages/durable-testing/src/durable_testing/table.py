"""A fixed-width rendering of an execution history, for terminals and test failure output."""

from __future__ import annotations

import datetime as dt
import re
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from durable_testing.history import HistoryEvent

__all__ = ["format_error_traces", "format_history_table", "format_stack_trace"]

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


_FRAME = re.compile(
    r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>[^\n]+)'
    r"(?:\n[ \t]+(?P<code>\S[^\n]*))?"
)
# Frames in these packages (and in the standard library) are the SDK's, not the user's.
_SDK_PACKAGES = frozenset(
    {
        "durable_core",
        "durable_testing",
        "durable_closure",
        "durable_decorator",
        "durable_class",
        "durable_builder",
        "aws_durable_execution_sdk_python",
    }
)
_STDLIB = tuple(
    str(Path(path).resolve())
    for path in {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
)


def _is_users(file: str) -> bool:
    path = Path(file)
    return not (_SDK_PACKAGES & set(path.parts)) and not str(path.resolve()).startswith(_STDLIB)


def format_stack_trace(stack_trace: Sequence[str] | None, indent: str = "  ") -> list[str]:
    """The lines of an ErrorObject's ``StackTrace`` that point at the user's code.

    ``StackTrace`` is a list of strings (the service's field; Python SDKs fill it with
    ``traceback`` lines): frames in the SDK and the standard library are left out, so
    what remains is where the user's code raised, as ``path:line in function`` (a form
    terminals and editors open) and its source line. Lines that are not Python frames are
    shown as they are; if every frame is the SDK's, every frame is shown.
    """
    if not stack_trace:
        return []
    text = "\n".join(stack_trace)
    frames = list(_FRAME.finditer(text))
    if not frames:
        return [f"{indent}{line.strip()}" for line in text.splitlines() if line.strip()]
    shown = [frame for frame in frames if _is_users(frame["file"])] or frames
    lines = []
    for frame in shown:
        lines.append(f"{indent}at {frame['file']}:{frame['line']} in {frame['func'].strip()}")
        if frame["code"]:
            lines.append(f"{indent}    {frame['code'].strip()}")
    return lines


def format_error_traces(events: Sequence[HistoryEvent]) -> str:
    """Each error of the history that carries a ``StackTrace``, with the user's frames:
    what ``durable history`` prints under its table ("" when there is none)."""
    blocks = []
    for event in events:
        details: dict[str, Any] = event.get(f"{event['EventType']}Details") or {}
        payload = (details.get("Error") or {}).get("Payload") or {}
        trace = format_stack_trace(payload.get("StackTrace"), indent="    ")
        if trace:
            name = event.get("Name") or ""
            head = f"  #{event.get('EventId', '')} {event['EventType']} {name}".rstrip()
            blocks.append("\n".join([f"{head}: {_error_text(details['Error'])}", *trace]))
    return "\n".join(blocks)
