"""The server under bursts of connections and against clients that never finish a request.

Loopback only, bounded: 200 clients connect at once (each its own connection, as 200
boto3 clients would), and every one gets its answer. Latency under such bursts is a
benchmark figure (``benchmarks/service_load.py``), never asserted here.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any

from durable_closure import run
from durable_testing import LocalService
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution, wait_for_end

CLIENTS = 200


def _address(server: LambdaApiServer) -> tuple[str, int]:
    host, port = server.endpoint_url.removeprefix("http://").split(":")
    return host, int(port)


def test_a_burst_of_connections_is_served_without_a_reset() -> None:
    service = LocalService()
    service.register("echo", run(lambda event, ctx: event))
    # The listen queue fills while nothing accepts: every client connects before the
    # server takes the first one, the worst case of a burst.
    server = LambdaApiServer(service)
    host, port = _address(server)
    barrier = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    failures: list[BaseException] = []
    connected = threading.Semaphore(0)

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            barrier.wait(timeout=30)
            connection.connect()
            connected.release()
            connection.request("GET", "/2025-12-01/functions/echo/durable-executions")
            statuses.append(connection.getresponse().status)
        except BaseException as exc:
            failures.append(exc)
            connected.release()
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    held = 0
    while held < CLIENTS and connected.acquire(timeout=max(0.0, deadline - time.monotonic())):
        held += 1
    with server:
        for thread in threads:
            thread.join(timeout=60)

    assert held == CLIENTS, "the listen queue holds the whole burst"
    assert failures == []
    assert statuses == [200] * CLIENTS


def test_a_client_that_never_finishes_its_request_is_dropped() -> None:
    """A half-open client holds one connection thread only until the connection timeout."""
    service = LocalService()
    with LambdaApiServer(service, connection_timeout=0.2) as server:
        with socket.create_connection(_address(server), timeout=30) as stalled:
            stalled.sendall(b"GET /2025-12-01/functions/echo/durable-executions HTTP/1.1\r\n")
            received = stalled.recv(1024)
        with socket.create_connection(_address(server), timeout=30) as silent:
            nothing = silent.recv(1024)

    assert received == b"", "the server closes a connection whose request never ends"
    assert nothing == b""


def test_a_body_shorter_than_its_content_length_is_dropped() -> None:
    service = LocalService()
    answers: list[Any] = []
    with LambdaApiServer(service, connection_timeout=0.2) as server:
        with socket.create_connection(_address(server), timeout=30) as short:
            short.sendall(
                b"PUT /2025-12-01/durable-execution-callbacks/abc/succeed HTTP/1.1\r\n"
                b"Content-Length: 100\r\n\r\n{}"
            )
            answers.append(short.recv(1024))
        # The server is still serving others.
        connection = http.client.HTTPConnection(*_address(server), timeout=30)
        connection.request("GET", "/2025-12-01/functions/echo/durable-executions")
        answers.append(connection.getresponse().status)
        connection.close()

    assert answers == [b"", 200]


def test_a_new_execution_is_invoked_while_another_invocation_runs() -> None:
    """Every invocation has a driver of its own: a long one delays no other execution."""
    service = LocalService()
    second_invoked = threading.Event()
    first_running = threading.Event()
    saw_second: list[bool] = []

    def long(event: Any, lambda_context: Any) -> dict[str, Any]:
        first_running.set()
        saw_second.append(second_invoked.wait(timeout=10))
        return {"Status": "SUCCEEDED", "Result": "1"}

    def short(event: Any, lambda_context: Any) -> dict[str, Any]:
        second_invoked.set()
        return {"Status": "SUCCEEDED", "Result": "2"}

    service.register("long", long)
    service.register("short", short)
    with LambdaApiServer(service) as server:
        client = lambda_client(server.endpoint_url)
        first = start_execution(server.endpoint_url, "long", None, "long-1")
        assert first_running.wait(timeout=10)
        second = start_execution(server.endpoint_url, "short", None, "short-1")
        ended = [wait_for_end(client, arn)["Status"] for arn in (first, second)]

    assert saw_second == [True], "the short execution waited for the long invocation"
    assert ended == ["SUCCEEDED", "SUCCEEDED"]
