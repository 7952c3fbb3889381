"""What the end-to-end tests share: the two services a ``LambdaBackend`` runs against.

``our_server`` serves a ``LocalService`` through ``LambdaApiServer``; ``dex_local_runner``
starts AWS's ``dex-local-runner`` with a loopback Lambda ``Invoke`` endpoint that runs the
handlers in this process, routed by function name. Either way every handler checkpoints
through boto3 over HTTP, as on Lambda. Both bind free loopback ports, wait a bounded time
for readiness and always stop what they started.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from durable_core import LambdaBackend, use_backend
from durable_core.execution import LambdaHandler
from durable_testing import LocalService
from durable_testing.clock import Clock
from durable_testing.http import LambdaApiServer

DEX_LOCAL_RUNNER = Path(sys.executable).parent / "dex-local-runner"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session", autouse=True)
def dummy_credentials() -> Iterator[None]:
    """boto3 signs every request, so it needs credentials; any will do on loopback.

    Session-scoped: a module-scoped server builds its boto3 clients before any
    function-scoped fixture runs.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_CREDENTIALS.items():
            patch.setenv(name, value)
        yield


def through(endpoint_url: str, lambda_handler: LambdaHandler) -> LambdaHandler:
    """``lambda_handler`` checkpointing through boto3 to ``endpoint_url``, as on Lambda."""
    backend = LambdaBackend(endpoint_url=endpoint_url, region_name="us-east-1")

    def invoke(event: Any, context: Any) -> dict[str, Any]:
        with use_backend(backend):
            return lambda_handler(event, context)

    return invoke


def events_of(client: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get_durable_execution_history(DurableExecutionArn=arn)[
        "Events"
    ]
    return events


def names_of(events: list[dict[str, Any]], event_type: str) -> list[str]:
    return [e.get("Name", "") for e in events if e["EventType"] == event_type]


@contextlib.contextmanager
def our_server(
    handlers: Mapping[str, LambdaHandler], clock: Clock | None = None
) -> Iterator[LambdaApiServer]:
    """``LambdaApiServer`` over a ``LocalService`` (virtual time unless ``clock``) with
    ``handlers`` registered, each checkpointing to the server over HTTP."""
    service = LocalService(clock=clock)
    with LambdaApiServer(service) as running:
        for name, handler in handlers.items():
            service.register(name, through(running.endpoint_url, handler))
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def invoke_endpoint(runner_url: str, handlers: Mapping[str, LambdaHandler]) -> Iterator[str]:
    """A loopback Lambda ``Invoke`` endpoint: dex-local-runner calls it for each invocation.

    ``POST /2015-03-31/functions/{FunctionName}/invocations`` runs the handler registered
    under that name (a qualifier after ``:`` is ignored); an unknown name answers 404
    ``ResourceNotFoundException``, as Lambda does.
    """
    wrapped = {name: through(runner_url, h) for name, h in handlers.items()}

    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            name = self.path.split("/functions/")[1].split("/")[0].split(":")[0]
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if name in wrapped:
                status, answer = 200, wrapped[name](event, None)
            else:
                status = 404
                answer = {
                    "__type": "ResourceNotFoundException",
                    "message": f"Function not found: {name}",
                }
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the runner's history, not request logs."""

    endpoint = ThreadingHTTPServer(("127.0.0.1", 0), Invoke)
    endpoint.daemon_threads = True
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{endpoint.server_address[1]}"
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        thread.join(10)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dex-local-runner exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"dex-local-runner did not listen on {port} within {timeout} s")


@contextlib.contextmanager
def dex_local_runner(
    handlers: Mapping[str, LambdaHandler],
    *,
    durable_targets: tuple[str, ...] = (),
    runner: tuple[str, ...] = (str(DEX_LOCAL_RUNNER),),
) -> Iterator[str]:
    """AWS's ``dex-local-runner`` on a free loopback port, invoking ``handlers``; its URL.

    The runner never resolves a chained invoke by itself: ``--function-configs`` must
    name each target, a ``DurableConfig`` making it a durable function (its source,
    ``child_dispatcher.EndpointChildDispatcher``). ``durable_targets`` are declared so;
    the runner then starts a child execution and invokes it at the endpoint by name.
    ``runner`` is the command that starts it (its CLI, or a patched copy of it).
    """
    assert DEX_LOCAL_RUNNER.exists(), "dex-local-runner is a dev dependency (make install)"
    port = free_port()
    runner_url = f"http://127.0.0.1:{port}"
    with invoke_endpoint(runner_url, handlers) as lambda_url:
        command = [
            *runner,
            "start-server",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--lambda-endpoint", lambda_url,
            "--store-type", "memory",
            "--no-skip-time",
            "--log-level", "WARNING",
        ]  # fmt: skip
        if durable_targets:
            configs: dict[str, Any] = {name: {"DurableConfig": {}} for name in durable_targets}
            command += ["--function-configs", json.dumps(configs)]
        process = subprocess.Popen(
            command,
            env={**os.environ, **DUMMY_CREDENTIALS},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, process)
            yield runner_url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
