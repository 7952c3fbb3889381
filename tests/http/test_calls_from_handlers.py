"""A handler may call any route of the server while the scheduler invokes it.

The scheduler used to hold the server's lock (and the service's) around each
invocation, so a handler calling a route that takes that lock (a callback answer, a
describe, a new execution) waited for its own invocation to end: until the client's
read timeout. Every client here times out after a few seconds, so a regression fails
fast instead of hanging.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from durable_closure import run
from durable_core import DurableContext, LambdaBackend, StepContext, use_backend
from durable_core.execution import LambdaHandler
from durable_testing import LocalService
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution, wait_for_end

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def impatient_client(endpoint_url: str) -> Any:
    """A boto3 client that gives up after 3 s without retrying: a stalled call fails."""
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=3, read_timeout=3, retries={"total_max_attempts": 1}),
    )


def self_approving(endpoint_url: str) -> LambdaHandler:
    """Answers its own callback, describes itself and starts another execution, all over
    HTTP from inside its steps; its checkpoints go over HTTP too (``LambdaBackend``)."""

    def workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        def submit(callback_id: str, _: StepContext) -> None:
            impatient_client(endpoint_url).send_durable_execution_callback_success(
                CallbackId=callback_id, Result="approved"
            )

        def describe(step: StepContext) -> str:
            arn = event["arn_of_other"]
            answer = impatient_client(endpoint_url).get_durable_execution(DurableExecutionArn=arn)
            return str(answer["Status"])

        def start_another(_: StepContext) -> str:
            return start_execution(endpoint_url, "echo", {"from": "inside"}, "started-inside")

        decision = ctx.wait_for_callback(submit, name="approval")
        other_status = ctx.step(describe, name="describe")
        started = ctx.step(start_another, name="start")
        return {"decision": decision, "other": other_status, "started": started}

    backend = LambdaBackend(
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    inner = run(workflow)

    def handler(event: Any, context: Any) -> Any:
        with use_backend(backend):
            return inner(event, context)

    return handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaApiServer]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    service = LocalService()
    with LambdaApiServer(service) as running:
        service.register("approve", self_approving(running.endpoint_url))
        service.register("echo", run(lambda event, ctx: event))
        yield running


def test_a_handler_calls_back_into_the_server_during_its_invocation(
    server: LambdaApiServer,
) -> None:
    client = lambda_client(server.endpoint_url)
    other = start_execution(server.endpoint_url, "echo", {"n": 1}, "other")
    assert wait_for_end(client, other, timeout=10)["Status"] == "SUCCEEDED"

    arn = start_execution(server.endpoint_url, "approve", {"arn_of_other": other}, "self")
    described = wait_for_end(client, arn, timeout=10)

    assert described["Status"] == "SUCCEEDED", described.get("Error")
    result = json.loads(described["Result"])
    assert result["decision"] == "approved"
    assert result["other"] == "SUCCEEDED"
    started = wait_for_end(client, result["started"], timeout=10)
    assert json.loads(started["Result"]) == {"from": "inside"}
    history = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    failed = [e["EventType"] for e in history if e["EventType"].endswith("Failed")]
    assert failed == [], "no step waited for its own invocation and timed out"
