"""The ``durable`` command: run, inspect, serve and replay durable functions on this machine.

Every command works on a local SQLite store (``--store``, default
``.durable/durable.sqlite3``), so ``durable run`` then ``durable history`` just works.
A mistake (a typo in a handler, bad JSON, a missing store, an unknown callback id...)
prints one line and exits with a code that says what kind; an exception raised by the
user's own code is shown with its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import importlib
import importlib.util
import ipaddress
import json
import logging
import re
import shutil
import sqlite3
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence, Set
from enum import IntEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from durable_core import MemoryBackend, NonDeterministicExecutionError, use_backend
from durable_core.backends.memory import ExecutionRecord, ServiceError
from durable_core.errors import CheckpointError, qualified_type_name
from durable_core.execution import LambdaHandler
from durable_core.types import (
    ErrorObject,
    Operation,
    OperationType,
    OperationUpdate,
    WireFormatError,
)

from durable_testing.clock import Clock, RealClock, VirtualClock
from durable_testing.local_service import ExecutionResult, LocalService
from durable_testing.stores import (
    ExecutionStatus,
    ExecutionStore,
    ExecutionSummary,
    SqliteStore,
    StoredExecution,
    StoreInUseError,
)
from durable_testing.table import format_error_traces, format_history_table, format_stack_trace

__all__ = ["DEFAULT_STORE", "ExitCode", "load_handler", "main"]

DEFAULT_STORE = Path(".durable/durable.sqlite3")
_STORE_HELP = f"SQLite store (default {DEFAULT_STORE})"


class ExitCode(IntEnum):
    """What kind of outcome or mistake a command ended with (its exit status)."""

    OK = 0
    FAILED = 1  # the execution failed, a replay diverged, lint found problems
    USAGE = 2  # a bad argument, JSON text or execution name (argparse's own code too)
    WAITING = 3  # the execution still waits (a callback answer, or a real-time wait) at --timeout
    HANDLER = 4  # the handler cannot be loaded, or is not a durable handler
    FILE = 5  # a store or history file is missing or unreadable, or the store is in use
    NOT_FOUND = 6  # no such execution or callback
    SERVICE = 7  # the service refused, cannot be reached, or its port is taken
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)


_EXAMPLES = """examples:
  durable run examples/closure_order.py:handler --name o-1-run \
      --input '{"order_id": "o-1", "items": [1250, 800]}'
  durable history o-1-run --format tree
  durable callback succeed CALLBACK_ID --result '{"approved": true}'
  durable serve --port 8765 --register orders=examples/closure_order.py:handler
  durable history o-1-run --format json > saved.json
  durable replay saved.json examples/closure_order.py:handler
  durable lint examples/

exit codes:
  0 done  1 the execution failed (or a replay diverged, lint found problems)
  2 bad argument, JSON or --name  3 still waiting at --timeout (for a callback, or in real time)
  4 cannot load the handler, or it is not durable
  5 store or history file missing, unreadable or in use  6 no such execution or callback
  7 the service refused or cannot be reached (or the port is in use)  130 Ctrl-C
"""

_MAX_PORT = 65535

# boto3's service model: the DurableExecutionName shape, and a Lambda function's name (the
# FunctionName shape also takes ARNs; the service runs functions registered by name).
_EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, ``status`` is the exit code.
    ``details`` is the user's own traceback it follows, if any (printed already: a page
    that shows the error shows it too)."""

    def __init__(
        self, message: str, status: int = ExitCode.FAILED, details: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.details = details


# -- loading handlers -------------------------------------------------------------


def load_handler(spec: str) -> LambdaHandler:
    """``package.module:attr`` or ``path/to/file.py:attr`` -> the Lambda handler it names.

    A spec that names nothing is a ``CommandError``; an exception raised by the module's
    own code while it is imported is shown with its traceback (it is the user's).
    """
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise CommandError(f"durable: {spec!r} is not MODULE:HANDLER", ExitCode.USAGE)
    try:
        module = _import(target)
    except CommandError:
        raise
    except (Exception, SystemExit):  # sys.exit() at import too: not the command's own status
        details = traceback.format_exc()
        print(details, end="", file=sys.stderr)
        raise CommandError(
            f"durable: importing {target} raised (above)", ExitCode.HANDLER, details
        ) from None
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise CommandError(f"durable: {target} has no callable {attr!r}", ExitCode.HANDLER)
    if isinstance(handler, type):  # Lambda would call it to build an instance, each time
        raise CommandError(
            f"durable: {spec} is a class; name an instance of it (handler = {attr}())",
            ExitCode.HANDLER,
        )
    loaded: LambdaHandler = handler
    return loaded


def _import(target: str) -> Any:
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None or not path.is_file():
            raise CommandError(f"durable: no Python file at {path}", ExitCode.HANDLER)
        # Its folder is the function's code root, as Lambda's task root is on sys.path:
        # the modules beside it import as they will on Lambda.
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
        return module
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise  # a module the user's module imports: their traceback says which
        raise CommandError(
            f"durable: no module named {exc.name!r} (run from the folder that holds it,"
            " or name a file: path/to/file.py:handler)",
            ExitCode.HANDLER,
        ) from None


def _function_name(spec: str) -> str:
    """The function a handler is registered as: its module's name (``closure_order``)."""
    target = spec.rpartition(":")[0]
    return re.sub(r"[^a-zA-Z0-9_-]", "-", Path(target).stem.rpartition(".")[2])


def _json_argument(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CommandError(
            f"durable: {option} is not JSON ({exc}): {text!r}", ExitCode.USAGE
        ) from None


def _durable_command() -> str:
    """How to run this command again in another terminal: ``durable`` when it is on PATH,
    else through the interpreter that runs it now (no ``uv`` needed either way)."""
    if shutil.which("durable"):
        return "durable"
    return f"{sys.executable} -m durable_testing.cli"


# -- stores -----------------------------------------------------------------------


def _open_store(path: Path, *, must_exist: bool, read_only: bool = False) -> SqliteStore:
    """The store to read (beside a process writing it) or to write (refused while another
    process writes it: two writers would run every step twice)."""
    if (must_exist or read_only) and not path.exists():
        raise CommandError(
            f"durable: no store at {path} (durable run creates one; --store names another)",
            ExitCode.FILE,
        )
    _refuse_a_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStore(path, read_only=read_only)
    except StoreInUseError as exc:
        raise CommandError(f"durable: {exc}", ExitCode.FILE) from None
    except (OSError, sqlite3.Error) as exc:
        raise CommandError(f"durable: {path} is not a usable store: {exc}", ExitCode.FILE) from None


def _refuse_a_folder(path: Path) -> None:
    """``--store`` names the store's file; SQLite's own word for a folder there is a
    misleading "unable to open database file" or "disk I/O error"."""
    if path.is_dir():
        raise CommandError(
            f"durable: {path} is a folder; --store names the store's file"
            f" (e.g. {path / DEFAULT_STORE.name})",
            ExitCode.FILE,
        )


def _store_option(path: Path) -> str:
    return "" if path == DEFAULT_STORE else f" --store {path}"


class _ProgressStore:
    """A store that prints each new history event as the service saves it: live progress."""

    def __init__(self, inner: ExecutionStore) -> None:
        self.inner = inner
        self._shown: dict[str, int] = {}

    def save(self, execution: StoredExecution) -> None:
        self.inner.save(execution)
        for event in execution.events[self._shown.get(execution.arn, 0) :]:
            name = event.get("Name") or ""
            print(f"  {event['EventType']:<22} {name}", file=sys.stderr, flush=True)
        self._shown[execution.arn] = len(execution.events)

    def load(self, arn: str) -> StoredExecution | None:
        execution = self.inner.load(arn)
        if execution is not None:  # what an earlier process recorded is not news
            self._shown.setdefault(arn, len(execution.events))
        return execution

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        executions = self.inner.list_executions(unfinished_only=unfinished_only)
        for execution in executions:
            self._shown.setdefault(execution.arn, len(execution.events))
        return executions

    def summaries(self, function_name: str | None = None) -> list[ExecutionSummary]:
        return self.inner.summaries(function_name)

    def callback_execution(self, callback_id: str) -> str | None:
        return self.inner.callback_execution(callback_id)


def _find(store: ExecutionStore, query: str) -> StoredExecution:
    """An ARN is named by itself, its unique suffix, or its execution name."""
    matches = [
        e
        for e in store.list_executions()
        if e.arn == query or e.arn.endswith("/" + query) or f"/durable-execution/{query}/" in e.arn
    ]
    if len(matches) != 1:
        problem = "no execution matches" if not matches else "several executions match"
        listing = "".join(f"\n  {e.arn}" for e in matches)
        status = ExitCode.NOT_FOUND if not matches else ExitCode.USAGE
        raise CommandError(f"durable: {problem} {query!r}{listing}", status)
    return matches[0]


# -- live answers: a running command serves callback answers to other terminals ----


def _api_server(service: LocalService, host: str, port: int, *, drive: bool) -> Any:
    from durable_testing.http import LambdaApiServer

    try:
        with warnings.catch_warnings():  # its warning is logged too: shown once is enough
            warnings.simplefilter("ignore", UserWarning)
            return LambdaApiServer(service, host, port, drive=drive)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            problem = f"port {port} on {host} is in use: pick another --port (0 picks a free one)"
        else:
            problem = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise CommandError(f"durable: {problem}", ExitCode.SERVICE) from None


def _callback_target(path: Path) -> tuple[str | None, SqliteStore | None]:
    """Where a callback answer for the store at ``path`` goes: to the ``durable run`` or
    ``durable serve`` that owns it (its endpoint: the execution carries on at once), or
    into the store itself when no process owns it."""
    if not path.exists():
        raise CommandError(f"durable: no store at {path}", ExitCode.FILE)
    _refuse_a_folder(path)
    try:
        return None, SqliteStore(path)
    except StoreInUseError as exc:
        if exc.owner is not None and exc.owner.endpoint:
            return exc.owner.endpoint, None
        raise CommandError(
            f"durable: {exc}; send the answer when it has finished, or through a"
            " `durable serve` on this store (--endpoint)",
            ExitCode.FILE,
        ) from None
    except sqlite3.Error as exc:
        raise CommandError(f"durable: {path} is not a usable store: {exc}", ExitCode.FILE) from None


# -- commands ---------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    input_value = _json_argument(args.input, "--input")
    name = args.name or f"{_function_name(args.handler)}-{uuid.uuid4().hex[:8]}"
    if not _EXECUTION_NAME.fullmatch(name):
        raise CommandError(
            f"durable: --name {name!r} is not an execution name: 1 to 64 letters, digits,"
            " '-' or '_'",
            ExitCode.USAGE,
        )
    inner = _open_store(args.store, must_exist=False)
    function = _function_name(args.handler)
    if args.name and any(f"/durable-execution/{name}/" in e.arn for e in inner.summaries(function)):
        raise CommandError(
            f"durable: {args.store} already holds an execution named {name!r}; pick another"
            " --name (`durable history NAME` must find one)",
            ExitCode.USAGE,
        )
    clock: Clock = RealClock() if args.real_time else VirtualClock()
    service = LocalService(store=_ProgressStore(inner), clock=clock)
    handler = _AnswerWatch(load_handler(args.handler))
    service.register(function, handler, spec=args.handler)
    server = _api_server(service, "127.0.0.1", 0, drive=False)
    inner.advertise(server.endpoint_url)  # `durable callback --store` answers through it
    # The server starts before the service's lines are shown: its "serving on" line is
    # `durable serve`'s news, noise for a run.
    announced: set[str] = set()  # the callbacks the run has said how to answer
    with server, _service_logs():
        arn = service.start(function, input_value, execution_name=name)
        try:
            result = _run_while_answerable(service, arn, args, announced)
        except KeyboardInterrupt:
            resumes = (
                "an answer to its callback (`durable callback`)"
                if service.callbacks(arn)
                else _serve_command(function, args.handler, args.store)
            )
            print(
                f"\ndurable: stopped; {name} stays in {args.store}: {resumes} resumes it",
                file=sys.stderr,
            )
            return ExitCode.INTERRUPTED
    if handler.not_durable:
        raise _not_durable(args.handler, handler.not_durable[0])
    return _report(
        result, args.store, _serve_command(function, args.handler, args.store), announced
    )


def _serve_command(function: str, spec: str, store: Path) -> str:
    """The command that resumes an execution no process drives: `durable serve` picks up
    a store's unfinished executions."""
    return f"`durable serve --register {function}={spec}{_store_option(store)}`"


_DURABLE_STATUSES = frozenset(("SUCCEEDED", "FAILED", "PENDING"))


def _not_durable(handler: str, answer: Any) -> CommandError:
    shown = repr(answer)
    return CommandError(
        f"durable: {handler} is not a durable handler: it returned"
        f" {shown[:80]}{'...' if len(shown) > 80 else ''}, not {{'Status': ...}};"
        " wrap the function: durable_closure.run(fn), @durable_execution, a"
        " DurableHandler subclass's instance or DurableBuilder(fn).build()",
        ExitCode.HANDLER,
    )


class _AnswerWatch:
    """The loaded handler, watched for answers that are not a durable handler's
    (``{"Status": SUCCEEDED|FAILED|PENDING, ...}``): pointing ``durable run`` at a plain
    function is a handler mistake, not a failure of the execution."""

    def __init__(self, handler: LambdaHandler) -> None:
        self.handler = handler
        self.not_durable: list[Any] = []

    def __call__(self, event: Any, lambda_context: Any) -> dict[str, Any]:
        response = self.handler(event, lambda_context)
        if not (isinstance(response, dict) and response.get("Status") in _DURABLE_STATUSES):
            self.not_durable.append(response)
        return response


def _run_while_answerable(
    service: LocalService, arn: str, args: argparse.Namespace, announced: set[str]
) -> ExecutionResult:
    """Drive the execution; while it waits for callbacks, say how to answer each and keep
    waiting (answers arrive through this process's endpoint) until it ends or ``--timeout``
    wall-clock seconds pass."""
    deadline = time.monotonic() + args.timeout
    while True:
        with contextlib.suppress(TimeoutError):  # a real-time wait: look for answers
            service.run_until_complete(arn, timeout=0.5, time_out_callbacks=args.time_out_callbacks)
        result = service.describe(arn)
        if result.status is not ExecutionStatus.RUNNING or time.monotonic() > deadline:
            return result
        for pending in service.callbacks(arn):
            if pending.callback_id not in announced:
                announced.add(pending.callback_id)
                _say_how_to_answer(pending.name, pending.callback_id, args.store)
        time.sleep(0.05)


def _say_how_to_answer(name: str | None, callback_id: str, store: Path) -> None:
    command = f"{_durable_command()} callback succeed {callback_id}"
    print(
        f"waiting for callback {f'{name} ' if name else ''}{callback_id}\n"
        f"  answer it from another terminal: {command} --result JSON{_store_option(store)}",
        file=sys.stderr,
        flush=True,
    )


def _report(
    result: ExecutionResult, store: Path, resumes: str, announced: Set[str] = frozenset()
) -> int:
    """The outcome line, the error with the user's frames, or the result on stdout. While
    it still runs: how to answer each pending callback not ``announced`` already, or, with
    none (a wait or retry not due yet), the command that resumes it (``resumes``)."""
    print(f"{result.status.value} after {result.invocations} invocation(s)", file=sys.stderr)
    if result.status is ExecutionStatus.RUNNING:
        pending = [
            (op.name, op.callback_details.callback_id)
            for op in result.operations
            if op.callback_details and op.callback_details.callback_id and not op.status.is_terminal
        ]
        for name, callback_id in pending:
            if callback_id not in announced:
                _say_how_to_answer(name, callback_id, store)
        if pending:
            print(
                "durable: still waiting (--timeout); an answer sent later resumes it",
                file=sys.stderr,
            )
        else:
            print(
                "durable: still running at --timeout (a wait or retry is not due yet);"
                f" {resumes} resumes it",
                file=sys.stderr,
            )
        return ExitCode.WAITING
    if result.error is not None:
        for line in _error_lines(result.error, result.operations):
            print(line, file=sys.stderr)
        return ExitCode.FAILED
    print(json.dumps(result.result, indent=2))
    return ExitCode.OK


def _error_lines(error: ErrorObject, operations: Sequence[Operation]) -> list[str]:
    """``error: Type: message`` and where the user's code raised it: the execution error's
    own StackTrace, else that of the failed operation that carries one."""
    lines = [f"error: {error.error_type}: {error.error_message}"]
    trace = error.stack_trace
    if not trace:
        failed = [op.error for op in operations if op.error is not None and op.error.stack_trace]
        trace = failed[0].stack_trace if failed else None
    return lines + format_stack_trace(trace)


@contextlib.contextmanager
def _service_logs() -> Iterator[None]:
    """Show the service's invocation and timer lines while a command drives it."""
    log = logging.getLogger("durable_testing")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    previous = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)


def _cmd_list(args: argparse.Namespace) -> int:
    for execution in _open_store(args.store, must_exist=True, read_only=True).list_executions():
        print(f"{execution.status.value:<10} {execution.function_name:<20} {execution.arn}")
    return ExitCode.OK


def _cmd_history(args: argparse.Namespace) -> int:
    execution = _find(_open_store(args.store, must_exist=True, read_only=True), args.arn)
    output = "json-events" if args.json else args.format
    if output == "json-events":
        print(json.dumps(execution.events, default=_iso, indent=2))
    elif output == "json":
        saved = {
            "DurableExecutionArn": execution.arn,
            "Events": execution.events,
            "Operations": [op.to_wire() for op in execution.operations],
        }
        print(json.dumps(saved, default=_iso, indent=2))
    elif output == "tree":
        print(format_operation_tree(execution.operations))
    elif output in ("mermaid", "html"):
        from durable_testing.graph import render_html, render_mermaid

        render = render_mermaid if output == "mermaid" else render_html
        print(render(execution.events))
    else:
        print(format_history_table(execution.events))
        traces = format_error_traces(execution.events)
        if traces:
            print(f"\nwhere the errors were raised:\n{traces}")
    return ExitCode.OK


def _iso(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def format_operation_tree(operations: Sequence[Operation]) -> str:
    """Operations under their parent contexts, with status, attempts and result."""
    lines: list[str] = []

    def describe(op: Operation) -> str:
        parts = [op.type.value, repr(op.name) if op.name else op.id[:12], op.status.value]
        if op.step_details and (op.step_details.attempt or 0) > 1:
            parts.append(f"{op.step_details.attempt} attempts")
        if op.result:
            parts.append(f"-> {op.result[:60]}")
        if op.error:
            parts.append(f"!! {op.error.error_type}: {op.error.error_message}")
        return " ".join(parts)

    def walk(parent: str | None, prefix: str) -> None:
        children = [
            op for op in operations if op.parent_id == parent and op.type.value != "EXECUTION"
        ]
        for i, op in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{describe(op)}")
            walk(op.id, prefix + ("    " if last else "│   "))

    root = next((op for op in operations if op.type.value == "EXECUTION"), None)
    lines.append(f"EXECUTION {root.status.value if root else ''}".rstrip())
    walk(None, "")
    return "\n".join(lines)


def _cmd_callback(args: argparse.Namespace) -> int:
    for option, value, outcome in (
        ("--result", args.result, "succeed"),
        ("--error-type", args.error_type, "fail"),
        ("--error-message", args.error_message, "fail"),
    ):
        if value is not None and args.outcome != outcome:  # it would be dropped unsent
            raise CommandError(
                f"durable: {option} goes with `callback {outcome}`, not `callback {args.outcome}`",
                ExitCode.USAGE,
            )
    result = None if args.result is None else _json_argument(args.result, "--result")
    payload = json.dumps(result) if args.result is not None else "null"
    endpoint, store = args.endpoint, None
    if endpoint is not None:
        _check_endpoint(endpoint)
    else:
        endpoint, store = _callback_target(args.store)
    if endpoint is None:
        assert store is not None
        return _answer_in_store(args, payload, store)
    try:
        _send_to_endpoint(endpoint, args, payload)
    except _Unreachable:
        raise CommandError(
            f"durable: cannot reach {endpoint} (is `durable serve` running?)", ExitCode.SERVICE
        ) from None
    print(f"callback {args.callback_id}: {args.outcome} sent to {endpoint}")
    return ExitCode.OK


def _check_endpoint(endpoint: str) -> None:
    """boto3 takes an endpoint it cannot use only to fail with a traceback-worthy error."""
    try:
        url = urlsplit(endpoint)
        usable = url.scheme in ("http", "https") and bool(url.hostname) and url.port != 0
    except ValueError:  # a port out of range
        usable = False
    if not usable:
        raise CommandError(
            f"durable: --endpoint {endpoint!r} is not an http(s) URL with a host, like"
            " http://127.0.0.1:8765",
            ExitCode.USAGE,
        )


class _Unreachable(Exception):
    """Nothing answers at the endpoint."""


def _send_to_endpoint(endpoint: str, args: argparse.Namespace, payload: str) -> None:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        HTTPClientError,
        ParamValidationError,
    )

    client = _client(endpoint, attempts=3 if args.endpoint else 1)
    try:
        if args.outcome == "succeed":
            client.send_durable_execution_callback_success(
                CallbackId=args.callback_id, Result=payload.encode()
            )
        elif args.outcome == "fail":
            error = {"ErrorType": args.error_type, "ErrorMessage": args.error_message}
            client.send_durable_execution_callback_failure(
                CallbackId=args.callback_id, Error={k: v for k, v in error.items() if v}
            )
        else:
            client.send_durable_execution_callback_heartbeat(CallbackId=args.callback_id)
    except (EndpointConnectionError, HTTPClientError):  # refused, reset, or no answer in time
        raise _Unreachable from None
    except ParamValidationError as exc:  # boto3 checked the request against the API's shapes
        report = "; ".join(str(exc.kwargs.get("report", exc)).splitlines())
        raise CommandError(f"durable: not sent: {report}", ExitCode.USAGE) from None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "ServiceException"))
        message = str(exc.response.get("Error", {}).get("Message", exc))
        raise _service_refused(code, message) from None


def _service_refused(code: str, message: str) -> CommandError:
    status = ExitCode.NOT_FOUND if code == "ResourceNotFoundException" else ExitCode.SERVICE
    return CommandError(f"durable: the service answered {code}: {message}", status)


def _answer_in_store(args: argparse.Namespace, payload: str, owned: SqliteStore) -> int:
    """No process runs the store: record the answer in it, then resume the execution with
    the handler the store remembers, as the service would invoke it."""
    store = _ProgressStore(owned)
    service = LocalService(store=store)
    send: Callable[[], None]
    if args.outcome == "succeed":
        send = lambda: service.send_callback_success(args.callback_id, payload=payload)  # noqa: E731
    elif args.outcome == "fail":
        send = lambda: service.send_callback_failure(  # noqa: E731
            args.callback_id, error_type=args.error_type, error_message=args.error_message
        )
    else:
        send = lambda: service.send_callback_heartbeat(args.callback_id)  # noqa: E731
    try:
        send()
    except ServiceError as exc:
        raise _service_refused(exc.code, exc.message) from None
    print(f"callback {args.callback_id}: {args.outcome} sent", file=sys.stderr)
    arn = _execution_of(service, args.callback_id)
    stored = service.describe(arn)
    spec = store.load(arn)
    handler_spec = spec.handler if spec is not None else None
    if args.outcome == "heartbeat" or stored.status is not ExecutionStatus.RUNNING:
        return ExitCode.OK
    if handler_spec is None:
        print(
            f"durable: {arn} resumes when a service runs it, e.g. `durable serve --register"
            f" {stored.function_name}=MODULE:HANDLER{_store_option(args.store)}`",
            file=sys.stderr,
        )
        return ExitCode.OK
    service.register(stored.function_name, load_handler(handler_spec), spec=handler_spec)
    print(f"resuming {arn} with {handler_spec}", file=sys.stderr)
    resumes = _serve_command(stored.function_name, handler_spec, args.store)
    with _service_logs():
        try:
            result = service.run_until_complete(arn)
        except KeyboardInterrupt:
            print(
                f"\ndurable: stopped; the answer is recorded in {args.store}: {resumes}"
                " resumes the execution",
                file=sys.stderr,
            )
            return ExitCode.INTERRUPTED
    return _report(result, args.store, resumes)


def _execution_of(service: LocalService, callback_id: str) -> str:
    for arn, record in service.backend.executions.items():
        if callback_id in record.callbacks:
            return arn
    raise CommandError(f"durable: callback {callback_id} not found", ExitCode.NOT_FOUND)


def _client(endpoint: str, attempts: int = 3) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": attempts}, connect_timeout=5),
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= _MAX_PORT:
        raise CommandError(
            f"durable: --port {args.port} is not a port: 0 to {_MAX_PORT} (0 picks a free one)",
            ExitCode.USAGE,
        )
    clock: Clock = RealClock() if args.real_time else VirtualClock()
    store = _open_store(args.store, must_exist=False)
    service = LocalService(store=store, clock=clock, keep_finished=False)
    specs: dict[str, str] = {}
    for registration in args.register:
        name, _, spec = registration.partition("=")
        if not spec:
            raise CommandError(
                f"durable: --register wants NAME=MODULE:HANDLER, not {registration!r}",
                ExitCode.USAGE,
            )
        if not _FUNCTION_NAME.fullmatch(name):
            raise CommandError(
                f"durable: --register {name!r} is not a function name: 1 to 64 letters,"
                " digits, '-' or '_'",
                ExitCode.USAGE,
            )
        if name in specs:
            raise CommandError(
                f"durable: --register {name!r} twice ({specs[name]} and {spec}): one handler"
                " per function name",
                ExitCode.USAGE,
            )
        service.register(name, load_handler(spec), spec=spec)
        specs[name] = spec
    server = _api_server(service, args.host, args.port, drive=True)
    store.advertise(server.endpoint_url)
    # The console's replay runs the code as it is now on disk, not as it was at start.
    server.console.current_code = lambda name: load_handler(specs[name]) if name in specs else None
    # Started before the service's lines are shown: the line below says where it serves,
    # once.
    with server, _service_logs(), contextlib.suppress(KeyboardInterrupt):
        print(
            f"durable: serving on {server.endpoint_url}, {_console_at(server.endpoint_url)}"
            " (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        threading.Event().wait()  # until Ctrl-C
    return ExitCode.OK


def _console_at(endpoint_url: str) -> str:
    """Where the console answers: it serves loopback clients naming a loopback host only,
    so a server on every address (0.0.0.0) shows it at 127.0.0.1, one on another address
    nowhere."""
    url = urlsplit(endpoint_url)
    host = url.hostname or ""
    if host == "0.0.0.0":
        return f"console at http://127.0.0.1:{url.port}/"
    with contextlib.suppress(ValueError):  # the bound address: an IP, but never a traceback
        if ipaddress.ip_address(host).is_loopback:
            return f"console at {endpoint_url}/"
    return f"no console (it answers on a loopback address only; --host {host} is not one)"


def _cmd_replay(args: argparse.Namespace) -> int:
    path = Path(args.history)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CommandError(
            f"durable: cannot read {path}: {exc.strerror or exc}", ExitCode.FILE
        ) from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"durable: {path} is not JSON ({exc})", ExitCode.FILE) from None
    saved = _saved_history(document, path)
    handler = load_handler(args.handler)
    outcome = replay(handler, saved.operations, saved.outcome, handler_name=args.handler)
    print(outcome.report)
    return ExitCode.OK if outcome.divergence is None else ExitCode.FAILED


_NON_DETERMINISTIC = qualified_type_name(NonDeterministicExecutionError("", operation_id=""))


class ReplayOutcome:
    """What a replay found: the first divergence (``None`` when there is none) and a report."""

    def __init__(self, report: str, divergence: str | None = None) -> None:
        self.report = report
        self.divergence = divergence


class SavedOutcome:
    """How the saved execution ended, from its history: ``status`` (``None`` while it was
    running), the result payload or the error type."""

    def __init__(
        self, status: str | None = None, result: str | None = None, error_type: str | None = None
    ) -> None:
        self.status = status
        self.result = result
        self.error_type = error_type


def replay(
    handler: LambdaHandler,
    operations: list[Operation],
    saved: SavedOutcome | None = None,
    *,
    handler_name: str = "the handler",
) -> ReplayOutcome:
    """Re-run ``handler`` against a saved checkpoint log on a ``MemoryBackend``.

    The recorded operations replay from the log; a checkpoint of an operation the log
    does not hold is refused, which ends the replay where the saved history ends (the
    body of a new at-least-once step may still run once before its result is refused).
    When the saved execution had ended, the code must end the same way (status, result
    or error type) without going past the log: a history of another handler fails here.
    A handler that does not answer as a durable one is a ``CommandError`` naming
    ``handler_name``.
    """
    saved = saved or SavedOutcome()
    recorded = {op.id: op for op in operations}
    backend = _RecordedOnlyBackend(recorded)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:replay:$LATEST/durable-execution/replay/r"
    backend.executions[arn] = ExecutionRecord(arn=arn, operations=dict(recorded))
    event = backend.invocation_event(arn)
    try:
        with use_backend(backend):
            response = handler(event, None)
    except CheckpointError as exc:
        if saved.status is not None:
            message = f"the saved execution ended {saved.status}, but {exc}"
            return ReplayOutcome(f"divergence: {message}", divergence=message)
        return ReplayOutcome(f"no divergence in {len(recorded)} recorded operations; {exc}")
    if not isinstance(response, dict) or response.get("Status") not in _DURABLE_STATUSES:
        raise _not_durable(handler_name, response)
    error = response.get("Error") or {}
    if error.get("ErrorType") == _NON_DETERMINISTIC:
        message = str(error.get("ErrorMessage"))
        return ReplayOutcome(f"divergence: {message}", divergence=message)
    answered = response.get("Status")
    differs = _differs(saved, answered, response.get("Result"), error)
    if differs is not None:
        return ReplayOutcome(f"divergence: {differs}", divergence=differs)
    return ReplayOutcome(
        f"no divergence: {len(recorded)} recorded operations replayed "
        f"(the handler answered {answered})"
    )


def _differs(
    saved: SavedOutcome, answered: str | None, result: Any, error: dict[str, Any]
) -> str | None:
    """How the replay's ending differs from the saved one (None: it does not, or the saved
    execution had not ended)."""
    if saved.status is None:
        return None
    now = (
        f"{answered} ({error.get('ErrorType')}: {error.get('ErrorMessage')})" if error else answered
    )
    if answered != saved.status:
        return f"the saved execution ended {saved.status}, the code now ends {now}"
    if answered == "SUCCEEDED" and _parsed(result) != _parsed(saved.result):
        return f"the saved execution returned {saved.result}, the code now returns {result}"
    if answered == "FAILED" and error.get("ErrorType") != saved.error_type:
        return f"the saved execution failed with {saved.error_type}, the code now ends {now}"
    return None


def _parsed(payload: Any) -> Any:
    try:
        return json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        return payload


class _RecordedOnlyBackend(MemoryBackend):
    """A MemoryBackend that accepts updates only for operations of the saved log."""

    def __init__(self, recorded: dict[str, Operation]) -> None:
        super().__init__()
        self._recorded = recorded

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> Any:
        for update in updates:
            if update.id not in self._recorded:
                label = f"{update.type.value} {update.name or update.id}"
                raise CheckpointError(
                    f"the code goes on past the saved history with {label}",
                    retryable=False,
                    error_code="ReplayEnd",
                )
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


class _SavedHistory:
    def __init__(self, operations: list[Operation], outcome: SavedOutcome) -> None:
        self.operations = operations
        self.outcome = outcome


_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionStopped": "STOPPED",
}


def _saved_history(document: Any, path: Path) -> _SavedHistory:
    """``durable history --format json`` output (or a bare list of operations): its
    operations, one of them the EXECUTION, and how it ended according to its events."""
    how = "save one with `durable history ARN --format json`"
    raw = document.get("Operations") if isinstance(document, dict) else document
    if not isinstance(raw, list) or not raw:
        raise CommandError(f"durable: {path} holds no operations; {how}", ExitCode.FILE)
    try:
        operations = [Operation.from_wire(op) for op in raw]
    except WireFormatError as exc:
        raise CommandError(
            f"durable: {path} is not a saved history (an operation: {exc}); {how}", ExitCode.FILE
        ) from None
    if [op.type for op in operations].count(OperationType.EXECUTION) != 1:
        raise CommandError(
            f"durable: {path} is not a saved history (it needs one EXECUTION operation); {how}",
            ExitCode.FILE,
        )
    events = document.get("Events") if isinstance(document, dict) else None
    outcome = SavedOutcome()
    for event in events if isinstance(events, list) else []:
        kind = event.get("EventType") if isinstance(event, dict) else None
        if kind in _ENDINGS:
            details = event.get(f"{kind}Details") or {}
            outcome = SavedOutcome(
                status=_ENDINGS[kind],
                result=(details.get("Result") or {}).get("Payload"),
                error_type=((details.get("Error") or {}).get("Payload") or {}).get("ErrorType"),
            )
    return _SavedHistory(operations, outcome)


def _cmd_budget(args: argparse.Namespace) -> int:
    from durable_testing.budget import format_budget_report

    if args.top < 1:
        raise CommandError(
            f"durable: --top {args.top} lists nothing: give 1 or more", ExitCode.USAGE
        )
    execution = _find(_open_store(args.store, must_exist=True, read_only=True), args.arn)
    print(format_budget_report(execution.operations, top=args.top))
    return ExitCode.OK


def _cmd_lint(args: argparse.Namespace) -> int:
    try:
        lint = importlib.import_module("durable_testing.lint")
    except ModuleNotFoundError:
        print("durable: lint is not available (durable_testing.lint is missing)", file=sys.stderr)
        return ExitCode.USAGE
    status: int = lint.main([*args.paths, "--format", args.format])
    return status


# -- the parser -------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable",
        description=__doc__,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, epilog: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=f"example:\n  {epilog}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return sub

    def store_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--store",
            type=Path,
            default=DEFAULT_STORE,
            help=f"SQLite store (default {DEFAULT_STORE})",
        )

    run = command(
        "run",
        "run a handler to completion on the embedded local service, showing progress",
        'durable run examples/closure_order.py:handler --input \'{"order_id": 1, "items": [8]}\'',
    )
    run.add_argument("handler", metavar="MODULE:HANDLER", help="pkg.module:attr or file.py:attr")
    run.add_argument("--input", default="null", help="the execution's input, as JSON")
    run.add_argument("--name", help="the execution name (default: generated)")
    run.add_argument("--real-time", action="store_true", help="really wait (default: skip time)")
    run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="wall-clock seconds to allow, waiting for callback answers included (default 600)",
    )
    run.add_argument(
        "--time-out-callbacks",
        action="store_true",
        help="let unanswered callbacks time out (default: skipped time stops at their deadline"
        " and the run waits for an answer from another terminal)",
    )
    store_option(run)
    run.set_defaults(func=_cmd_run)

    listing = command("list", "list the executions of a store", "durable list")
    store_option(listing)
    listing.set_defaults(func=_cmd_list)

    history = command(
        "history",
        "print the history of one execution",
        "durable history o-1-run --format tree",
    )
    history.add_argument("arn", help="DurableExecutionArn, its last part, or the execution name")
    output = history.add_mutually_exclusive_group()  # one output: --json is a format too
    output.add_argument(
        "--format",
        choices=("table", "tree", "json", "mermaid", "html"),
        default="table",
        help="table of events (default), operation tree, JSON (for `durable replay`),"
        " or a graph: Markdown with mermaid diagrams, or a self-contained HTML page",
    )
    output.add_argument("--json", action="store_true", help="only the events, as JSON")
    store_option(history)
    history.set_defaults(func=_cmd_history)

    callback = command(
        "callback",
        "complete, fail or heartbeat a callback: sent to the `durable run` or `durable serve`"
        " working on the store, else recorded in the store and resumed here",
        "durable callback succeed CALLBACK_ID --result '{\"ok\": true}'",
    )
    callback.add_argument("outcome", choices=("succeed", "fail", "heartbeat"))
    callback.add_argument("callback_id", metavar="ID")
    callback.add_argument("--result", help="the callback's result, as JSON (succeed)")
    callback.add_argument("--error-type", help="the failure's type (fail)")
    callback.add_argument("--error-message", help="the failure's message (fail)")
    target = callback.add_mutually_exclusive_group()
    target.add_argument("--endpoint", help="a running `durable serve` (or other Lambda API) URL")
    target.add_argument("--store", type=Path, default=DEFAULT_STORE, help=_STORE_HELP)
    callback.set_defaults(func=_cmd_callback)

    serve = command(
        "serve",
        "serve the Lambda durable execution API over HTTP on this machine, and a web console"
        " at / to watch executions and answer their callbacks",
        "durable serve --port 8765 --register orders=examples/closure_order.py:handler",
    )
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765, 0 = any)")
    serve.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="NAME=MODULE:HANDLER",
        help="a function the server may run (repeat for more)",
    )
    serve.add_argument("--real-time", action="store_true", help="really wait (default: skip time)")
    store_option(serve)
    serve.set_defaults(func=_cmd_serve)

    replay_cmd = command(
        "replay",
        "re-run the current code against a saved history to catch non-determinism",
        "durable replay saved.json examples/closure_order.py:handler",
    )
    replay_cmd.add_argument("history", help="`durable history --format json` output")
    replay_cmd.add_argument("handler", metavar="MODULE:HANDLER")
    replay_cmd.set_defaults(func=_cmd_replay)

    budget = command(
        "budget",
        "list an execution's largest payloads and how close each is to its service limit",
        "durable budget o-1-run --top 5",
    )
    budget.add_argument("arn", help="DurableExecutionArn, its last part, or the execution name")
    budget.add_argument("--top", type=int, default=10, help="how many payloads (default 10)")
    store_option(budget)
    budget.set_defaults(func=_cmd_budget)

    lint = command("lint", "check durable handlers for replay hazards", "durable lint examples/")
    lint.add_argument("paths", nargs="+", metavar="PATH")
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.set_defaults(func=_cmd_lint)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    except sqlite3.Error as exc:
        print(f"durable: the store {args.store} is unreadable: {exc}", file=sys.stderr)
        return ExitCode.FILE
    except ServiceError as exc:
        refused = _service_refused(exc.code, exc.message)
        print(refused, file=sys.stderr)
        return refused.status
    except KeyboardInterrupt:  # Ctrl-C at a moment no command handles itself
        print("\ndurable: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return status


if __name__ == "__main__":
    sys.exit(main())
