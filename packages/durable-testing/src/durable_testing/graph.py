"""Execution graphs: an execution history drawn as a tree of operations and a timeline.

Both renderings read history events in the ``GetDurableExecutionHistory`` shape (see
``durable_testing.history``). The tree nests each operation under its ``ParentId``
(operations without one hang off the execution) with its final status; the timeline
shows when things happened: every invocation, every step attempt and the backoff
before the next one, waits, callbacks, child contexts (parallel branches and map
items are child contexts) and chained invokes.

``render_mermaid`` writes Markdown with two fenced ``mermaid`` diagrams (a flowchart
and a gantt chart), which GitHub and most Markdown viewers draw. ``render_html``
draws the same on one self-contained page (inline CSS and SVG, no script, no
external resource) that can be opened offline or attached to a ticket.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from durable_testing.history import HistoryEvent
from durable_testing.table import format_history_table

__all__ = ["GRAPH_CSS", "format_seconds", "render_html", "render_html_sections", "render_mermaid"]

_KINDS = ("ChainedInvoke", "Execution", "Context", "Callback", "Step", "Wait")
_STATUSES = ("Started", "Succeeded", "Failed", "Cancelled", "TimedOut", "Stopped")
_SVG_WIDTH = 960
_LABEL_WIDTH = 220
_ROW_HEIGHT = 22


@dataclass
class _Operation:
    """One operation as the history tells it: identity, final status, its events."""

    id: str
    kind: str
    name: str | None
    parent_id: str | None
    sub_type: str | None
    status: str = "Started"
    events: list[HistoryEvent] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or self.id[:12]

    @property
    def attempts(self) -> int:
        return sum(1 for event in self.events if event["EventType"] == "StepStarted")

    @property
    def summary(self) -> str:
        """``Step (Step) · SUCCEEDED · 2 attempts``: what the tree shows under the name."""
        kind = self.kind if self.sub_type in (None, self.kind) else f"{self.kind} ({self.sub_type})"
        parts = [kind, _status_word(self.status)]
        if self.attempts > 1:
            parts.append(f"{self.attempts} attempts")
        return " · ".join(parts)


@dataclass(frozen=True)
class _Span:
    """A bar of the timeline: its row (an operation id, or invocations), what it is, when."""

    row_key: str
    row: str
    label: str
    start: dt.datetime
    end: dt.datetime
    style: str


def _status_word(status: str) -> str:
    return "TIMED_OUT" if status == "TimedOut" else status.upper()


def _split(event_type: str) -> tuple[str, str] | None:
    """``"StepFailed"`` -> ``("Step", "Failed")``; None for events of no operation."""
    for kind in _KINDS:
        if event_type.startswith(kind) and event_type[len(kind) :] in _STATUSES:
            return kind, event_type[len(kind) :]
    return None


def _operations(events: Sequence[HistoryEvent]) -> tuple[_Operation, list[_Operation]]:
    """The execution (a stand-in when the history has no Execution event) and its operations."""
    root: _Operation | None = None
    by_id: dict[str, _Operation] = {}
    for event in events:
        split = _split(str(event.get("EventType", "")))
        if split is None or "Id" not in event:
            continue
        kind, status = split
        operation = by_id.get(event["Id"])
        if operation is None:
            operation = _Operation(
                event["Id"], kind, event.get("Name"), event.get("ParentId"), event.get("SubType")
            )
            if kind == "Execution":
                root = operation
            else:
                by_id[operation.id] = operation
        operation.status = status
        operation.events.append(event)
    if root is None:
        root = _Operation("execution", "Execution", "execution", None, None)
    return root, list(by_id.values())


def _children(root: _Operation, operations: list[_Operation]) -> dict[str, list[_Operation]]:
    """Parent id -> children in history order; unknown parents count as the execution."""
    known = {operation.id for operation in operations}
    children: dict[str, list[_Operation]] = {}
    for operation in operations:
        parent = operation.parent_id if operation.parent_id in known else None
        children.setdefault(parent or root.id, []).append(operation)
    return children


def _timestamp(event: HistoryEvent) -> dt.datetime | None:
    stamp = event.get("EventTimestamp")
    return stamp if isinstance(stamp, dt.datetime) else None


def _details(event: HistoryEvent) -> dict[str, Any]:
    details = event.get(f"{event['EventType']}Details")
    return details if isinstance(details, dict) else {}


def _step_spans(operation: _Operation, horizon: dt.datetime) -> Iterator[_Span]:
    """Each attempt (started to its outcome) and each backoff (outcome to next start)."""
    row = (operation.id, operation.label)
    attempt_start: dt.datetime | None = None
    backoff_start: dt.datetime | None = None
    for event in operation.events:
        stamp = _timestamp(event)
        if stamp is None:
            continue
        if event["EventType"] == "StepStarted":
            if backoff_start is not None:
                yield _Span(*row, "retry backoff", backoff_start, stamp, "backoff")
                backoff_start = None
            attempt_start = stamp
            continue
        retry = _details(event).get("RetryDetails") or {}
        attempt = retry.get("CurrentAttempt", "?")
        outcome = _split(event["EventType"])
        status = outcome[1].lower() if outcome else "done"
        label = f"attempt {attempt} {status}"
        yield _Span(*row, label, attempt_start or stamp, stamp, status)
        attempt_start = None
        if "NextAttemptDelaySeconds" in retry:
            backoff_start = stamp
    if attempt_start is not None:
        yield _Span(*row, "attempt running", attempt_start, horizon, "open")
    if backoff_start is not None:
        yield _Span(*row, "retry backoff", backoff_start, horizon, "backoff")


def _spans(operations: list[_Operation], events: Sequence[HistoryEvent]) -> list[_Span]:
    """Every bar of the timeline, invocations first, then operations in history order.

    A bar still open when the history ends (a running attempt, a pending wait) ends at
    the last event's time.
    """
    stamps = [stamp for event in events if (stamp := _timestamp(event)) is not None]
    if not stamps:
        return []
    horizon = max(stamps)
    spans: list[_Span] = []
    invocations = (e for e in events if e.get("EventType") == "InvocationCompleted")
    for number, event in enumerate(invocations, start=1):
        details = _details(event)
        start, end = details.get("StartTimestamp"), details.get("EndTimestamp")
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
            style = "failed" if "Error" in details else "invocation"
            spans.append(
                _Span("invocations", "invocations", f"invocation {number}", start, end, style)
            )
    for operation in operations:
        if operation.kind == "Step":
            spans.extend(_step_spans(operation, horizon))
            continue
        times = [stamp for event in operation.events if (stamp := _timestamp(event))]
        if not times:
            continue
        terminal = operation.status != "Started"
        style = operation.status.lower() if terminal else "open"
        label = operation.kind.lower() if operation.kind != "Context" else "context"
        if operation.kind == "Wait":
            duration = _details(operation.events[0]).get("Duration")
            label = f"wait {duration}s" if duration is not None else "wait"
        end = times[-1] if terminal else horizon
        spans.append(_Span(operation.id, operation.label, label, times[0], end, style))
    return spans


# -- mermaid --------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted mermaid label (entity codes, as mermaid documents them)."""
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _gantt_text(text: str) -> str:
    """Gantt task and section names end at ``:`` and ``#`` and cannot span lines."""
    for character in ":#;\n\r":
        text = text.replace(character, " ")
    return text.strip() or "-"


def _mermaid_flowchart(root: _Operation, operations: list[_Operation]) -> list[str]:
    node_ids = {root.id: "n0"} | {op.id: f"n{i}" for i, op in enumerate(operations, start=1)}
    lines = ["flowchart TD"]
    for operation in [root, *operations]:
        label = _mermaid_text(f"{operation.label}<br/>{operation.summary}")
        label = label.replace("#lt;br/#gt;", "<br/>")
        lines.append(f'    {node_ids[operation.id]}["{label}"]')
    for parent, children in _children(root, operations).items():
        lines.extend(f"    {node_ids[parent]} --> {node_ids[child.id]}" for child in children)
    lines.extend(
        [
            "    classDef succeeded fill:#dcfce7,stroke:#15803d",
            "    classDef failed fill:#fee2e2,stroke:#b91c1c",
            "    classDef started fill:#fef9c3,stroke:#a16207",
        ]
    )
    for status in ("Succeeded", "Failed", "Started"):
        ids = [node_ids[op.id] for op in [root, *operations] if op.status == status]
        if ids:
            lines.append(f"    class {','.join(ids)} {status.lower()}")
    return lines


_GANTT_TAGS = {
    "failed": "crit, ",
    "succeeded": "done, ",
    "invocation": "done, ",
    "open": "active, ",
}


def _mermaid_gantt(spans: list[_Span]) -> list[str]:
    lines = ["gantt", "    title Timeline", "    dateFormat x", "    axisFormat %H:%M:%S"]
    section: str | None = None
    for span in spans:
        if span.row_key != section:
            section = span.row_key
            lines.append(f"    section {_gantt_text(span.row)}")
        start, end = (round(t.timestamp() * 1000) for t in (span.start, span.end))
        tags = _GANTT_TAGS.get(span.style, "")
        lines.append(f"    {_gantt_text(span.label)} :{tags}{start}, {max(end, start + 1)}")
    return lines


def render_mermaid(events: list[dict[str, Any]]) -> str:
    """Markdown with a ``flowchart`` of the operation tree and a ``gantt`` timeline.

    Node ``n0`` is the execution; ``nK`` is the K-th operation in order of first event.
    Times in the gantt chart are Unix milliseconds (``dateFormat x``).
    """
    root, operations = _operations(events)
    blocks = [_mermaid_flowchart(root, operations)]
    spans = _spans(operations, events)
    if spans:
        blocks.append(_mermaid_gantt(spans))
    return "\n\n".join("```mermaid\n" + "\n".join(block) + "\n```" for block in blocks) + "\n"


# -- html -----------------------------------------------------------------------------

GRAPH_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2937; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
ul.tree, ul.tree ul { list-style: none; padding-left: 20px; border-left: 1px solid #d1d5db; }
ul.tree { border-left: none; padding-left: 0; }
.node { display: inline-block; padding: 2px 8px; margin: 3px 0; border-radius: 4px;
  border: 1px solid #9ca3af; }
.meta { color: #6b7280; margin-left: 6px; }
.succeeded { background: #dcfce7; border-color: #15803d; fill: #86efac; }
.failed { background: #fee2e2; border-color: #b91c1c; fill: #fca5a5; }
.started, .open { background: #fef9c3; border-color: #a16207; fill: #fde68a; }
.cancelled, .stopped, .timedout { background: #e5e7eb; fill: #d1d5db; }
.backoff { fill: #e5e7eb; stroke: #6b7280; stroke-dasharray: 3 2; }
.invocation { fill: #93c5fd; }
svg text { font-size: 12px; fill: #1f2937; }
svg .grid { stroke: #e5e7eb; }
pre { background: #f9fafb; padding: 12px; overflow-x: auto; }
"""


def _html_tree(
    operation: _Operation, children: dict[str, list[_Operation]], indent: str
) -> list[str]:
    style = operation.status.lower()
    lines = [
        f'{indent}<li><span class="node {style}">{html.escape(operation.label)}</span>'
        f'<span class="meta">{html.escape(operation.summary)}</span>'
    ]
    kids = children.get(operation.id, [])
    if kids:
        lines.append(f"{indent}  <ul>")
        for child in kids:
            lines.extend(_html_tree(child, children, indent + "    "))
        lines.append(f"{indent}  </ul>")
    lines.append(f"{indent}</li>")
    return lines


def _html_timeline(spans: list[_Span]) -> list[str]:
    """An inline SVG: one row per operation, one bar per span, a tooltip on each bar."""
    rows = list(dict.fromkeys((span.row_key, span.row) for span in spans))
    origin = min(span.start for span in spans)
    total = max((span.end - origin).total_seconds() for span in spans) or 1.0
    plot = _SVG_WIDTH - _LABEL_WIDTH
    height = _ROW_HEIGHT * (len(rows) + 1)
    lines = [
        f'<svg width="{_SVG_WIDTH}" height="{height}" viewBox="0 0 {_SVG_WIDTH} {height}" '
        'role="img" aria-label="timeline">'
    ]
    for tick in range(5):
        x = _LABEL_WIDTH + plot * tick / 4
        lines.append(f'<line class="grid" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}"/>')
        anchor = "end" if tick == 4 else "start"
        lines.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}">'
            f"+{format_seconds(total * tick / 4)}</text>"
        )
    for index, (key, row) in enumerate(rows):
        y = _ROW_HEIGHT * index
        lines.append(f'<text x="4" y="{y + 15}">{html.escape(row[:32])}</text>')
        for span in (s for s in spans if s.row_key == key):
            x = _LABEL_WIDTH + plot * (span.start - origin).total_seconds() / total
            width = max(plot * (span.end - span.start).total_seconds() / total, 2.0)
            x = min(x, _SVG_WIDTH - width)
            offset = (span.start - origin).total_seconds()
            length = (span.end - span.start).total_seconds()
            tip = f"{row}: {span.label} at +{offset:.3f}s for {length:.3f}s"
            lines.append(
                f'<rect class="{span.style}" x="{x:.1f}" y="{y + 3}" width="{width:.1f}" '
                f'height="{_ROW_HEIGHT - 6}"><title>{html.escape(tip)}</title></rect>'
            )
    lines.append("</svg>")
    return lines


def render_html_sections(events: list[dict[str, Any]]) -> str:
    """The operation tree and the timeline as HTML sections, without a page around them.

    ``render_html`` puts them on a page of their own; the web console
    (``durable_testing.console``) embeds them in its execution page. Every name and
    label is escaped; ``GRAPH_CSS`` styles them.
    """
    root, operations = _operations(events)
    spans = _spans(operations, events)
    parts = [
        "<h2>Operations</h2>",
        '<ul class="tree">',
        *_html_tree(root, _children(root, operations), "  "),
        "</ul>",
        "<h2>Timeline</h2>",
        *(_html_timeline(spans) if spans else ["<p>No timestamps in this history.</p>"]),
    ]
    return "\n".join(parts)


def render_html(events: list[dict[str, Any]]) -> str:
    """One self-contained HTML page: the operation tree, the timeline and the event table."""
    root, _ = _operations(events)
    title = f"Execution {root.label}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{GRAPH_CSS}</style>",
        "</head>",
        "<body>",
        f'<h1>{html.escape(title)} <span class="node {root.status.lower()}">'
        f"{_status_word(root.status)}</span></h1>",
        render_html_sections(events),
        "<h2>Events</h2>",
        f"<pre>{html.escape(format_history_table(events))}</pre>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def format_seconds(seconds: float) -> str:
    """A duration as a person reads it: ``0.25s``, ``42s``, ``15min``, ``1.5h``, ``7d``
    (workflows wait for days; ``6.05e+05s`` says nothing at a glance)."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"
