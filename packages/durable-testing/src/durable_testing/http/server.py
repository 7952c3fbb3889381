"""``LambdaApiServer``: a ``LocalService`` behind the Lambda API's REST routes, on loopback.

boto3's ``lambda`` client with ``endpoint_url`` pointed here works unchanged, so
``durable_core.LambdaBackend``, AWS's own SDK and any tool that speaks the API can
run against the local service. Routes, request checks and response encoding come
from boto3's service model; executions are started with dex-local-runner's
``POST /start-durable-execution``. A scheduler thread hands every execution with work
due to a driver thread of its own (invocations run in-process, timers fire on the
service's clock), so a long invocation delays no other execution. No lock is held
while a handler runs, so a handler may call any route of this server (its
checkpoints, a callback answer, a new execution): ``LocalService`` is thread-safe
and locks each execution only around its bookkeeping.

Only stdlib ``http.server``: it binds ``127.0.0.1`` by default and is meant for a
laptop or a test, not for a network.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import threading
import uuid
import warnings
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from durable_core.types import WireFormatError

from durable_testing.console import Console
from durable_testing.http.errors import ApiError, invalid_parameter
from durable_testing.http.routes import START_EXECUTION_PATH, DurableApi, Route
from durable_testing.http.shapes import (
    RequestShapeError,
    decode_request,
    encode_response,
    operation_model,
)
from durable_testing.local_service import LocalService, UnregisteredFunctionError

__all__ = [
    "DEFAULT_CONNECTION_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "LISTEN_BACKLOG",
    "OPERATIONS",
    "FaultSwitch",
    "LambdaApiServer",
]

OPERATIONS = (
    "CheckpointDurableExecution",
    "GetDurableExecutionState",
    "GetDurableExecution",
    "GetDurableExecutionHistory",
    "ListDurableExecutionsByFunction",
    "StopDurableExecution",
    "SendDurableExecutionCallbackSuccess",
    "SendDurableExecutionCallbackFailure",
    "SendDurableExecutionCallbackHeartbeat",
)
DEFAULT_MAX_BODY_BYTES = 7 * 1024 * 1024
"""Above the 6 MB payload CheckpointDurableExecution accepts, plus the envelope."""
DEFAULT_CONNECTION_TIMEOUT = 60.0
"""Seconds a connection may stay silent (mid-request or idle between keep-alive requests)
before the server closes it: a client that went away without closing its connection
(half-open) holds a server thread only that long. boto3 answers in far less."""
# How long the HTTP loop may take to notice stop(): socketserver's loop looks for it only
# between polls (its default of 0.5 s made each server's shutdown cost that much).
_STOP_POLL_SECONDS = 0.05
LISTEN_BACKLOG = 1024
"""Connections the kernel queues before the server accepts them (socketserver's default
is 5: a burst of 200 clients then stalled for up to a minute in SYN retransmits)."""

_log = logging.getLogger("durable_testing.http")
_ROUTES = [
    Route.from_uri(name, model.http["method"], model.http["requestUri"])
    for name in OPERATIONS
    for model in [operation_model(name)]
]
_FAULT_CODES = {
    400: "InvalidParameterValueException",
    429: "TooManyRequestsException",
    500: "ServiceException",
}


class FaultSwitch:
    """Test hook: answer the next ``count`` calls of ``operation`` with an error status.

    ``status`` 429 answers ``TooManyRequestsException``, 500 ``ServiceException`` and 400
    ``InvalidParameterValueException`` without touching the service, as a throttled,
    failing or refusing service would; it lets a test prove that clients retry (or give
    up) without losing an update.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, list[int]] = {}
        self.answered = 0

    def fail_next(
        self, count: int, status: int = 429, operation: str = "CheckpointDurableExecution"
    ) -> None:
        if status not in _FAULT_CODES:
            raise ValueError(f"status must be one of {sorted(_FAULT_CODES)}")
        with self._lock:
            self._armed.setdefault(operation, []).extend([status] * count)

    def take(self, operation: str) -> ApiError | None:
        with self._lock:
            pending = self._armed.get(operation)
            if not pending:
                return None
            status = pending.pop(0)
            self.answered += 1
        code = _FAULT_CODES[status]
        return ApiError(code, f"injected {code} for {operation}")


class _HttpServer(ThreadingHTTPServer):
    """A thread per connection, a listen queue that holds a burst, and a connection that a
    client drops or lets time out ends quietly (it is the client's doing, not an error)."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            _log.debug("connection from %s ended: %r", client_address, error)
        else:
            _log.exception("connection from %s failed", client_address)


class LambdaApiServer:
    """Serves ``service`` on ``host:port`` (port 0 picks a free one) and drives its executions.

    Use it as a context manager, or ``start()`` / ``stop()``; ``endpoint_url`` is what
    a boto3 client needs. ``poll_interval`` is how often the scheduler looks for due work
    (a test that drives executions itself makes it very long; ``stop()`` still returns
    within ``_STOP_POLL_SECONDS``); ``connection_timeout`` how long a connection may
    stay silent before it is closed. The socket listens from construction on: connections
    made before ``start()`` wait in the listen queue. With ``drive=False`` there is no
    scheduler: the caller drives the executions (``durable run`` serves callback answers
    for the execution it drives).
    """

    def __init__(
        self,
        service: LocalService,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        poll_interval: float = 0.02,
        connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
        drive: bool = True,
    ) -> None:
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.poll_interval = poll_interval
        self.connection_timeout = connection_timeout
        self.drive = drive
        self.faults = FaultSwitch()
        self.api = DurableApi(service)
        self.console = Console(service, self.dispatch)
        if not _is_loopback(host):
            message = (
                f"serving the durable execution API on {host}, which is not a loopback address:"
                " anyone who can reach it can start executions and complete callbacks"
                " (there is no authentication); bind 127.0.0.1 unless you mean it"
            )
            _log.warning(message)
            warnings.warn(message, UserWarning, stacklevel=2)
        self._http = _HttpServer((host, port), _handler_class(self))
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._driving: set[str] = set()
        self._driving_lock = threading.Lock()
        self._driven = threading.Condition(self._driving_lock)
        self._unregistered: set[str] = set()

    @property
    def endpoint_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LambdaApiServer:
        self._threads = [
            threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": min(self.poll_interval, _STOP_POLL_SECONDS)},
                name="durable-http",
                daemon=True,
            )
        ]
        if self.drive:
            self._threads.append(
                threading.Thread(target=self._schedule, name="durable-scheduler", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        _log.info("serving the Lambda durable execution API on %s", self.endpoint_url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._http.shutdown()
        for thread in self._threads:
            thread.join(timeout)
        with self._driving_lock:
            self._driven.wait_for(lambda: not self._driving, timeout)
        self._http.server_close()

    def serve_forever(self) -> None:
        """Serve until interrupted (``durable serve``)."""
        self.start()
        try:
            self._stopping.wait()
        finally:
            self.stop()

    def __enter__(self) -> LambdaApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scheduling ---------------------------------------------------------------

    def _schedule(self) -> None:
        """Hand each execution with work due to a driver thread of its own, so a long
        invocation delays no other execution (as on Lambda, every invocation runs in its
        own environment): a new execution is invoked within a poll interval however
        busy the others are.

        The store's unfinished executions (a restart) are loaded once; after that the
        service knows every execution started through it. Nothing is locked here: the
        service locks each execution's state, and never while a handler runs.
        """
        try:
            for stored in self.service.store.list_executions(unfinished_only=True):
                self._drive_apart(stored.arn)
        except Exception:
            _log.exception("the scheduler could not list the store's unfinished executions")
        while not self._stopping.wait(self.poll_interval):
            try:
                due = self.service.due()
            except Exception:
                _log.exception("the scheduler could not list the executions due")
                continue
            for arn in due:
                self._drive_apart(arn)

    def _drive_apart(self, arn: str) -> None:
        """Drive ``arn`` for a poll interval on a thread of its own, unless one already is."""
        with self._driving_lock:
            if arn in self._driving or self._stopping.is_set():
                return
            self._driving.add(arn)
        threading.Thread(
            target=self._drive, args=(arn,), name="durable-driver", daemon=True
        ).start()

    def _drive(self, arn: str) -> None:
        try:
            self.service.run_until_complete(arn, timeout=self.poll_interval)
        except TimeoutError:
            pass
        except UnregisteredFunctionError as exc:
            with self._driving_lock:
                first = arn not in self._unregistered
                self._unregistered.add(arn)
            if first:  # once, not at every poll
                _log.error("%s (it stays RUNNING)", exc)
        except Exception:
            _log.exception("the scheduler could not drive %s", arn)
        finally:
            with self._driving_lock:
                self._driving.discard(arn)
                self._driven.notify_all()

    # -- requests -----------------------------------------------------------------

    def dispatch(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """One request: the status and JSON body of the answer (errors included)."""
        url = urlsplit(target)
        try:
            if url.path == START_EXECUTION_PATH and method == "POST":
                return 201, self.api.start_durable_execution(_json_object(body))
            for route in _ROUTES:
                match = route.path.match(url.path)
                if match and route.method == method:
                    return self._call(route.operation, match.groupdict(), url.query, body)
            raise ApiError("ResourceNotFoundException", f"No route for {method} {url.path}")
        except ApiError as exc:
            return exc.status, exc.body()
        except Exception as exc:
            _log.exception("%s %s failed", method, url.path)
            error = ApiError("ServiceException", f"{type(exc).__name__}: {exc}")
            return error.status, error.body()

    def _call(
        self, operation: str, path_params: dict[str, str], query: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        fault = self.faults.take(operation)
        if fault is not None:
            raise fault
        model = operation_model(operation)
        try:
            params = decode_request(model, path_params, query, body)
            answer = self.api.handler(operation)(params)
        except (RequestShapeError, WireFormatError) as exc:
            raise invalid_parameter(f"{operation}: {exc}") from None
        return int(model.http.get("responseCode", 200)), encode_response(model.output_shape, answer)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError as exc:
        raise invalid_parameter(f"the request body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise invalid_parameter("the request body must be a JSON object")
    return document


def _handler_class(server: LambdaApiServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = server.connection_timeout
        # Headers and body go out in two writes: with Nagle's algorithm the body waits for
        # the client's delayed ACK of the headers, 40 ms per call on Linux loopback.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_PUT(self) -> None:
            self._answer()

        def do_DELETE(self) -> None:
            self._answer()

        def _answer(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            refusal = None
            if not declared.isdigit():
                # The body's end is unknown: answer, and close the connection.
                refusal = invalid_parameter(f"Invalid Content-Length {declared!r}")
            elif int(declared) > server.max_body_bytes:
                refusal = ApiError(
                    "RequestTooLargeException",
                    f"Request must be smaller than {server.max_body_bytes} bytes",
                )
            if refusal is not None:
                self.close_connection = True
                self._send(refusal.status, refusal.body(), refusal.code)
                return
            length = int(declared)
            body = self.rfile.read(length) if length else b""
            if server.console.answer(self, body):
                return
            status, answer = server.dispatch(self.command, self.path, body)
            self._send(status, answer, answer.get("__type") if status >= 400 else None)

        def _send(self, status: int, answer: dict[str, Any], error_type: str | None) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if error_type is not None:
                self.send_header("x-amzn-errortype", error_type)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            _log.debug("%s " + format, self.address_string(), *args)

    return Handler
