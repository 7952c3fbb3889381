"""The wire types against boto3's service model, and how they read what the service sends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import botocore.session
import pytest
from durable_core import types as wire
from durable_core.types import (
    ErrorObject,
    InvocationInput,
    Operation,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepDetails,
    WireFormatError,
)
from hypothesis import given
from hypothesis import strategies as st

LAMBDA = botocore.session.get_session().get_service_model("lambda")
SHAPES = [
    value
    for value in vars(wire).values()
    if isinstance(value, type) and issubclass(value, wire.WireModel) and value is not wire.WireModel
]
# boto3 shapes of the request/response structures; the event's own shapes are not in it.
EVENT_ONLY = {"InvocationInput", "InitialExecutionState"}
# The shapes this SDK sends (requests); the others it reads (answers).
SENT = {
    "OperationUpdate",
    "ErrorObject",
    "ContextOptions",
    "StepOptions",
    "WaitOptions",
    "CallbackOptions",
    "ChainedInvokeOptions",
}
BOTO_TYPES = {"string": str, "integer": int, "boolean": bool, "timestamp": dt.datetime}


@pytest.mark.parametrize("shape", [s for s in SHAPES if s.__name__ not in EVENT_ONLY], ids=str)
def test_every_field_is_a_member_of_boto3s_shape_of_the_same_type(shape: type) -> None:
    model = LAMBDA.shape_for(shape.__name__)
    for spec in shape._fields:  # type: ignore[attr-defined]
        member = model.members[spec.wire]
        value = shape.__dataclass_fields__[spec.name]
        annotation = str(value.type)
        if member.type_name == "structure":
            assert member.name in annotation, (shape, spec)
        elif member.type_name == "list":
            assert annotation.startswith("list["), (shape, spec)
        elif member.type_name == "string" and member.enum:
            # An enum: every value boto3 knows parses to a member.
            for value_name in member.enum:
                assert spec.parse(value_name) == value_name
        else:
            assert BOTO_TYPES[member.type_name].__name__ in annotation, (shape, spec)
    ours = {s.wire for s in shape._fields if s.default is dataclasses.MISSING}  # type: ignore[attr-defined]
    boto3 = set(model.required_members)
    if shape.__name__ in SENT:
        assert boto3 <= ours  # never build a request the service rejects
    else:
        assert ours <= boto3  # never reject what the service may send


def test_a_boto3_answer_and_the_json_event_give_the_same_operation() -> None:
    when = dt.datetime(2026, 11, 28, 1, 2, 3, 456000, tzinfo=dt.UTC)
    millis = 1795827723456  # the same instant in Unix milliseconds, as the JSON event has it
    assert dt.datetime.fromtimestamp(millis / 1000, dt.UTC) == when
    boto = {
        "Id": "a1",
        "Type": "STEP",
        "Status": "SUCCEEDED",
        "StartTimestamp": when,
        "StepDetails": {"Attempt": 2, "Result": "7", "NextAttemptTimestamp": when},
        "SomethingNew": {"the service": "may add fields"},
    }
    event = json.loads(
        json.dumps(
            {
                **boto,
                "StartTimestamp": millis,
                "StepDetails": {"Attempt": 2, "Result": "7", "NextAttemptTimestamp": millis},
            }
        )
    )
    iso = {**boto, "StartTimestamp": "2026-11-28T01:02:03.456Z"}
    expected = Operation(
        id="a1",
        type=OperationType.STEP,
        status=OperationStatus.SUCCEEDED,
        start_timestamp=when,
        step_details=StepDetails(attempt=2, result="7", next_attempt_timestamp=when),
    )
    assert Operation.from_wire(boto) == expected
    assert Operation.from_wire(event) == expected
    assert Operation.from_wire(iso).start_timestamp == when
    assert expected.to_event_json()["StartTimestamp"] == millis
    assert expected.to_wire()["StartTimestamp"] == "2026-11-28T01:02:03.456000Z"
    assert Operation.from_wire(expected.to_wire()) == expected


@pytest.mark.parametrize(
    ("record", "path", "problem"),
    [
        ("not an object", "", "expected an object, got str"),
        ({"Type": "STEP", "Status": "STARTED"}, "Id", "required"),
        ({"Id": "", "Type": "STEP", "Status": "STARTED"}, "Id", "non-empty string"),
        ({"Id": "a", "Type": "SLEEP", "Status": "STARTED"}, "Type", "is not a OperationType"),
        ({"Id": "a", "Type": "STEP", "Status": 3}, "Status", "is not a OperationStatus"),
        ({"Id": 5, "Type": "STEP", "Status": "STARTED"}, "Id", "non-empty string"),
        (
            {"Id": "a", "Type": "STEP", "Status": "STARTED", "StepDetails": {"Attempt": "2"}},
            "StepDetails.Attempt",
            "expected an integer, got str",
        ),
        (
            {"Id": "a", "Type": "STEP", "Status": "STARTED", "StepDetails": {"Error": []}},
            "StepDetails.Error",
            "expected an object, got list",
        ),
        (
            {"Id": "a", "Type": "STEP", "Status": "STARTED", "EndTimestamp": "yesterday"},
            "EndTimestamp",
            "expected a timestamp",
        ),
        (
            {"Id": "a", "Type": "STEP", "Status": "STARTED", "EndTimestamp": 10**30},
            "EndTimestamp",
            "expected a timestamp",
        ),
        (
            {
                "Id": "a",
                "Type": "CONTEXT",
                "Status": "STARTED",
                "ContextDetails": {"ReplayChildren": "yes"},
            },
            "ContextDetails.ReplayChildren",
            "expected a boolean, got str",
        ),
    ],
)
def test_a_malformed_record_names_the_field_and_the_problem(
    record: Any, path: str, problem: str
) -> None:
    with pytest.raises(WireFormatError) as caught:
        Operation.from_wire(record)
    assert caught.value.path == (tuple(path.split(".")) if path else ())
    assert problem in caught.value.problem


def test_null_fields_take_their_defaults_and_a_whole_number_float_is_an_integer() -> None:
    event = {
        "DurableExecutionArn": "arn:x",
        "CheckpointToken": "t",
        "InitialExecutionState": None,
        "UpdatedOperationIds": None,
    }
    parsed = InvocationInput.from_wire(event)
    assert parsed.initial_execution_state.operations == []
    assert parsed.updated_operation_ids == []
    assert StepDetails.from_wire({"Attempt": 3.0}).attempt == 3
    with pytest.raises(WireFormatError):
        StepDetails.from_wire({"Attempt": 3.5})


def test_an_update_writes_boto3s_request_shape() -> None:
    update = OperationUpdate(
        id="a",
        type=OperationType.STEP,
        action=wire.OperationAction.FAIL,
        error=ErrorObject(error_type="E", stack_trace=["line"]),
    )
    request = update.to_wire()
    assert request == {
        "Id": "a",
        "Type": "STEP",
        "Action": "FAIL",
        "Error": {"ErrorType": "E", "StackTrace": ["line"]},
    }
    # botocore validates it against the CheckpointDurableExecution input shape.
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(
        {"DurableExecutionArn": "arn", "CheckpointToken": "t", "Updates": [request]},
        LAMBDA.operation_model("CheckpointDurableExecution").input_shape,
    )
    assert not report.has_errors(), report.generate_report()
    assert OperationUpdate.from_wire(request) == update


@given(st.integers(min_value=20_000_000_001, max_value=253_402_300_799_999))
def test_event_milliseconds_parse_to_the_exact_instant(millis: int) -> None:
    """Exact to the millisecond up to the year 9999, on the inline path and past it."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    op = Operation.from_wire(
        {"Id": "a", "Type": "WAIT", "Status": "STARTED", "EndTimestamp": millis}
    )
    assert op.end_timestamp == epoch + dt.timedelta(milliseconds=millis)
    assert op.to_event_json()["EndTimestamp"] == millis
