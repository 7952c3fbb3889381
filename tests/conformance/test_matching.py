"""The matcher itself, on hand-made cases: what the conformance rules accept and reject."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.conformance.matching import (
    Bindings,
    match_history,
    match_result,
    match_value,
    resolve_variables,
)

_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _step_events(first_id: str, second_id: str) -> list[dict[str, Any]]:
    return [
        {"EventType": "ExecutionStarted", "EventId": 1, "Id": "exec", "EventTimestamp": _NOW},
        {
            "EventType": "StepStarted",
            "EventId": 2,
            "Id": first_id,
            "SubType": "Step",
            "EventTimestamp": _NOW,
            "StepStartedDetails": {},
        },
        {
            "EventType": "StepSucceeded",
            "EventId": 3,
            "Id": second_id,
            "SubType": "Step",
            "EventTimestamp": _NOW,
            "StepSucceededDetails": {"Result": {"Payload": '"abc"', "Truncated": False}},
        },
    ]


_EXPECTED = [
    {
        "EventType": "StepStarted",
        "EventId": 2,
        "Id": "${ID1}",
        "EventTimestamp": "*",
        "StepStartedDetails": {},
    },
    {
        "EventType": "StepSucceeded",
        "EventId": 3,
        "Id": "${ID1}",
        "EventTimestamp": "*",
        "StepSucceededDetails": {"Result": {"Payload": '"${INPUT}"'}},
    },
]


def test_placeholders_bind_on_first_sight_and_must_agree_after() -> None:
    bindings = Bindings({"INPUT": "abc"})
    assert match_history(_EXPECTED, _step_events("a1", "a1"), bindings) == []
    assert bindings.values["ID1"] == "a1"
    problems = match_history(_EXPECTED, _step_events("a1", "b2"), Bindings({"INPUT": "abc"}))
    assert len(problems) == 1 and "${ID1}" in problems[0] and "'b2'" in problems[0]


def test_embedded_placeholder_is_substituted_before_a_literal_compare() -> None:
    problems = match_history(_EXPECTED, _step_events("a", "a"), Bindings({"INPUT": "xyz"}))
    assert problems == [
        "event 3 (StepSucceeded).StepSucceededDetails.Result.Payload: "
        "expected '\"xyz\"', got '\"abc\"'"
    ]


def test_a_key_with_wildcard_or_empty_object_must_still_be_present() -> None:
    actual = {"EventId": 2, "Id": "x"}
    assert match_value({"Id": "*"}, actual, Bindings()) == []
    assert match_value({"StepStartedDetails": {}}, actual, Bindings()) == [
        "$.StepStartedDetails: missing"
    ]
    assert match_value({"Name": "*"}, actual, Bindings()) == ["$.Name: missing"]


def test_empty_object_accepts_any_value_of_a_present_key() -> None:
    assert match_value({"Error": {}}, {"Error": {"Payload": {"ErrorType": "E"}}}, Bindings()) == []
    assert match_value({"Error": {}}, {"Error": None}, Bindings()) == []


def test_nested_dicts_follow_the_same_rules() -> None:
    expected = {"D": {"Error": {"Payload": {"ErrorType": "${/.*TransientError$/}", "M": "*"}}}}
    ok = {"D": {"Error": {"Payload": {"ErrorType": "app.TransientError", "M": "boom"}}}}
    bad = {"D": {"Error": {"Payload": {"ErrorType": "ValueError", "M": "boom"}}}}
    assert match_value(expected, ok, Bindings()) == []
    assert len(match_value(expected, bad, Bindings())) == 1
    assert match_value(expected, {"D": {"Error": {"Payload": {"ErrorType": "x"}}}}, Bindings())


def test_regex_applies_to_the_string_form_of_numbers() -> None:
    assert match_value("${/^[0-5]$/}", 3, Bindings()) == []
    assert match_value("${/^[0-5]$/}", 7, Bindings()) != []
    assert match_value("${/^([0-9]|10)$/}", 10, Bindings()) == []


def test_literals_compare_by_value_and_type_of_json() -> None:
    assert match_value(2, 2, Bindings()) == []
    assert match_value(2, 3, Bindings()) != []
    assert match_value("2", 2, Bindings()) != []
    assert match_value(False, False, Bindings()) == []
    assert match_value([1, "*"], [1, 9], Bindings()) == []
    assert match_value([1, 2], [1, 2, 3], Bindings()) != []


def test_missing_event_id_is_a_mismatch_and_extra_actual_events_are_ignored() -> None:
    actual = _step_events("a", "a")
    assert match_history(_EXPECTED[:1], actual, Bindings()) == []
    expected = [{"EventType": "InvocationCompleted", "EventId": 9}]
    assert match_history(expected, actual, Bindings()) == [
        "event 9 (InvocationCompleted): no actual event with this EventId"
    ]


def test_gen_str_variables_are_random_of_the_stated_length() -> None:
    bindings = resolve_variables({"A": "${GEN_STR:8}", "B": "${GEN_STR:8}", "C": "fixed", "N": 4})
    assert re.fullmatch(r"[a-z0-9]{8}", bindings.values["A"])
    assert bindings.values["A"] != bindings.values["B"]
    assert bindings.values["C"] == "fixed" and bindings.values["N"] == "4"
    assert bindings.substitute({"x": ["Hello, ${C}!", "${UNBOUND}"]}) == {
        "x": ["Hello, fixed!", "${UNBOUND}"]
    }


@pytest.mark.parametrize(
    ("expected", "status", "payload", "ok"),
    [
        ({"ExecutionStatus": "SUCCEEDED", "Result": "Hello, W!"}, "SUCCEEDED", '"Hello, W!"', True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": "Hello, W!"}, "SUCCEEDED", '"Hello"', False),
        ({"ExecutionStatus": "SUCCEEDED", "Result": {"a": [1]}}, "SUCCEEDED", '{"a":[1]}', True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": None}, "SUCCEEDED", "null", True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": None}, "SUCCEEDED", None, True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": None}, "SUCCEEDED", '"x"', False),
        ({"ExecutionStatus": "SUCCEEDED"}, "SUCCEEDED", '"anything"', True),
        ({"ExecutionStatus": "SUCCEEDED"}, "FAILED", None, False),
        ({"ExecutionStatus": "FAILED", "Result": "ignored"}, "FAILED", None, True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": "${V}!"}, "SUCCEEDED", '"v1!"', True),
        ({"ExecutionStatus": "SUCCEEDED", "Result": "plain"}, "SUCCEEDED", "plain", True),
    ],
)
def test_result_rules(expected: dict[str, Any], status: str, payload: str | None, ok: bool) -> None:
    problems = match_result(expected, status, payload, None, Bindings({"V": "v1"}))
    assert (problems == []) is ok, problems


def test_result_error_block_uses_the_history_rules() -> None:
    error = {"ErrorType": "app.Rejected", "ErrorMessage": "no"}
    expected = {"ExecutionStatus": "FAILED", "Error": {"ErrorType": "${/Rejected$/}"}}
    assert match_result(expected, "FAILED", None, error, Bindings()) == []
    expected = {"ExecutionStatus": "FAILED", "Error": {"ErrorMessage": "yes"}}
    assert match_result(expected, "FAILED", None, error, Bindings()) != []
