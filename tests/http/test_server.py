"""A plain boto3 ``lambda`` client against ``LambdaApiServer``: every route, its errors, its checks.

Expected shapes and codes come from boto3's service model (what botocore parses and
raises), expected results from arithmetic on the workflow's input.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from durable_closure import run
from durable_core import DurableContext
from durable_core.types import OperationAction, OperationType, OperationUpdate
from durable_testing import LocalService
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution, wait_for_end, wait_for_operation


def add_then_wait(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    total = ctx.step(lambda _: event["a"] + event["b"], name="add")
    ctx.wait(3600, name="an-hour")
    return {"total": total}


def approval(service: LocalService) -> Any:
    """A raw handler that checkpoints a CALLBACK itself and ends with its outcome."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ops = {op["Id"]: op for op in event["InitialExecutionState"]["Operations"]}
        callback = ops.get("approval")
        if callback is None:
            start = OperationUpdate(
                id="approval", name="approval", type=OperationType.CALLBACK,
                action=OperationAction.START,
            )  # fmt: skip
            service.backend.checkpoint(
                event["DurableExecutionArn"], event["CheckpointToken"], [start]
            )
            return {"Status": "PENDING"}
        details = callback.get("CallbackDetails", {})
        if callback["Status"] == "SUCCEEDED":
            return {"Status": "SUCCEEDED", "Result": details.get("Result")}
        if callback["Status"] == "FAILED":
            return {"Status": "FAILED", "Error": details.get("Error")}
        return {"Status": "PENDING"}

    return handler


@pytest.fixture
def server() -> Iterator[LambdaApiServer]:
    service = LocalService()
    service.register("adder", run(add_then_wait))
    service.register("approval", approval(service))
    with LambdaApiServer(service) as running:
        yield running


@pytest.fixture
def client(server: LambdaApiServer) -> Any:
    return lambda_client(server.endpoint_url)


def code_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_an_execution_started_over_http_runs_and_is_described(
    server: LambdaApiServer, client: Any
) -> None:
    arn = start_execution(server.endpoint_url, "adder", {"a": 2, "b": 3}, "sum-1")
    described = wait_for_end(client, arn)
    assert described["Status"] == "SUCCEEDED"
    assert json.loads(described["Result"]) == {"total": 5}
    assert json.loads(described["InputPayload"]) == {"a": 2, "b": 3}
    assert described["DurableExecutionName"] == "sum-1"
    # botocore parses the epoch seconds of the rest-json body into datetimes
    assert isinstance(described["StartTimestamp"], dt.datetime)
    assert described["EndTimestamp"] - described["StartTimestamp"] >= dt.timedelta(hours=1)


def test_history_is_paged_and_timestamped(server: LambdaApiServer, client: Any) -> None:
    arn = start_execution(server.endpoint_url, "adder", {"a": 1, "b": 1}, "sum-2")
    wait_for_end(client, arn)
    events = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert [e["EventType"] for e in events] == [
        "ExecutionStarted",
        "StepStarted",
        "StepSucceeded",
        "WaitStarted",
        "InvocationCompleted",
        "WaitSucceeded",
        "InvocationCompleted",
        "ExecutionSucceeded",
    ]
    assert all(isinstance(e["EventTimestamp"], dt.datetime) for e in events)
    first = client.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=3)
    rest = client.get_durable_execution_history(DurableExecutionArn=arn, Marker=first["NextMarker"])
    assert first["Events"] + rest["Events"] == events
    assert "NextMarker" not in rest
    reverse = client.get_durable_execution_history(DurableExecutionArn=arn, ReverseOrder=True)
    assert reverse["Events"] == events[::-1]


def test_list_by_function_filters_by_name_and_status(server: LambdaApiServer, client: Any) -> None:
    done = start_execution(server.endpoint_url, "adder", {"a": 1, "b": 2}, "listed")
    wait_for_end(client, done)
    waiting = start_execution(server.endpoint_url, "approval", None, "waiting")
    wait_for_operation(client, waiting, "CallbackStarted")
    adders = client.list_durable_executions_by_function(FunctionName="adder")["DurableExecutions"]
    assert [(e["DurableExecutionName"], e["Status"]) for e in adders] == [("listed", "SUCCEEDED")]
    by_arn = client.list_durable_executions_by_function(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:approval",
        Statuses=["RUNNING"],
    )["DurableExecutions"]
    assert [e["DurableExecutionArn"] for e in by_arn] == [waiting]
    none = client.list_durable_executions_by_function(FunctionName="adder", Statuses=["FAILED"])
    assert none["DurableExecutions"] == []


def test_checkpoint_and_state_round_trip_with_fresh_tokens(
    server: LambdaApiServer, client: Any
) -> None:
    event = server.service.backend.start_execution({"n": 1}, name="raw")
    arn, token = event["DurableExecutionArn"], event["CheckpointToken"]
    update = {"Id": "s1", "Name": "double", "Type": "STEP", "Action": "SUCCEED", "Payload": "2"}
    answer = client.checkpoint_durable_execution(
        DurableExecutionArn=arn, CheckpointToken=token, Updates=[update]
    )
    (step,) = answer["NewExecutionState"]["Operations"]
    assert (step["Id"], step["Status"], step["StepDetails"]["Result"]) == ("s1", "SUCCEEDED", "2")
    assert isinstance(step["EndTimestamp"], dt.datetime)
    new_token = answer["CheckpointToken"]
    assert new_token != token
    state = client.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken=new_token)
    assert [op["Type"] for op in state["Operations"]] == ["EXECUTION", "STEP"]
    with pytest.raises(ClientError) as stale:
        client.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token)
    assert code_of(stale) == ("InvalidParameterValueException", 400)
    assert "checkpoint token" in str(stale.value).lower()


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"Id": "s1", "Type": "STEP", "Action": "JUMP"}, "Action"),
        ({"Id": "s1", "Type": "STEP"}, "Action: required"),
        ({"Id": "x" * 65, "Type": "STEP", "Action": "START"}, "Id: length 65"),
        ({"Id": "bad id!", "Type": "STEP", "Action": "START"}, "pattern"),
        (
            {"Id": "s1", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": "1"}},
            "integer",
        ),
    ],
)
def test_request_members_are_checked_against_the_model(
    server: LambdaApiServer, update: dict[str, Any], problem: str
) -> None:
    unchecked = lambda_client(server.endpoint_url, validate=False)
    event = server.service.backend.start_execution(None)
    with pytest.raises(ClientError) as rejected:
        unchecked.checkpoint_durable_execution(
            DurableExecutionArn=event["DurableExecutionArn"],
            CheckpointToken=event["CheckpointToken"],
            Updates=[update],
        )
    assert code_of(rejected) == ("InvalidParameterValueException", 400)
    assert problem in str(rejected.value)


def test_malformed_arn_is_rejected_by_its_pattern(client: Any) -> None:
    with pytest.raises(ClientError) as rejected:
        client.get_durable_execution(DurableExecutionArn="not-an-arn")
    assert code_of(rejected) == ("InvalidParameterValueException", 400)


def test_unknown_execution_is_resource_not_found(client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:local:$LATEST/durable-execution/x/y"
    for call in (client.get_durable_execution, client.get_durable_execution_history):
        with pytest.raises(ClientError) as missing:
            call(DurableExecutionArn=arn)
        assert code_of(missing) == ("ResourceNotFoundException", 404)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken="abc")


def test_bodies_over_the_limit_are_413(client: Any) -> None:
    service = LocalService()
    with LambdaApiServer(service, max_body_bytes=1024) as small:
        request = urllib.request.Request(
            small.endpoint_url + "/start-durable-execution", data=b"x" * 2048, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as too_large:
            urllib.request.urlopen(request, timeout=10)
        assert too_large.value.code == 413
        assert too_large.value.headers["x-amzn-errortype"] == "RequestTooLargeException"
        assert json.loads(too_large.value.read())["__type"] == "RequestTooLargeException"


def test_start_mirrors_dex_local_runner_body(server: LambdaApiServer) -> None:
    request = urllib.request.Request(
        server.endpoint_url + "/start-durable-execution",
        data=json.dumps({"FunctionName": "adder"}).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    assert missing.value.code == 400
    assert "AccountId" in json.loads(missing.value.read())["message"]
    with pytest.raises(urllib.error.HTTPError) as unknown:
        start_execution(server.endpoint_url, "nobody", None, "n1")
    assert unknown.value.code == 404


def test_injected_faults_answer_throttling_and_service_errors(
    server: LambdaApiServer, client: Any
) -> None:
    event = server.service.backend.start_execution(None)
    server.faults.fail_next(1, status=429)
    server.faults.fail_next(1, status=500)
    call = {"DurableExecutionArn": event["DurableExecutionArn"], "CheckpointToken": "abc"}
    with pytest.raises(ClientError) as throttled:
        client.checkpoint_durable_execution(**call)
    assert code_of(throttled) == ("TooManyRequestsException", 429)
    with pytest.raises(ClientError) as failing:
        client.checkpoint_durable_execution(**call)
    assert code_of(failing) == ("ServiceException", 500)


def test_callback_success_failure_and_heartbeat(server: LambdaApiServer, client: Any) -> None:
    approved = start_execution(server.endpoint_url, "approval", None, "approved")
    rejected = start_execution(server.endpoint_url, "approval", None, "rejected")
    started = wait_for_operation(client, approved, "CallbackStarted")
    callback_id = started["CallbackStartedDetails"]["CallbackId"]
    client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'{"ok": true}')
    assert json.loads(wait_for_end(client, approved)["Result"]) == {"ok": True}

    started = wait_for_operation(client, rejected, "CallbackStarted")
    client.send_durable_execution_callback_failure(
        CallbackId=started["CallbackStartedDetails"]["CallbackId"],
        Error={"ErrorType": "Rejected", "ErrorMessage": "no budget"},
    )
    failed = wait_for_end(client, rejected)
    assert failed["Status"] == "FAILED"
    assert (failed["Error"]["ErrorType"], failed["Error"]["ErrorMessage"]) == (
        "Rejected",
        "no budget",
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.send_durable_execution_callback_heartbeat(CallbackId="bm90LWEtY2FsbGJhY2s=")


def test_stop_ends_a_waiting_execution(server: LambdaApiServer, client: Any) -> None:
    arn = start_execution(server.endpoint_url, "approval", None, "to-stop")
    wait_for_operation(client, arn, "CallbackStarted")
    answer = client.stop_durable_execution(
        DurableExecutionArn=arn, Error={"ErrorType": "Cancelled", "ErrorMessage": "by test"}
    )
    assert isinstance(answer["StopTimestamp"], dt.datetime)
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "STOPPED"


def test_a_server_whose_scheduler_never_polls_still_stops() -> None:
    # A test that drives executions itself turns the scheduler off with a very long
    # poll interval; stop() must not wait that long for the HTTP loop (it hung CI).
    server = LambdaApiServer(LocalService(), poll_interval=10.0**6).start()
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(10.0)
    assert not stopper.is_alive(), "stop() is still waiting for the HTTP loop"
