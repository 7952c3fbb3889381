"""Helpers shared by the HTTP and end-to-end tests: a boto3 client, starting, waiting."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import boto3
from botocore.config import Config

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT"}


def lambda_client(endpoint_url: str, *, validate: bool = True) -> Any:
    """A plain boto3 ``lambda`` client, dummy credentials, no client-side retries."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate),
    )


def start_execution(endpoint_url: str, function: str, value: Any, name: str) -> str:
    """``POST /start-durable-execution`` with the body dex-local-runner's CLI sends."""
    body = {
        "AccountId": "123456789012",
        "FunctionName": function,
        "FunctionQualifier": "$LATEST",
        "ExecutionName": name,
        "ExecutionTimeoutSeconds": 300,
        "ExecutionRetentionPeriodDays": 7,
        "Input": json.dumps(value),
    }
    request = urllib.request.Request(
        endpoint_url + "/start-durable-execution",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        arn: str = json.loads(response.read())["ExecutionArn"]
    return arn


def wait_for_end(client: Any, arn: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll GetDurableExecution until the execution ends (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = client.get_durable_execution(DurableExecutionArn=arn)
        if answer["Status"] in TERMINAL:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{arn} still {answer['Status']} after {timeout} s")
        time.sleep(0.05)


def wait_for_operation(
    client: Any, arn: str, event_type: str, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll the history until an event of ``event_type`` appears; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        events = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        for event in events:
            if event["EventType"] == event_type:
                found: dict[str, Any] = event
                return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {event_type} in {arn} after {timeout} s")
        time.sleep(0.05)
