"""The console over plain HTTP: who may use it, what reaches the service, what is listed.

Requests are sent as a browser (or an attacker's page) would send them; effects are read
back from the service through its own API. A refused action must leave the execution
exactly as it was, and the same request with the page's token and a JSON body must then
work, so each refusal is known to come from the check under test.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from durable_closure import run
from durable_core import DurableContext, RetryPolicy, StepConfig
from durable_testing import LocalService
from durable_testing.cli import load_handler
from durable_testing.clock import VirtualClock
from durable_testing.console import TOKEN_HEADER
from durable_testing.console.pages import PAGE_SIZE
from durable_testing.http import LambdaApiServer
from durable_testing.http.shapes import lambda_model
from durable_testing.stores import ExecutionStatus

SECRET = "s3cr3t-payload-0417"


def approval(event: Any, ctx: DurableContext) -> Any:
    ctx.step(lambda _: "checked", name="check")
    return ctx.wait_for_callback(lambda callback_id, _: None, name="approval")


def renamed(event: Any, ctx: DurableContext) -> Any:
    ctx.step(lambda _: "checked", name="verify")
    return ctx.wait_for_callback(lambda callback_id, _: None, name="approval")


@pytest.fixture
def server() -> Iterator[LambdaApiServer]:
    service = LocalService()
    service.register("approval", run(approval))
    with LambdaApiServer(service) as api_server:
        yield api_server


def _request(
    server: LambdaApiServer,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        server.endpoint_url + path,
        data=data,
        headers=headers or {},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _token(server: LambdaApiServer) -> str:
    status, page = _request(server, "/")
    assert status == 200
    found = re.search(rb'name="console-token" content="([^"]+)"', page)
    assert found is not None
    return found.group(1).decode()


def _act(server: LambdaApiServer, action: str, body: Any, **headers: str) -> tuple[int, Any]:
    sent = {"Content-Type": "application/json", TOKEN_HEADER: _token(server)} | headers
    status, answer = _request(server, f"/console/actions/{action}", body, sent)
    return status, json.loads(answer)


def _waiting(server: LambdaApiServer, arn: str) -> str:
    """The callback id once the execution waits for it (bounded)."""
    for _ in range(400):
        callbacks = server.service.callbacks(arn)
        if callbacks:
            return callbacks[0].callback_id
        threading.Event().wait(0.025)
    raise AssertionError(f"{arn} never waited for its callback")


def _ended(server: LambdaApiServer, arn: str) -> ExecutionStatus:
    for _ in range(400):
        status = server.service.describe(arn).status
        if status is not ExecutionStatus.RUNNING:
            return status
        threading.Event().wait(0.025)
    raise AssertionError(f"{arn} never ended")


def test_an_action_needs_the_token_and_a_json_body_and_a_same_origin_page(
    server: LambdaApiServer,
) -> None:
    arn = server.service.start("approval", {}, execution_name="a-1")
    callback_id = _waiting(server, arn)
    body = {"CallbackId": callback_id, "Result": '"yes"'}
    path = "/console/actions/callback-succeed"

    without_token = _request(server, path, body, {"Content-Type": "application/json"})
    wrong_token = _request(
        server, path, body, {"Content-Type": "application/json", TOKEN_HEADER: "guess"}
    )
    # What a cross-site HTML form can send: a simple content type, no custom header.
    as_form = _request(
        server,
        path,
        f"CallbackId={callback_id}&Result=yes".encode(),
        {"Content-Type": "application/x-www-form-urlencoded", TOKEN_HEADER: _token(server)},
    )
    cross_origin = _act(server, "callback-succeed", body, Origin="http://evil.example")

    assert [without_token[0], wrong_token[0], as_form[0], cross_origin[0]] == [403, 403, 415, 403]
    assert [cb.callback_id for cb in server.service.callbacks(arn)] == [callback_id]
    assert server.service.describe(arn).status is ExecutionStatus.RUNNING

    assert _act(server, "callback-succeed", body) == (200, {})
    assert _ended(server, arn) is ExecutionStatus.SUCCEEDED
    assert server.service.describe(arn).result == '"yes"'


def test_a_heartbeat_keeps_the_callback_waiting_and_a_failure_fails_the_execution(
    server: LambdaApiServer,
) -> None:
    arn = server.service.start("approval", {}, execution_name="f-1")
    callback_id = _waiting(server, arn)

    assert _act(server, "callback-heartbeat", {"CallbackId": callback_id}) == (200, {})
    assert [cb.callback_id for cb in server.service.callbacks(arn)] == [callback_id]
    failure = {"CallbackId": callback_id, "ErrorType": "Rejected", "ErrorMessage": "not today"}
    assert _act(server, "callback-fail", failure) == (200, {})

    assert _ended(server, arn) is ExecutionStatus.FAILED
    callback = next(op for op in server.service.describe(arn).operations if op.callback_details)
    assert callback.error is not None
    assert (callback.error.error_type, callback.error.error_message) == ("Rejected", "not today")
    # A closed callback: the API's CallbackTimeoutException, with its status in boto3's model.
    closed = _act(server, "callback-succeed", {"CallbackId": callback_id, "Result": "1"})
    timeout_error = lambda_model().shape_for("CallbackTimeoutException").metadata["error"]
    assert closed[0] == timeout_error["httpStatusCode"]
    assert closed[1]["message"].startswith("CallbackTimeoutException")


def test_the_execution_page_shows_retries_with_their_errors_and_waits_with_their_deadlines() -> (
    None
):
    clock = VirtualClock()
    attempts: list[int] = []

    def flaky(_: Any) -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            raise ConnectionError(f"processor timed out ({len(attempts)})")
        return "charged"

    def order(event: Any, ctx: DurableContext) -> str:
        retry = StepConfig[str](retry=RetryPolicy(max_attempts=5, initial_delay_seconds=7))
        charged = ctx.step(flaky, name="charge", config=retry)
        ctx.wait(3600, name="cooling-off")
        return charged

    service = LocalService(clock=clock)
    service.register("order", run(order))
    started = clock.now()
    arn = service.start("order", None, execution_name="o-7")
    service.run_until_complete(arn)
    wait = next(op for op in service.describe(arn).operations if op.name == "cooling-off")
    assert wait.start_timestamp is not None
    with LambdaApiServer(service) as server:
        status, page = _request(server, "/console/executions/" + quote(arn, safe=""))
    assert status == 200
    text = page.decode()
    for attempt in (1, 2):
        assert f"attempt {attempt} failed: ConnectionError: processor timed out ({attempt})" in text
    assert text.count("(retry in ") == 2
    deadline = wait.start_timestamp + dt.timedelta(seconds=3600)
    assert f"until {deadline:%Y-%m-%d %H:%M:%S}" in text
    assert deadline >= started + dt.timedelta(seconds=3600)


def test_the_console_answers_only_requests_naming_a_loopback_host(
    server: LambdaApiServer,
) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name: it gets nothing."""
    port = server.endpoint_url.rsplit(":", 1)[1]
    status, page = _request(server, "/", headers={"Host": f"rebound.example:{port}"})
    assert status == 403
    assert b"console-token" not in page
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert _request(server, "/", headers={"Host": host})[0] == 200
    # The Lambda API routes are not the console's: they answer as before.
    listed = _request(server, "/2025-12-01/functions/approval/durable-executions")
    assert listed[0] == 200


def test_pages_forbid_inline_script_and_framing(server: LambdaApiServer) -> None:
    request = urllib.request.Request(server.endpoint_url + "/")
    with urllib.request.urlopen(request, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert _request(server, "/console/static/console.js")[0] == 200
    assert _request(server, "/console/static/../__init__.py")[0] == 404


def test_payloads_travel_in_bodies_and_stay_out_of_the_logs(
    server: LambdaApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        status, started = _act(
            server, "start", {"FunctionName": "approval", "Input": json.dumps({"key": SECRET})}
        )
        assert status == 200
        arn = started["ExecutionArn"]
        callback_id = _waiting(server, arn)
        assert SECRET not in started["url"]
        _request(server, started["url"])
        assert _act(server, "callback-succeed", {"CallbackId": callback_id, "Result": '"ok"'})
        assert _ended(server, arn) is ExecutionStatus.SUCCEEDED
        refused = _act(server, "start", {"FunctionName": "approval", "Input": "{" + SECRET})
    assert refused[0] == 400
    assert SECRET not in refused[1]["message"]
    input_payload = server.api.get_durable_execution({"DurableExecutionArn": arn})["InputPayload"]
    assert json.loads(input_payload) == {"key": SECRET}
    logged = [record.getMessage() for record in caplog.records]
    assert any("POST /console/actions/start" in line for line in logged)  # lines were captured
    assert not [line for line in logged if SECRET in line]


def test_the_list_is_newest_first_filtered_and_paginated() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("quick", run(lambda event, ctx: event))
    service.register("approval", run(approval))
    for n in range(PAGE_SIZE + 3):
        service.run("quick", n, execution_name=f"q-{n:02d}")
        clock.advance(1)
    waiting = [service.start("approval", None, execution_name=f"w-{n}") for n in range(2)]
    with LambdaApiServer(service) as server:
        for arn in waiting:
            _waiting(server, arn)

        def names(path: str) -> list[str]:
            status, page = _request(server, path)
            assert status == 200
            return [name.decode() for name in re.findall(rb'data-execution="([^"]+)"', page)]

        newest_first = [f"q-{n:02d}" for n in reversed(range(PAGE_SIZE + 3))]
        assert names("/?function=quick") == newest_first[:PAGE_SIZE]
        older = re.search(rb'rel="next" href="([^"]+)"', _request(server, "/?function=quick")[1])
        assert older is not None
        assert names(older.group(1).decode().replace("&amp;", "&")) == newest_first[PAGE_SIZE:]
        assert names("/?status=RUNNING") == ["w-1", "w-0"]
        assert names("/?status=SUCCEEDED&function=approval") == []
        assert names("/")[:3] == ["w-1", "w-0", "q-22"]


def test_stop_and_replay_go_through_the_service_and_the_cli_replay(
    server: LambdaApiServer,
) -> None:
    arn = server.service.start("approval", {}, execution_name="r-1")
    _waiting(server, arn)

    status, same = _act(server, "replay", {"DurableExecutionArn": arn})
    assert status == 200 and same["divergence"] is None
    server.console.current_code = lambda name: run(renamed)
    status, changed = _act(server, "replay", {"DurableExecutionArn": arn})
    assert status == 200 and changed["divergence"] is not None
    assert "check" in changed["divergence"] and "verify" in changed["divergence"]

    assert _act(server, "stop", {"DurableExecutionArn": arn}) == (200, _stopped_answer(server, arn))
    assert server.service.describe(arn).status is ExecutionStatus.STOPPED
    again = _act(server, "stop", {"DurableExecutionArn": arn})
    assert again[0] == 400
    assert again[1]["message"].startswith("InvalidParameterValueException")


def test_replay_against_code_that_no_longer_imports_shows_its_traceback(
    server: LambdaApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page has no terminal "above" it: the report carries the user's traceback."""
    arn = server.service.start("approval", {}, execution_name="r-2")
    _waiting(server, arn)
    broken = tmp_path / "flow_being_edited.py"
    broken.write_text("def handler(event, ctx:\n")
    server.console.current_code = lambda name: load_handler(f"{broken}:handler")

    status, answer = _act(server, "replay", {"DurableExecutionArn": arn})
    assert status == 200 and answer["divergence"] is None
    assert answer["report"].startswith("Traceback (most recent call last):")
    assert f'File "{broken}", line 1' in answer["report"]
    assert answer["report"].endswith(f"durable: importing {broken} raised (above)")
    assert "SyntaxError" in capsys.readouterr().err  # and in the terminal of `durable serve`


def _stopped_answer(server: LambdaApiServer, arn: str) -> dict[str, Any]:
    """StopDurableExecution's answer as the API encodes it: the stop time in epoch seconds."""
    end = server.service.describe(arn)
    stored = server.service.store.load(arn)
    assert stored is not None and stored.end_timestamp is not None and end
    return {"StopTimestamp": stored.end_timestamp.timestamp()}
