"""The requirement-file reader on the YAML shapes the requirements use.

Expected values are what YAML 1.1's safe loader produces for the same text.
"""

from __future__ import annotations

import pytest

from tests.conformance._yaml import load_yaml

_DOCUMENT = """---
# 1.5: a comment
description: Two words
  continued here
handler: |
  Line one.
    Indented `code`: kept.
Input:
Variables:
  INPUT_1: ${GEN_STR:8}
ExpectedResult:
  ExecutionStatus: SUCCEEDED
  Result: [a, 'b c', 3]
CallbackActions:
  - CallbackName: '*'
    Delay: 1
    Payload:
      ErrorType: RejectedError
ExpectedExecutionHistory:
  - EventType: StepSucceeded
    EventId: 3
    StepSucceededDetails:
      Result:
        Payload: "\\"${INPUT_1}\\""
        Truncated: false
      Error: {}
  - [1, 2.5]
"""


def test_reads_the_requirement_shapes() -> None:
    assert load_yaml(_DOCUMENT) == {
        "description": "Two words continued here",
        "handler": "Line one.\n  Indented `code`: kept.\n",
        "Input": None,
        "Variables": {"INPUT_1": "${GEN_STR:8}"},
        "ExpectedResult": {"ExecutionStatus": "SUCCEEDED", "Result": ["a", "b c", 3]},
        "CallbackActions": [
            {"CallbackName": "*", "Delay": 1, "Payload": {"ErrorType": "RejectedError"}}
        ],
        "ExpectedExecutionHistory": [
            {
                "EventType": "StepSucceeded",
                "EventId": 3,
                "StepSucceededDetails": {
                    "Result": {"Payload": '"${INPUT_1}"', "Truncated": False},
                    "Error": {},
                },
            },
            [1, 2.5],
        ],
    }


@pytest.mark.parametrize("text", ["key: [1, 2", "key: 'open", "just a line\n"])
def test_rejects_what_it_does_not_understand(text: str) -> None:
    with pytest.raises(ValueError):
        load_yaml(text)
