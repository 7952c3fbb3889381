"""A client's mistake is answered 4xx with the API's error shape, never 500.

botocore (and so the SDK) retries a 5xx: a malformed request answered 500 is sent again
and again. Every route gets malformed bodies, wrong member types, unknown and malformed
ARNs and callback ids, bad markers and limits, with a stale and with a valid
checkpoint token, and a broken Content-Length; each answer must be a 4xx whose body
names the error (``__type``) and whose connection the server still serves after.
"""

from __future__ import annotations

import http.client
import itertools
import json
import urllib.parse
from typing import Any

from durable_closure import run
from durable_testing import LocalService
from durable_testing.http import LambdaApiServer

from tests.http.support import start_execution

BODIES = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"{}",
    b"\xff\xfe\x00",
    b'{"Updates": 5}',
    b'{"Updates": [{}]}',
    b'{"Updates": [{"Id": 1, "Type": "STEP", "Action": "START"}]}',
    b'{"Updates": [{"Id": "a", "Type": "NOPE", "Action": "START"}]}',
    b'{"Updates": [{"Id": "a", "Type": "STEP", "Action": "EXPLODE"}]}',
    b'{"Updates": [{"Id": "a", "Type": "WAIT", "Action": "START"}]}',
    b'{"Updates": [{"Id": "a", "Type": "STEP", "Action": "SUCCEED", "ParentId": "ghost"}]}',
    b'{"CheckpointToken": 5}',
    b'{"ClientToken": []}',
    b'{"Error": 5}',
    b'{"Error": {"ErrorType": 5}}',
    b'{"Result": 5}',
    b'{"FunctionName": {"a": 1}, "ExecutionName": "x"}',
    b'{"AccountId": "1", "FunctionName": "nobody", "FunctionQualifier": "$LATEST",'
    b' "ExecutionName": "n", "ExecutionTimeoutSeconds": 1, "ExecutionRetentionPeriodDays": 1}',
    b'{"AccountId": "1", "FunctionName": "approval", "FunctionQualifier": "$LATEST",'
    b' "ExecutionName": "bad name!", "ExecutionTimeoutSeconds": 1,'
    b' "ExecutionRetentionPeriodDays": 1}',
]
QUERIES = [
    "",
    "?Marker=abc",
    "?Marker=-1",
    "?Marker=99999999999999999999999",
    "?MaxItems=-1",
    "?MaxItems=abc",
    "?StartedAfter=garbage&Statuses=NOPE",
    "?IncludeExecutionData=maybe&ReverseOrder=perhaps",
]


def _approval(event: Any, ctx: Any) -> Any:
    return ctx.wait_for_callback(lambda callback_id, _: None, name="approve")


def _call(
    server: LambdaApiServer, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    host, port = server.endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def test_malformed_requests_are_answered_4xx() -> None:
    service = LocalService()
    service.register("approval", run(_approval))
    answers: list[tuple[str, int, dict[str, Any]]] = []
    with LambdaApiServer(service) as server:
        arn = start_execution(server.endpoint_url, "approval", None, "target")
        service.run_until_complete(arn, timeout=10)
        token = service.backend.invocation_event(arn)["CheckpointToken"]
        unknown = arn.replace("/target/", "/ghost/")
        targets = [urllib.parse.quote(a, safe="") for a in (arn, unknown)] + ["%ZZ", "x" * 3000]
        paths = [
            ("POST", "/start-durable-execution"),
            ("GET", "/2025-12-01/functions/approval/durable-executions"),
            ("GET", "/2025-12-01/functions/%00/durable-executions"),
        ]
        for target in targets:
            paths += [
                ("POST", f"/2025-12-01/durable-executions/{target}/checkpoint"),
                ("GET", f"/2025-12-01/durable-executions/{target}/state"),
                ("GET", f"/2025-12-01/durable-executions/{target}"),
                ("GET", f"/2025-12-01/durable-executions/{target}/history"),
                ("POST", f"/2025-12-01/durable-executions/{target}/stop"),
            ]
        for callback in ("abc", "%ZZ", "a" * 2000, "not/valid"):
            paths += [
                ("POST", f"/2025-12-01/durable-execution-callbacks/{callback}/{outcome}")
                for outcome in ("succeed", "fail", "heartbeat")
            ]
        tokens = ["", f"&CheckpointToken={urllib.parse.quote(token)}", "&CheckpointToken=stale"]
        requests: list[tuple[str, str, bytes]] = []
        for method, path in paths:
            if method == "GET":
                requests += [
                    (method, f"{path}{query or '?'}{part}", b"")
                    for query, part in itertools.product(QUERIES, tokens)
                ]
            else:
                requests += [(method, path, body) for body in BODIES]
            if path.endswith("/checkpoint"):
                requests += [
                    (method, path, json.dumps({"CheckpointToken": value, **update}).encode())
                    for value, update in itertools.product(
                        (token, "stale"), [json.loads(b) for b in BODIES[7:14]]
                    )
                ]
        for method, path, body in requests:
            status, answer = _call(server, method, path, body, {})
            answers.append((f"{method} {path[:100]} {body[:60]!r}", status, answer))
        for length in ("abc", "-1", "1e3"):
            status, answer = _call(server, "POST", paths[3][1], b"{}", {"Content-Length": length})
            answers.append((f"Content-Length {length}", status, answer))
        still = _call(server, "GET", f"/2025-12-01/durable-executions/{targets[0]}", b"", {})

    server_errors = [(what, status, answer) for what, status, answer in answers if status >= 500]
    assert server_errors == []
    unnamed = [what for what, status, answer in answers if status >= 400 and "__type" not in answer]
    assert unnamed == []
    assert len(answers) > 800
    assert still[0] == 200
