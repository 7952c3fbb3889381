"""Execution graphs drawn from histories: the mermaid text and the offline HTML page.

Two histories: one recorded by the local service for a real workflow (a step that
fails once and is retried, a wait, a child context with a step inside), and one
written by hand in the ``GetDurableExecutionHistory`` shape for what the core SDK
does not record yet (callbacks, parallel branches, a failed and a still-running
operation) with names that need escaping. Expected trees come from the events'
``ParentId``; expected durations from the wait's duration and the retry's delay.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, RetryPolicy, StepConfig, StepContext
from durable_testing import LocalService
from durable_testing.graph import format_seconds, render_html, render_mermaid

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)


def recorded_history() -> list[dict[str, Any]]:
    def flaky(step: StepContext) -> str:
        if step.attempt < 2:
            raise ValueError("card declined")
        return "charged"

    def workflow(event: dict[str, Any], ctx: DurableContext) -> str:
        ctx.step(lambda _: "order", name="load")
        ctx.step(flaky, name="charge", config=StepConfig(retry=RetryPolicy(max_attempts=3)))
        ctx.wait(60, name="cool-off")
        return ctx.run_in_child_context(lambda c: c.step(lambda _: "ok", name="pack"), name="ship")

    service = LocalService()
    service.register("workflow", run(workflow))
    result = service.run("workflow", {})
    assert result.status.value == "SUCCEEDED"
    return result.history


def _event(
    n: int, event_type: str, seconds: float, op: str | None, **fields: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "EventType": event_type,
        "EventId": n,
        "EventTimestamp": T0 + dt.timedelta(seconds=seconds),
    }
    if op is not None:
        event["Id"] = op
    event[f"{event_type}Details"] = fields.pop("details", {})
    return event | fields


def handwritten_history() -> list[dict[str, Any]]:
    """A parallel of two branches (one waits for a callback), a failed step, a running step."""
    return [
        _event(1, "ExecutionStarted", 0, "exec", Name="fan-out"),
        _event(2, "ContextStarted", 0, "par", Name="fan <out> & \"in\"", SubType="Parallel"),
        _event(3, "ContextStarted", 0, "b0", Name="branch: a", ParentId="par",
               SubType="ParallelBranch"),
        _event(4, "CallbackStarted", 1, "cb", Name="approval", ParentId="b0", SubType="Callback",
               details={"CallbackId": "abc"}),
        _event(5, "ContextStarted", 1, "b1", Name="branch: b", ParentId="par",
               SubType="ParallelBranch"),
        _event(6, "StepStarted", 1, "s1", Name="risky", ParentId="b1", SubType="Step"),
        _event(7, "StepFailed", 2, "s1", Name="risky", ParentId="b1", SubType="Step",
               details={"Error": {"Payload": {"ErrorType": "ValueError"}},
                        "RetryDetails": {"CurrentAttempt": 1}}),
        _event(8, "ContextFailed", 2, "b1", Name="branch: b", ParentId="par",
               SubType="ParallelBranch"),
        _event(9, "InvocationCompleted", 2, None, details={
            "StartTimestamp": T0, "EndTimestamp": T0 + dt.timedelta(seconds=2), "RequestId": "r"}),
        _event(10, "CallbackSucceeded", 30, "cb", Name="approval", ParentId="b0",
               SubType="Callback"),
        _event(11, "ContextSucceeded", 31, "b0", Name="branch: a", ParentId="par",
               SubType="ParallelBranch"),
        _event(12, "StepStarted", 31, "s2", Name="still running", SubType="Step"),
    ]  # fmt: skip


HISTORIES = {"recorded": recorded_history, "handwritten": handwritten_history}


def operations(events: list[dict[str, Any]]) -> dict[str, tuple[str, str | None]]:
    """Id -> (name, parent id) of every operation, the execution excluded."""
    found: dict[str, tuple[str, str | None]] = {}
    for event in events:
        if "Id" in event and not event["EventType"].startswith("Execution"):
            found.setdefault(event["Id"], (event["Name"], event.get("ParentId")))
    return found


def mermaid_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.S)
    return [block.splitlines() for block in blocks]


def unescape_mermaid(label: str) -> str:
    for entity, char in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#amp;", "&")):
        label = label.replace(entity, char)
    return label


@pytest.mark.parametrize("history", HISTORIES.values(), ids=HISTORIES.keys())
def test_flowchart_has_each_operation_once_under_its_parent(history: Any) -> None:
    events = history()
    flowchart, _ = mermaid_blocks(render_mermaid(events))
    assert flowchart[0] == "flowchart TD"
    nodes = [re.fullmatch(r'\s+(n\d+)\["(.*)"\]', line) for line in flowchart]
    names = {m[1]: unescape_mermaid(m[2].split("<br/>")[0]) for m in nodes if m}
    edges = [re.fullmatch(r"\s+(n\d+) --> (n\d+)", line) for line in flowchart]
    parent_of = {names[m[2]]: names[m[1]] for m in edges if m}

    ops = operations(events)
    execution_name = next(e["Name"] for e in events if e["EventType"] == "ExecutionStarted")
    assert sorted(names.values()) == sorted([execution_name, *(n for n, _ in ops.values())])
    assert parent_of == {
        name: ops[parent][0] if parent else execution_name for name, parent in ops.values()
    }
    assert sum(1 for m in edges if m) == len(ops)


def test_flowchart_shows_final_status_and_attempts() -> None:
    flowchart, _ = mermaid_blocks(render_mermaid(handwritten_history()))
    labels = "\n".join(flowchart)
    assert "risky<br/>Step · FAILED" in labels
    assert "still running<br/>Step · STARTED" in labels
    assert "approval<br/>Callback · SUCCEEDED" in labels
    recorded, _ = mermaid_blocks(render_mermaid(recorded_history()))
    assert any("charge<br/>Step · SUCCEEDED · 2 attempts" in line for line in recorded)


def gantt_tasks(gantt: list[str]) -> dict[str, list[tuple[str, int, int]]]:
    """Section -> (task, start ms, end ms) of every task line."""
    sections: dict[str, list[tuple[str, int, int]]] = {}
    current = ""
    for line in gantt[1:]:
        if line.strip().startswith("section "):
            current = line.strip().removeprefix("section ")
            sections[current] = []
        task = re.fullmatch(r"\s+([^:]+) :(?:\w+, )?(\d+), (\d+)", line)
        if task:
            sections[current].append((task[1].strip(), int(task[2]), int(task[3])))
    return sections


def test_gantt_shows_retry_backoff_and_wait_for_their_durations() -> None:
    events = recorded_history()
    _, gantt = mermaid_blocks(render_mermaid(events))
    assert gantt[0] == "gantt" and "    dateFormat x" in gantt
    tasks = gantt_tasks(gantt)
    delay = next(
        e["StepFailedDetails"]["RetryDetails"]["NextAttemptDelaySeconds"]
        for e in events
        if e["EventType"] == "StepFailed"
    )
    charge = {name: end - start for name, start, end in tasks["charge"]}
    assert charge["retry backoff"] == delay * 1000
    assert {name for name, *_ in tasks["charge"]} == {
        "attempt 1 failed",
        "retry backoff",
        "attempt 2 succeeded",
    }
    assert [(name, end - start) for name, start, end in tasks["cool-off"]] == [("wait 60s", 60_000)]
    invocations = sum(1 for e in events if e["EventType"] == "InvocationCompleted")
    assert len(tasks["invocations"]) == invocations


def test_gantt_names_cannot_break_the_syntax() -> None:
    _, gantt = mermaid_blocks(render_mermaid(handwritten_history()))
    tasks = gantt_tasks(gantt)
    assert [name for name, *_ in tasks["approval"]] == ["callback"]
    assert "branch  a" in tasks
    assert sum(len(found) for found in tasks.values()) == len(gantt) - 4 - len(tasks)


class PageParser(HTMLParser):
    """Checks nesting as it goes; collects text and every attribute value."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("history", HISTORIES.values(), ids=HISTORIES.keys())
def test_html_is_well_formed_self_contained_and_names_every_operation(history: Any) -> None:
    events = history()
    page = render_html(events)
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert (parser.errors, parser.stack) == ([], [])
    assert page.startswith("<!DOCTYPE html>")
    text = "\n".join(parser.text)
    for name, _ in operations(events).values():
        assert name in text
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    assert [name for name, _ in parser.attributes if name in ("src", "href")] == []
    assert "://" not in page and "@import" not in page and "url(" not in page
    assert "svg" in parser.tags


class TreeParser(HTMLParser):
    """Name -> name of the enclosing list item, read from the nested lists of the tree."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[str | None] = []
        self.in_node = False
        self.parent_of: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.items.append(None)
        self.in_node = tag == "span" and "node" in (dict(attrs).get("class") or "").split()
        self.in_node = self.in_node and bool(self.items)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self.items.pop()
        self.in_node = False

    def handle_data(self, data: str) -> None:
        if self.in_node and self.items[-1] is None:
            self.items[-1] = data
            self.parent_of[data] = self.items[-2] if len(self.items) > 1 else None


@pytest.mark.parametrize("history", HISTORIES.values(), ids=HISTORIES.keys())
def test_html_tree_nests_each_operation_inside_its_parent(history: Any) -> None:
    events = history()
    parser = TreeParser()
    parser.feed(render_html(events))
    ops = operations(events)
    execution_name = next(e["Name"] for e in events if e["EventType"] == "ExecutionStarted")
    assert parser.parent_of == {
        execution_name: None,
        **{name: ops[parent][0] if parent else execution_name for name, parent in ops.values()},
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "0.25s"), (42, "42s"), (900, "15min"), (5_400, "1.5h"), (7 * 86_400, "7d")],
)
def test_durations_read_as_a_person_says_them(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
