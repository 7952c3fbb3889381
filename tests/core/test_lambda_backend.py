"""LambdaBackend against botocore's Stubber, which validates requests against boto3's model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from durable_core import CheckpointError, LambdaBackend
from durable_core.types import (
    ErrorObject,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
    StepOptions,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/e/1"


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )


def test_checkpoint_sends_a_request_valid_for_the_service_model(client: Any) -> None:
    update = OperationUpdate(
        id="abc",
        type=OperationType.STEP,
        action=OperationAction.RETRY,
        name="charge",
        sub_type="Step",
        error=ErrorObject(error_message="boom", error_type="ValueError"),
        step_options=StepOptions(next_attempt_delay_seconds=5),
    )
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with Stubber(client) as stub:
        stub.add_response(
            "checkpoint_durable_execution",
            {
                "CheckpointToken": "t2",
                "NewExecutionState": {
                    "Operations": [
                        {
                            "Id": "abc",
                            "Type": "STEP",
                            "Status": "PENDING",
                            "StartTimestamp": started,
                            "StepDetails": {"Attempt": 1, "NextAttemptTimestamp": started},
                        }
                    ]
                },
            },
            {
                "DurableExecutionArn": ARN,
                "CheckpointToken": "t1",
                "Updates": [
                    {
                        "Id": "abc",
                        "Type": "STEP",
                        "Action": "RETRY",
                        "Name": "charge",
                        "SubType": "Step",
                        "Error": {"ErrorMessage": "boom", "ErrorType": "ValueError"},
                        "StepOptions": {"NextAttemptDelaySeconds": 5},
                    }
                ],
                "ClientToken": "c1",
            },
        )
        response = LambdaBackend(client).checkpoint(ARN, "t1", [update], "c1")
    assert response.checkpoint_token == "t2"
    (op,) = response.operations
    assert op.status is OperationStatus.PENDING
    assert op.step_details and op.step_details.attempt == 1
    assert op.start_timestamp == started


def test_get_state_pages(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_durable_execution_state",
            {
                "Operations": [
                    {
                        "Id": "e",
                        "Type": "EXECUTION",
                        "Status": "STARTED",
                        "StartTimestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                    }
                ],
                "NextMarker": "m2",
            },
            {"DurableExecutionArn": ARN, "CheckpointToken": "t", "Marker": "m1", "MaxItems": 1000},
        )
        page = LambdaBackend(client).get_state(ARN, "t", "m1")
    assert [op.id for op in page.operations] == ["e"]
    assert page.next_marker == "m2"


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("TooManyRequestsException", 429, True),
        ("ServiceException", 500, True),
        ("InvalidParameterValueException", 400, False),
        ("ResourceNotFoundException", 404, False),
    ],
)
def test_errors_are_classified(client: Any, code: str, status: int, retryable: bool) -> None:
    with Stubber(client) as stub:
        stub.add_client_error(
            "checkpoint_durable_execution", service_error_code=code, http_status_code=status
        )
        with pytest.raises(CheckpointError) as info:
            LambdaBackend(client).checkpoint(ARN, "t", [])
    assert info.value.retryable is retryable
    assert info.value.error_code == code


def test_endpoint_url_builds_a_client() -> None:
    backend = LambdaBackend(endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9"
