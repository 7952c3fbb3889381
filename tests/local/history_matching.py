"""The conformance suite's rule for comparing histories: tests state expectations as AWS does.

Expected events are matched by ``EventId``; every expected key must be present in the
actual event; ``'*'`` and ``{}`` accept any value; ``${NAME}`` placeholders bind to the
first value they meet and must be equal wherever they appear again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _match(expected: Any, actual: Any, bindings: dict[str, Any], path: str) -> list[str]:
    if expected == "*" or expected == {}:
        return []
    if isinstance(expected, str) and expected.startswith("${") and expected.endswith("}"):
        bound = bindings.setdefault(expected, actual)
        return [] if bound == actual else [f"{path}: {expected} is {bound!r}, got {actual!r}"]
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += _match(value, actual[key], bindings, f"{path}.{key}")
        return problems
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def history_mismatches(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Every difference between the expected events and the actual history (empty: it matches)."""
    by_id = {event["EventId"]: event for event in actual}
    bindings: dict[str, Any] = {}
    problems: list[str] = []
    for event in expected:
        found = by_id.get(event["EventId"])
        if found is None:
            problems.append(f"event {event['EventId']} ({event['EventType']}): missing")
        else:
            problems += _match(event, found, bindings, f"event {event['EventId']}")
    return problems
