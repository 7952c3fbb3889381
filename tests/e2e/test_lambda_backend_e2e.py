"""``LambdaBackend`` over real HTTP: against our ``LambdaApiServer`` and AWS's ``dex-local-runner``.

The same workflow (steps, a retried step, a wait, a child context) runs through boto3
against both services; its expected result is arithmetic on the input. Throttling and
5xx answers injected by the server are retried by the checkpointer without losing or
repeating an update; a 4xx ends the invocation with the error, and the service's next
invocation carries on from the last persisted checkpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    Jitter,
    RetryPolicy,
    StepConfig,
    StepContext,
)
from durable_testing.http import LambdaApiServer

from tests.e2e.conftest import dex_local_runner, events_of, names_of, our_server, through
from tests.http.support import lambda_client, start_execution, wait_for_end

RETRY_AFTER_1S = StepConfig[int](
    retry=RetryPolicy(max_attempts=3, initial_delay_seconds=1, jitter=Jitter.NONE)
)


def flaky(step: StepContext) -> int:
    if step.attempt == 1:
        raise ConnectionError("the first attempt always times out")
    return 10


def workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    doubled = ctx.step(lambda _: event["n"] * 2, name="double")
    ten = ctx.step(flaky, name="flaky", config=RETRY_AFTER_1S)
    ctx.wait(1, name="pause")
    total = ctx.run_in_child_context(
        lambda child: child.step(lambda _: doubled + ten, name="sum"), name="combine"
    )
    return {"total": total}


handler = run(workflow)


@pytest.fixture
def server() -> Iterator[LambdaApiServer]:
    with our_server({"wf": handler}) as running:
        yield running


def test_workflow_runs_through_lambda_backend_on_our_server(server: LambdaApiServer) -> None:
    client = lambda_client(server.endpoint_url)
    arn = start_execution(server.endpoint_url, "wf", {"n": 4}, "ours")
    described = wait_for_end(client, arn)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == {"total": 4 * 2 + 10}
    events = events_of(client, arn)
    assert names_of(events, "StepSucceeded") == ["double", "flaky", "sum"]
    assert names_of(events, "StepFailed") == ["flaky"]
    assert names_of(events, "ContextSucceeded") == ["combine"]
    assert names_of(events, "WaitSucceeded") == ["pause"]


@pytest.mark.parametrize("status", [429, 500])
def test_throttling_and_5xx_are_retried_without_losing_an_update(
    server: LambdaApiServer, status: int
) -> None:
    client = lambda_client(server.endpoint_url)
    server.faults.fail_next(3, status=status)
    arn = start_execution(server.endpoint_url, "wf", {"n": 1}, f"faulty-{status}")
    described = wait_for_end(client, arn)
    assert server.faults.answered == 3
    assert described["Status"] == "SUCCEEDED"
    assert json.loads(described["Result"]) == {"total": 12}
    events = events_of(client, arn)
    # every update applied exactly once, and no invocation ended on a checkpoint error
    assert names_of(events, "StepSucceeded") == ["double", "flaky", "sum"]
    completed = [e for e in events if e["EventType"] == "InvocationCompleted"]
    assert all("Error" not in e["InvocationCompletedDetails"] for e in completed)


def test_a_4xx_ends_the_invocation_and_the_next_one_carries_on(server: LambdaApiServer) -> None:
    client = lambda_client(server.endpoint_url)
    server.faults.fail_next(1, status=400)
    arn = start_execution(server.endpoint_url, "wf", {"n": 2}, "rejected-once")
    described = wait_for_end(client, arn)
    assert server.faults.answered == 1  # a 4xx is not retried
    events = events_of(client, arn)
    first = next(e for e in events if e["EventType"] == "InvocationCompleted")
    error = first["InvocationCompletedDetails"]["Error"]["Payload"]
    assert error["ErrorType"] == "durable_core.errors.CheckpointError"
    assert "InvalidParameterValueException" in error["ErrorMessage"]
    assert described["Status"] == "SUCCEEDED"
    assert json.loads(described["Result"]) == {"total": 14}
    assert names_of(events, "StepSucceeded") == ["double", "flaky", "sum"]


def test_a_stale_checkpoint_token_is_a_clear_non_retryable_error(server: LambdaApiServer) -> None:
    def stale_token(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handler({**event, "CheckpointToken": "c3RhbGU="}, context)

    server.service.register("stale", through(server.endpoint_url, stale_token))
    client = lambda_client(server.endpoint_url)
    arn = start_execution(server.endpoint_url, "stale", {"n": 1}, "stale")
    described = wait_for_end(client, arn)
    assert described["Status"] == "FAILED"
    assert "Invalid checkpoint token" in described["Error"]["ErrorMessage"]
    assert names_of(events_of(client, arn), "StepSucceeded") == []


def test_aws_sdk_handler_runs_against_our_server(
    server: LambdaApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_durable_execution_sdk_python.config import Duration
    from aws_durable_execution_sdk_python.execution import durable_execution

    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.endpoint_url)

    def workflow(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        doubled = ctx.step(lambda _: event["n"] * 2, name="double")
        ctx.wait(Duration.from_seconds(1), name="pause")
        return {"doubled": doubled}

    # Applied by call: AWS's durable_execution is typed as returning the handler even
    # when it is given options only, so mypy rejects it as a decorator factory.
    aws_handler = durable_execution(workflow, boto3_client=lambda_client(server.endpoint_url))
    server.service.register("aws", aws_handler)
    client = lambda_client(server.endpoint_url)
    arn = start_execution(server.endpoint_url, "aws", {"n": 21}, "aws-sdk")
    described = wait_for_end(client, arn)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == {"doubled": 42}
    assert names_of(events_of(client, arn), "StepSucceeded") == ["double"]


# -- AWS's dex-local-runner ----------------------------------------------------------


@pytest.fixture
def dex_runner() -> Iterator[str]:
    with dex_local_runner({"wf": handler}) as runner_url:
        yield runner_url


def test_workflow_runs_through_lambda_backend_on_dex_local_runner(dex_runner: str) -> None:
    client = lambda_client(dex_runner)
    arn = start_execution(dex_runner, "wf", {"n": 5}, "dex")
    described = wait_for_end(client, arn, timeout=30)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == {"total": 5 * 2 + 10}
    events = events_of(client, arn)
    assert names_of(events, "StepSucceeded") == ["double", "flaky", "sum"]
    assert names_of(events, "ContextSucceeded") == ["combine"]
