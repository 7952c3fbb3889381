"""The service's rules the local service keeps, as the service model and AWS's runner state
them: unique execution names, no checkpoints after an execution ended, callback ids
found from the store, and a warning when the API is served beyond loopback."""

from __future__ import annotations

import json
import threading
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import CheckpointError, DurableContext
from durable_core.backends.memory import (
    CallbackTimeoutException,
    DurableExecutionAlreadyStartedException,
    InvalidParameterValueException,
)
from durable_core.types import OperationAction, OperationType, OperationUpdate
from durable_testing import ExecutionStatus, LocalService, SqliteStore
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution


def _approval(event: Any, ctx: DurableContext) -> str:
    return str(ctx.wait_for_callback(lambda callback_id, _: None, name="approve"))


def test_an_execution_name_is_used_once_per_function(tmp_path: Path) -> None:
    """The service model: "Each durable execution name must be unique within the
    function" (DurableExecutionAlreadyStartedException, HTTP 409); also after a restart."""
    path = tmp_path / "s.sqlite3"
    first = LocalService(store=SqliteStore(path))
    first.register("echo", run(lambda event, ctx: event))
    first.register("other", run(lambda event, ctx: event))
    first.run("echo", 1, execution_name="order-1")
    first.run("other", 2, execution_name="order-1")  # another function may use it

    with pytest.raises(DurableExecutionAlreadyStartedException, match="order-1"):
        first.start("echo", 3, execution_name="order-1")

    second = LocalService(store=SqliteStore(path))
    second.register("echo", run(lambda event, ctx: event))
    with LambdaApiServer(second) as server:
        with pytest.raises(urllib.error.HTTPError) as refused:
            start_execution(server.endpoint_url, "echo", 4, "order-1")
        answer = json.loads(refused.value.read())
        listed = lambda_client(server.endpoint_url).list_durable_executions_by_function(
            FunctionName="echo"
        )
    assert refused.value.code == 409
    assert answer["__type"] == "DurableExecutionAlreadyStartedException"
    assert len(listed["DurableExecutions"]) == 1


def test_a_checkpoint_after_the_execution_was_stopped_is_rejected() -> None:
    """AWS's runner: a complete execution takes no checkpoint ("Invalid checkpoint token")."""
    service = LocalService()
    rejected: list[CheckpointError] = []

    def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        arn = event["DurableExecutionArn"]
        stopping = threading.Thread(target=service.stop, args=(arn,))
        stopping.start()
        stopping.join(timeout=3)
        start = OperationUpdate(id="late", type=OperationType.STEP, action=OperationAction.START)
        try:
            service.handler_backend.checkpoint(arn, event["CheckpointToken"], [start])
        except CheckpointError as exc:
            rejected.append(exc)
        return {"Status": "SUCCEEDED", "Result": "1"}

    service.register("stopped", handler)
    result = service.run("stopped")

    assert [e.error_code for e in rejected] == ["InvalidParameterValueException"]
    assert "STOPPED" in str(rejected[0])
    assert result.status is ExecutionStatus.STOPPED
    assert [op.id for op in result.operations if op.id == "late"] == []


def test_a_callback_of_a_finished_stored_execution_is_closed_not_unknown(tmp_path: Path) -> None:
    """A new service finds a callback id through the store's index, also for an execution
    it has not loaded: a closed callback is CallbackTimeoutException, as the API says."""
    path = tmp_path / "s.sqlite3"
    first = LocalService(store=SqliteStore(path))
    first.register("approval", run(_approval))
    arn = first.run("approval").arn
    [pending] = first.callbacks(arn)
    first.send_callback_success(pending.callback_id, "yes")
    assert first.run_until_complete(arn).status is ExecutionStatus.SUCCEEDED

    second = LocalService(store=SqliteStore(path))
    second.register("approval", run(_approval))
    with pytest.raises(CallbackTimeoutException, match="already closed"):
        second.send_callback_success(pending.callback_id, "again")


def test_serving_beyond_loopback_warns_before_binding() -> None:
    """192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails after the
    warning, so nothing is ever exposed by this test."""
    with pytest.warns(UserWarning, match="not a loopback address"), pytest.raises(OSError):
        LambdaApiServer(LocalService(), host="192.0.2.1")


def test_a_server_service_forgets_what_ended_and_reads_it_back_from_the_store(
    tmp_path: Path,
) -> None:
    """``keep_finished=False`` (``durable serve``): memory holds only what still runs."""
    service = LocalService(store=SqliteStore(tmp_path / "s.sqlite3"), keep_finished=False)
    service.register("approval", run(_approval))
    service.register("echo", run(lambda event, ctx: ctx.step(lambda _: event, name="echo")))
    service.register("caller", run(lambda event, ctx: ctx.invoke("echo", event, name="call")))
    waiting = service.run("approval").arn
    [pending] = service.callbacks(waiting)
    done = [service.run("echo", n).arn for n in range(3)] + [service.run("caller", 9).arn]

    assert list(service.backend.executions) == [waiting]
    assert service.backend.calls == []
    service.send_callback_success(pending.callback_id, "ok")
    answered = service.run_until_complete(waiting)

    assert answered.result == '"ok"'
    assert list(service.backend.executions) == []
    assert [service.describe(arn).result for arn in done] == [0, 1, 2, 9]
    assert service.describe(done[0]).event_types[-1] == "ExecutionSucceeded"
    with pytest.raises(CallbackTimeoutException):
        service.send_callback_success(pending.callback_id, "again")
    with pytest.raises(InvalidParameterValueException):
        service.stop(waiting)
    assert service.callbacks(waiting) == []
    assert list(service.backend.executions) == []
