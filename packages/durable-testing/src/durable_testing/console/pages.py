"""The console's pages, rendered on the server; every value is escaped where it is written.

A page is made of regions (``data-region``); the live view asks the same URL for its
regions as JSON and swaps those that changed, so what the browser shows always comes
out of these functions, never out of script string-building. The operation tree and
timeline are ``durable_testing.graph``'s, the event list is ``format_history_table``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from durable_core.types import ErrorObject, Operation, OperationType

from durable_testing.graph import format_seconds, render_html_sections
from durable_testing.history import HistoryEvent
from durable_testing.local_service import PendingCallback
from durable_testing.stores import ExecutionStatus, ExecutionSummary, StoredExecution
from durable_testing.table import format_history_table

__all__ = ["PAGE_SIZE", "ListQuery", "execution_page", "execution_url", "list_page"]

PAGE_SIZE = 20
"""Executions per page of the list."""

Regions = dict[str, str]


def _e(value: object) -> str:
    """Text for an element or a quoted attribute: ``<script>`` shows as text."""
    return html.escape(str(value), quote=True)


def execution_url(arn: str) -> str:
    """The execution page's path: the ARN as one percent-encoded segment."""
    return "/console/executions/" + quote(arn, safe="")


def _name_of(arn: str) -> str:
    return arn.split("/durable-execution/")[-1].split("/")[0]


def _time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _duration(execution: StoredExecution | ExecutionSummary, now: dt.datetime) -> str:
    end = execution.end_timestamp or now
    return format_seconds((end - execution.start_timestamp).total_seconds())


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status.lower())}">{_e(status)}</span>'


def _pretty(payload: str | None) -> str:
    """A JSON payload on one line when it is short, indented when not (as stored when it is
    not JSON)."""
    if payload is None:
        return ""
    try:
        value = json.loads(payload)
    except ValueError:
        return payload
    line = json.dumps(value, ensure_ascii=False)
    return line if len(line) <= 80 else json.dumps(value, indent=2, ensure_ascii=False)


def _page(title: str, token: str, body: str, *, poll_ms: int) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{_e(title)} · durable console</title>",
            f'<meta name="console-token" content="{_e(token)}">',
            '<link rel="stylesheet" href="/console/static/graph.css">',
            '<link rel="stylesheet" href="/console/static/console.css">',
            '<script src="/console/static/console.js" defer></script>',
            "</head>",
            f'<body data-poll-ms="{poll_ms}">',
            '<header><a href="/">durable console</a>'
            '<span id="status-line" role="status"></span></header>',
            "<main>",
            body,
            "</main>",
            "</body>",
            "</html>",
        ]
    )


# -- the list of executions ------------------------------------------------------------


class ListQuery:
    """The list's filters and page, read from the query string (unknown values ignored)."""

    def __init__(self, params: Mapping[str, Sequence[str]], functions: Sequence[str]) -> None:
        status = (params.get("status") or [""])[0]
        function = (params.get("function") or [""])[0]
        page = (params.get("page") or ["1"])[0]
        self.status = status if status in ExecutionStatus.__members__ else ""
        self.function = function if function in functions else ""
        self.page = int(page) if page.isdigit() and int(page) > 0 else 1

    def url(self, page: int) -> str:
        params = {"status": self.status, "function": self.function, "page": str(page)}
        return "/?" + urlencode({key: value for key, value in params.items() if value})


def list_page(
    executions: Sequence[ExecutionSummary],
    query: ListQuery,
    functions: Sequence[str],
    registered: Sequence[str],
    token: str,
    now: dt.datetime,
) -> tuple[str, Regions]:
    """The executions page: filters, a start form and the newest executions first."""
    regions = {"executions": _executions_table(executions, query, now)}
    status_options = "".join(
        f'<option value="{_e(s)}"{" selected" if s == query.status else ""}>{_e(s)}</option>'
        for s in ExecutionStatus.__members__
    )
    function_options = "".join(
        f'<option value="{_e(f)}"{" selected" if f == query.function else ""}>{_e(f)}</option>'
        for f in functions
    )
    start_options = "".join(f'<option value="{_e(f)}">{_e(f)}</option>' for f in registered)
    body = f"""<h1>Executions</h1>
<form class="filters" method="get" action="/">
  <label>Status <select name="status"><option value="">all</option>{status_options}</select></label>
  <label>Function <select name="function"><option value="">all</option>{function_options}</select>
  </label>
  <button type="submit">Filter</button>
</form>
<details class="start"{" open" if registered else ""}>
  <summary>Start an execution</summary>
  <form data-action="start">
    <label>Function <select name="FunctionName" required>{start_options}</select></label>
    <label>Name <input name="ExecutionName" placeholder="generated" pattern="[a-zA-Z0-9_-]{{1,64}}">
    </label>
    <label class="wide">Input (JSON) <textarea name="Input" rows="3">{{}}</textarea></label>
    <button type="submit">Start</button>
  </form>
</details>
<section data-region="executions">{regions["executions"]}</section>"""
    return _page("Executions", token, body, poll_ms=1000), regions


def _executions_table(
    executions: Sequence[ExecutionSummary], query: ListQuery, now: dt.datetime
) -> str:
    chosen = [
        e
        for e in executions
        if (not query.status or e.status.value == query.status)
        and (not query.function or e.function_name == query.function)
    ]
    # The store lists in start order: reversed first, so that of executions started at the
    # same instant (a virtual clock stands still) the later one still comes first.
    chosen = sorted(reversed(chosen), key=lambda e: e.start_timestamp, reverse=True)
    first = (query.page - 1) * PAGE_SIZE
    shown = chosen[first : first + PAGE_SIZE]
    if not shown:
        return '<p class="empty">No executions.</p>'
    rows = "\n".join(
        f'<tr data-execution="{_e(_name_of(e.arn))}" data-status="{_e(e.status.value)}">'
        f'<td><a href="{_e(execution_url(e.arn))}">{_e(_name_of(e.arn))}</a></td>'
        f"<td>{_e(e.function_name)}</td><td>{_badge(e.status.value)}</td>"
        f"<td>{_e(_time(e.start_timestamp))}</td><td>{_e(_duration(e, now))}</td></tr>"
        for e in shown
    )
    pager = [f"{first + 1} to {first + len(shown)} of {len(chosen)}"]
    if query.page > 1:
        pager.insert(0, f'<a rel="prev" href="{_e(query.url(query.page - 1))}">newer</a>')
    if first + PAGE_SIZE < len(chosen):
        pager.append(f'<a rel="next" href="{_e(query.url(query.page + 1))}">older</a>')
    return (
        "<table><thead><tr><th>Name</th><th>Function</th><th>Status</th><th>Started</th>"
        f"<th>Duration</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
        f'<p class="pager">{" · ".join(pager)}</p>'
    )


# -- one execution ---------------------------------------------------------------------


def execution_page(
    execution: StoredExecution,
    callbacks: Sequence[PendingCallback],
    token: str,
    now: dt.datetime,
) -> tuple[str, Regions]:
    """One execution: summary, pending callbacks, graph, operations and events, all live."""
    regions = {
        "summary": _summary(execution, now),
        "callbacks": _callbacks(callbacks, execution.operations),
        "graph": render_html_sections(execution.events),
        "operations": _operations(execution.operations, execution.events),
        "events": f"<h2>Events</h2><pre>{_e(format_history_table(execution.events))}</pre>",
    }
    body = f"""<h1>Execution {_e(_name_of(execution.arn))}</h1>
<section data-region="summary">{regions["summary"]}</section>
<pre id="replay-report" hidden></pre>
<section data-region="callbacks">{regions["callbacks"]}</section>
<section class="graph" data-region="graph">{regions["graph"]}</section>
<section data-region="operations">{regions["operations"]}</section>
<section data-region="events">{regions["events"]}</section>"""
    return _page(_name_of(execution.arn), token, body, poll_ms=500), regions


def _summary(execution: StoredExecution, now: dt.datetime) -> str:
    first = execution.operations[0] if execution.operations else None
    details = first.execution_details if first is not None else None
    rows = [
        ("Status", _badge(execution.status.value)),
        ("Function", _e(execution.function_name)),
        ("ARN", f"<code>{_e(execution.arn)}</code>"),
        ("Started", _e(_time(execution.start_timestamp))),
        ("Duration", _e(_duration(execution, now))),
        ("Invocations", _e(execution.invocations)),
        ("Input", f"<pre>{_e(_pretty(details.input_payload if details else None))}</pre>"),
    ]
    if execution.result is not None:
        rows.append(("Result", f'<pre class="result">{_e(_pretty(execution.result))}</pre>'))
    if execution.error is not None:
        rows.append(("Error", _error(execution.error)))
    cells = "".join(f"<tr><th>{key}</th><td>{value}</td></tr>" for key, value in rows)
    stop = '<button type="button" data-action="stop">Stop</button>'
    running = execution.status is ExecutionStatus.RUNNING
    return (
        f'<table class="summary" data-status="{_e(execution.status.value)}">{cells}</table>'
        f'<div class="actions" data-arn="{_e(execution.arn)}">{stop if running else ""}'
        '<button type="button" data-action="replay">Replay against the current code</button>'
        "</div>"
    )


def _error(error: ErrorObject) -> str:
    """Type, message, data and the traceback the error carries."""
    parts = [f"<strong>{_e(error.error_type or 'Error')}</strong>: {_e(error.error_message or '')}"]
    if error.error_data:
        parts.append(f"<pre>{_e(_pretty(error.error_data))}</pre>")
    if error.stack_trace:
        parts.append(f'<pre class="traceback">{_e("".join(error.stack_trace))}</pre>')
    return f'<div class="error">{"".join(parts)}</div>'


def _callbacks(callbacks: Sequence[PendingCallback], operations: Sequence[Operation]) -> str:
    """A form per pending callback, named as the user named it: a ``wait_for_callback``'s
    own name rather than its inner callback's."""
    if not callbacks:
        return ""
    by_id = {op.id: op for op in operations}

    def title(cb: PendingCallback) -> str:
        parent = by_id.get(cb.parent_id or "")
        if parent is not None and parent.sub_type == "WaitForCallback" and parent.name:
            return parent.name
        return cb.name or cb.operation_id[:12]

    forms = "\n".join(
        f"""<form class="callback" data-action="callback" data-callback-name="{_e(title(cb))}">
  <input type="hidden" name="CallbackId" value="{_e(cb.callback_id)}">
  <h3>{_e(title(cb))}</h3>
  <p class="meta">id <code>{_e(cb.callback_id)}</code>{
            f" · times out at {_e(_time(cb.deadline))}" if cb.deadline else ""
        }</p>
  <label class="wide">Result (JSON) <textarea name="Result" rows="2">null</textarea></label>
  <label>Error type <input name="ErrorType"></label>
  <label>Error message <input name="ErrorMessage"></label>
  <button type="submit" value="succeed">Succeed</button>
  <button type="submit" value="fail">Fail</button>
  <button type="submit" value="heartbeat">Heartbeat</button>
</form>"""
        for cb in callbacks
    )
    return f"<h2>Pending callbacks</h2>\n{forms}"


def _operations(operations: Sequence[Operation], events: Sequence[HistoryEvent]) -> str:
    """Every operation with what it holds: input, result, error, attempts, deadlines."""
    shown = [op for op in operations if op.type is not OperationType.EXECUTION]
    if not shown:
        return ""
    names = {op.id: op.name or op.id[:12] for op in operations}
    rows = "\n".join(_operation_row(op, names, events) for op in shown)
    return (
        '<h2>Operation details</h2><table class="operations"><thead><tr><th>Name</th>'
        "<th>Type</th><th>Status</th><th>Parent</th><th>Started</th><th>Details</th></tr>"
        f"</thead><tbody>\n{rows}\n</tbody></table>"
    )


def _operation_row(op: Operation, names: Mapping[str, str], events: Sequence[HistoryEvent]) -> str:
    kind = op.type.value if op.sub_type is None else f"{op.type.value} ({op.sub_type})"
    details: list[str] = []
    if op.step_details is not None:
        if (op.step_details.attempt or 0) > 1:
            details.append(f"attempt {_e(op.step_details.attempt)}")
        if op.step_details.next_attempt_timestamp is not None:
            details.append(f"next attempt at {_e(_time(op.step_details.next_attempt_timestamp))}")
    if op.wait_details is not None and op.wait_details.scheduled_end_timestamp is not None:
        details.append(f"until {_e(_time(op.wait_details.scheduled_end_timestamp))}")
    if op.callback_details is not None and op.callback_details.callback_id:
        details.append(f"callback <code>{_e(op.callback_details.callback_id)}</code>")
    details.extend(_retries(op.id, events))
    given = _input_of(op.id, events)
    if given is not None:
        details.append(f'input <pre class="input">{_e(_pretty(given))}</pre>')
    if op.result is not None:
        details.append(f'result <pre class="result">{_e(_pretty(op.result))}</pre>')
    error = op.error
    if error is not None:
        details.append(_error(error))
    return (
        f'<tr data-operation="{_e(op.name or op.id)}" data-status="{_e(op.status.value)}">'
        f"<td>{_e(op.name or op.id[:12])}</td><td>{_e(kind)}</td><td>{_badge(op.status.value)}</td>"
        f"<td>{_e(names.get(op.parent_id or '', ''))}</td><td>{_e(_time(op.start_timestamp))}</td>"
        f"<td>{'<br>'.join(details)}</td></tr>"
    )


def _input_of(operation_id: str, events: Sequence[HistoryEvent]) -> str | None:
    """The input an operation's events carry (a chained invoke's payload), if any."""
    for event in events:
        if event.get("Id") == operation_id:
            details: dict[str, Any] = event.get(f"{event['EventType']}Details") or {}
            payload = (details.get("Input") or {}).get("Payload")
            if payload is not None:
                return str(payload)
    return None


def _retries(operation_id: str, events: Sequence[HistoryEvent]) -> list[str]:
    """Each failed attempt of a step with its error and the delay before the next one."""
    lines = []
    for event in events:
        if event.get("Id") != operation_id or event["EventType"] != "StepFailed":
            continue
        details: dict[str, Any] = event.get("StepFailedDetails") or {}
        retry = details.get("RetryDetails") or {}
        payload = (details.get("Error") or {}).get("Payload") or {}
        text = f"attempt {retry.get('CurrentAttempt', '?')} failed: "
        text += f"{payload.get('ErrorType') or 'Error'}: {payload.get('ErrorMessage') or ''}"
        if "NextAttemptDelaySeconds" in retry:
            text += f" (retry in {retry['NextAttemptDelaySeconds']}s)"
        lines.append(f'<span class="retry">{_e(text)}</span>')
    return lines
