"""The conformance suite's comparison rules, implemented for our local service.

A requirement states an expected result and an expected history with a few markers:

* ``'*'`` accepts any value, ``{}`` accepts any value (the key must still be present);
* ``${NAME}`` (the whole value) binds to the first actual value it meets, and every
  later ``${NAME}`` must equal it; names bound up front (``Variables``) are checked;
* ``${/regex/}`` (the whole value) requires ``re.search`` to match ``str(actual)``;
* ``${NAME}`` inside a longer string is replaced by its bound value before a literal
  comparison (``'"${INPUT_1}"'`` is a JSON-encoded bound string);
* ``${GEN_STR:N}`` in ``Variables`` generates N random lowercase letters and digits.

Expected events are matched to actual events by ``EventId``; extra actual events and
extra actual keys are ignored, a missing key is a mismatch. Each function returns the
list of mismatches: an empty list means the expectation holds.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "Bindings",
    "match_history",
    "match_result",
    "match_value",
    "resolve_variables",
]

_WHOLE_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_WHOLE_REGEX = re.compile(r"^\$\{/(.+)/\}$")
_EMBEDDED_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GEN_STR = re.compile(r"^\$\{GEN_STR:(\d+)\}$")
_ALPHABET = string.ascii_lowercase + string.digits


class Bindings:
    """Placeholder values of one requirement run: variables first, then what histories bind."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def substitute(self, data: Any) -> Any:
        """``data`` with every bound ``${NAME}`` replaced; unbound ones are left as they are."""
        if isinstance(data, str):
            whole = _WHOLE_PLACEHOLDER.match(data)
            if whole and whole.group(1) in self.values:
                return self.values[whole.group(1)]
            return _EMBEDDED_PLACEHOLDER.sub(
                lambda m: str(self.values.get(m.group(1), m.group(0))), data
            )
        if isinstance(data, Mapping):
            return {key: self.substitute(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.substitute(item) for item in data]
        return data


def resolve_variables(variables: Mapping[str, Any] | None) -> Bindings:
    """The bindings a requirement's ``Variables`` block defines (``${GEN_STR:N}`` generated)."""
    values: dict[str, Any] = {}
    for name, spec in (variables or {}).items():
        generated = _GEN_STR.match(spec) if isinstance(spec, str) else None
        if generated:
            values[name] = "".join(secrets.choice(_ALPHABET) for _ in range(int(generated[1])))
        else:
            values[name] = spec if isinstance(spec, str) else str(spec)
    return Bindings(values)


def match_value(expected: Any, actual: Any, bindings: Bindings, path: str = "$") -> list[str]:
    """Mismatches between one expected value (with markers) and the actual value."""
    if expected == "*" or (isinstance(expected, Mapping) and not expected):
        return []
    if isinstance(expected, str):
        regex = _WHOLE_REGEX.match(expected)
        if regex:
            if re.search(regex.group(1), str(actual)):
                return []
            return [f"{path}: {actual!r} does not match /{regex.group(1)}/"]
        placeholder = _WHOLE_PLACEHOLDER.match(expected)
        if placeholder:
            name = placeholder.group(1)
            if name not in bindings.values:
                bindings.values[name] = actual
                return []
            bound = bindings.values[name]
            if bound == actual:
                return []
            return [f"{path}: ${{{name}}} is bound to {bound!r}, got {actual!r}"]
        expected = bindings.substitute(expected)
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += match_value(value, actual[key], bindings, f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected a list of {len(expected)}, got {actual!r}"]
        problems = []
        for index, (item, actual_item) in enumerate(zip(expected, actual, strict=True)):
            problems += match_value(item, actual_item, bindings, f"{path}[{index}]")
        return problems
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def match_history(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    bindings: Bindings,
) -> list[str]:
    """Mismatches between the expected events and the actual history, matched by EventId."""
    by_id = {event.get("EventId"): event for event in actual}
    problems: list[str] = []
    for event in expected:
        event_id = event.get("EventId")
        label = f"event {event_id} ({event.get('EventType')})"
        found = by_id.get(event_id)
        if found is None:
            problems.append(f"{label}: no actual event with this EventId")
        else:
            problems += match_value(event, found, bindings, label)
    return problems


def match_result(
    expected: Mapping[str, Any],
    status: str,
    result_payload: str | None,
    error: Mapping[str, Any] | None,
    bindings: Bindings,
) -> list[str]:
    """Mismatches between ``ExpectedResult`` and the execution's status, result and error.

    The result is compared only when the execution succeeded and ``Result`` is stated
    (a stated ``Result:`` with no value expects ``null``): the payload is decoded as JSON
    once and compared for equality with the expected value, bound placeholders replaced.
    An ``Error`` block, when stated, is matched with the history rules.
    """
    expected_status = expected.get("ExecutionStatus")
    if expected_status and expected_status != status:
        return [f"ExecutionStatus: expected {expected_status!r}, got {status!r}"]
    problems: list[str] = []
    if "Error" in expected:
        problems += match_value(expected["Error"], error or {}, bindings, "Error")
    if status != "SUCCEEDED" or "Result" not in expected:
        return problems
    actual: Any = None
    if result_payload is not None:
        try:
            actual = json.loads(result_payload)
        except json.JSONDecodeError:
            actual = result_payload
    wanted = bindings.substitute(expected["Result"])
    if wanted != actual:
        problems.append(f"Result: expected {wanted!r}, got {actual!r}")
    return problems
