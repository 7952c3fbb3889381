"""The Lambda event MemoryBackend builds, as AWS's SDK reads it."""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    durable_execution,
)
from aws_durable_execution_sdk_python.lambda_service import OperationType as AwsOperationType
from durable_core import MemoryBackend

from tests.compat.conftest import aws_invoker, execution_id_of, start


def test_execution_operation_id_matches_arn() -> None:
    """AWS's SDK finds the EXECUTION operation by the last segment of the execution ARN."""
    backend = MemoryBackend()
    event = backend.start_execution({"x": 1}, name="my-run")
    arn = event["DurableExecutionArn"]
    parsed = DurableExecutionInvocationInput.from_json_dict(event)
    executions = [
        op
        for op in parsed.initial_execution_state.operations
        if op.operation_type is AwsOperationType.EXECUTION
    ]
    assert len(executions) == 1
    assert executions[0].operation_id == execution_id_of(arn)
    assert "/durable-execution/my-run/" in arn
    assert executions[0].execution_details is not None
    assert executions[0].execution_details.input_payload == '{"x": 1}'


def test_aws_sdk_receives_the_input() -> None:
    seen: list[Any] = []

    @durable_execution
    def handler(event: Any, ctx: Any) -> Any:
        seen.append(event)
        return event["n"] * 2

    run = start({"n": 21})
    response = run.invoke(aws_invoker(handler))
    assert response == {"Status": "SUCCEEDED", "Result": "42"}
    assert seen == [{"n": 21}]
