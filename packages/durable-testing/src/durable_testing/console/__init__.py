"""A web console for ``durable serve``, on the same loopback port as the Lambda API.

``GET /`` lists the executions, ``GET /console/executions/<ARN>`` shows one: its
summary, pending callbacks, the operation tree and timeline of ``durable_testing.graph``,
each operation's input, result, error and retries, and the event table. Pages are
rendered here and kept live by ``console.js``, which polls the page's own URL for its
regions as JSON. Actions (start, stop, answer a callback, replay) are ``POST
/console/actions/<name>`` with a JSON body; each is sent through the server's own
dispatcher as the Lambda API request boto3 would send (``start`` as dex-local-runner's
``POST /start-durable-execution``), so it meets the same checks; ``replay`` is
``durable replay``'s code path (``durable_testing.cli.replay``) on the stored operations.

What keeps it safe on a developer's machine:

* it answers only a loopback client that names a loopback host (``Host``), whatever the
  server is bound to, so neither the network nor a DNS-rebinding page can read it;
* an action needs the page's token (``X-Console-Token``, a per-server secret in the
  page) and ``Content-Type: application/json``, which a cross-site form cannot send
  and a cross-site script cannot send without a CORS preflight this server refuses;
* pages escape every value and forbid inline script (``Content-Security-Policy``);
* payloads travel only in request bodies, never in URLs, and nothing here logs them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from durable_core.execution import LambdaHandler

from durable_testing.cli import CommandError, replay
from durable_testing.console.pages import ListQuery, execution_page, execution_url, list_page
from durable_testing.graph import GRAPH_CSS
from durable_testing.local_service import LocalService
from durable_testing.stores import ExecutionStatus

__all__ = ["Console"]

Dispatch = Callable[[str, str, bytes], tuple[int, dict[str, Any]]]
"""``LambdaApiServer.dispatch``: method, target and body in; status and JSON body out."""

TOKEN_HEADER = "X-Console-Token"
_STATIC = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_EXECUTION_PATH = re.compile(r"/console/executions/([^/]+)")
_CALLBACK_URI = "/2025-12-01/durable-execution-callbacks/{}/{}"


class _Refused(Exception):
    """A request the console will not serve; ``message`` is safe to show (no payload)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Response:
    status: int
    content_type: str
    body: bytes


def _json(status: int, document: Any) -> _Response:
    return _Response(status, "application/json", json.dumps(document).encode())


class Console:
    """The console of one server: ``answer`` serves its requests and declines the others.

    ``current_code`` names the handler ``replay`` runs for a function: by default the
    one registered in the service; ``durable serve`` loads it again from its
    ``MODULE:HANDLER`` so an edited file is what gets replayed.
    """

    def __init__(self, service: LocalService, dispatch: Dispatch) -> None:
        self.service = service
        self.dispatch = dispatch
        self.token = secrets.token_urlsafe(32)
        self.current_code: Callable[[str], LambdaHandler | None] = service.registered().get

    def answer(self, request: BaseHTTPRequestHandler, body: bytes) -> bool:
        """Serve ``request`` if it is the console's (``/``, ``/console/...``): True if it was."""
        url = urlsplit(request.path)
        if url.path != "/" and not url.path.startswith("/console/"):
            return False
        try:
            _check_loopback(request)
            if request.command == "GET":
                response = self._get(url.path, url.query, request.headers.get("Accept") or "")
            elif request.command == "POST" and url.path.startswith("/console/actions/"):
                self._check_action(request)
                response = self._act(url.path.removeprefix("/console/actions/"), body)
            else:
                raise _Refused(405, "method not allowed")
        except _Refused as exc:
            response = _json(exc.status, {"message": exc.message})
        _send(request, response)
        return True

    # -- checks -----------------------------------------------------------------------

    def _check_action(self, request: BaseHTTPRequestHandler) -> None:
        given = request.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise _Refused(403, f"missing or wrong {TOKEN_HEADER}: reload the page")
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type.lower() != "application/json":
            raise _Refused(415, "actions take a JSON body (Content-Type: application/json)")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"http://{request.headers.get('Host')}":
            raise _Refused(403, "cross-origin action refused")

    # -- pages ------------------------------------------------------------------------

    def _get(self, path: str, query: str, accept: str) -> _Response:
        if path.startswith("/console/static/"):
            return _static(path.removeprefix("/console/static/"))
        now = self.service.clock.now()
        if path == "/":
            executions = self.service.store.summaries()
            registered = sorted(self.service.registered())
            functions = sorted({e.function_name for e in executions} | set(registered))
            list_query = ListQuery(parse_qs(query), functions)
            page, regions = list_page(
                executions, list_query, functions, registered, self.token, now
            )
        else:
            match = _EXECUTION_PATH.fullmatch(path)
            execution = self.service.store.load(unquote(match.group(1))) if match else None
            if execution is None:
                raise _Refused(404, "no such page or execution")
            running = execution.status is ExecutionStatus.RUNNING
            callbacks = self.service.callbacks(execution.arn) if running else []
            page, regions = execution_page(execution, callbacks, self.token, now)
        if "application/json" in accept:
            return _json(200, {"regions": regions})
        return _Response(200, "text/html; charset=utf-8", page.encode())

    # -- actions ----------------------------------------------------------------------

    def _act(self, action: str, body: bytes) -> _Response:
        try:
            document = json.loads(body)
        except ValueError:
            raise _Refused(400, "the body is not JSON") from None
        if not isinstance(document, dict):
            raise _Refused(400, "the body must be a JSON object")
        if action == "start":
            return self._start(document)
        if action == "replay":
            return self._replay(_text(document, "DurableExecutionArn"))
        if action == "stop":
            arn = quote(_text(document, "DurableExecutionArn"), safe="")
            return self._call("POST", f"/2025-12-01/durable-executions/{arn}/stop", b"{}")
        outcome = action.removeprefix("callback-")
        if outcome not in ("succeed", "fail", "heartbeat") or outcome == action:
            raise _Refused(404, "no such action")
        target = _CALLBACK_URI.format(quote(_text(document, "CallbackId"), safe=""), outcome)
        if outcome == "succeed":
            return self._call("POST", target, _json_text(document, "Result").encode())
        if outcome == "fail":
            error = {
                wire: value
                for wire in ("ErrorType", "ErrorMessage")
                if isinstance(value := document.get(wire), str) and value
            }
            return self._call("POST", target, json.dumps(error).encode())
        return self._call("POST", target, b"")

    def _call(self, method: str, target: str, body: bytes) -> _Response:
        """The request boto3 would send, through the server's dispatcher; its error as ours."""
        status, answer = self.dispatch(method, target, body)
        if status >= 400:
            raise _Refused(status, f"{answer.get('__type')}: {answer.get('message')}")
        return _json(200, answer)

    def _start(self, document: dict[str, Any]) -> _Response:
        function = _text(document, "FunctionName")
        name = document.get("ExecutionName") or (
            f"{re.sub(r'[^a-zA-Z0-9_-]', '-', function)[:40]}-{uuid.uuid4().hex[:12]}"
        )
        start = {
            "AccountId": "123456789012",
            "FunctionName": function,
            "FunctionQualifier": "$LATEST",
            "ExecutionName": name,
            "ExecutionTimeoutSeconds": 900,
            "ExecutionRetentionPeriodDays": 7,
            "Input": _json_text(document, "Input"),
        }
        response = self._call("POST", "/start-durable-execution", json.dumps(start).encode())
        arn = json.loads(response.body)["ExecutionArn"]
        return _json(200, {"ExecutionArn": arn, "url": execution_url(arn)})

    def _replay(self, arn: str) -> _Response:
        """``durable replay`` of the stored operations against the function's current code."""
        execution = self.service.store.load(arn)
        if execution is None:
            raise _Refused(404, "no such execution")
        try:
            handler = self.current_code(execution.function_name)
            if handler is None:
                raise _Refused(409, f"no code is registered for {execution.function_name}")
            outcome = replay(handler, execution.operations)
        except CommandError as exc:  # the code on disk cannot be loaded: with its traceback
            report = f"{exc.details or ''}{exc}"
            return _json(200, {"report": report, "divergence": None})
        except Exception:
            report = "the code raised while replaying:\n" + traceback.format_exc()
            return _json(200, {"report": report, "divergence": None})
        return _json(200, {"report": outcome.report, "divergence": outcome.divergence})


def _check_loopback(request: BaseHTTPRequestHandler) -> None:
    """A loopback client naming a loopback host: nothing from the network, no rebinding."""
    try:
        client = ipaddress.ip_address(request.client_address[0])
    except ValueError:
        client = None
    host = request.headers.get("Host") or ""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if client is None or not client.is_loopback or name not in _LOOPBACK_NAMES:
        raise _Refused(403, "the console answers loopback requests to a loopback host only")


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise _Refused(400, f"{key} is required")
    return value


def _json_text(document: dict[str, Any], key: str) -> str:
    """A JSON document given as text (what the API carries), checked to be JSON."""
    value = document.get(key)
    text = value if isinstance(value, str) and value.strip() else "null"
    try:
        json.loads(text)
    except ValueError as exc:
        raise _Refused(400, f"{key} is not JSON: {exc.args[0].split(':')[0]}") from None
    return text


def _static(name: str) -> _Response:
    if name == "graph.css":
        return _Response(200, "text/css; charset=utf-8", GRAPH_CSS.encode())
    if name not in _STATIC:
        raise _Refused(404, "no such file")
    data = resources.files(__package__).joinpath("static", name).read_bytes()
    return _Response(200, _STATIC[name], data)


def _send(request: BaseHTTPRequestHandler, response: _Response) -> None:
    request.send_response(response.status)
    request.send_header("Content-Type", response.content_type)
    request.send_header("Content-Length", str(len(response.body)))
    for header, value in _SECURITY_HEADERS.items():
        request.send_header(header, value)
    request.end_headers()
    request.wfile.write(response.body)
