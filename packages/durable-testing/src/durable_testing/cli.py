"""The ``durable`` command: run, inspect, serve and replay durable functions on this machine.

Every command works on a local SQLite store (``--store``, default
``.durable/durable.sqlite3``), so ``durable run`` then ``durable history`` just works.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from durable_core import MemoryBackend, NonDeterministicExecutionError, use_backend
from durable_core.backends.memory import ExecutionRecord
from durable_core.errors import CheckpointError, qualified_type_name
from durable_core.execution import LambdaHandler
from durable_core.types import Operation, OperationUpdate

from durable_testing.clock import Clock, RealClock, VirtualClock
from durable_testing.local_service import LocalService
from durable_testing.stores import (
    ExecutionStore,
    ExecutionSummary,
    SqliteStore,
    StoredExecution,
    StoreInUseError,
)
from durable_testing.table import format_history_table

__all__ = ["DEFAULT_STORE", "load_handler", "main"]

DEFAULT_STORE = Path(".durable/durable.sqlite3")
_STORE_HELP = f"SQLite store (default {DEFAULT_STORE})"

_EXAMPLES = """examples:
  durable run examples/closure_order.py:handler --name o-1-run \
      --input '{"order_id": "o-1", "items": [1250, 800]}'
  durable history o-1-run --format tree
  durable callback succeed CALLBACK_ID --result '{"approved": true}'
  durable serve --port 8765 --register orders=examples/closure_order.py:handler
  durable history o-1-run --format json > saved.json
  durable replay saved.json examples/closure_order.py:handler
  durable lint examples/
"""


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# -- loading handlers -------------------------------------------------------------


def load_handler(spec: str) -> LambdaHandler:
    """``package.module:attr`` or ``path/to/file.py:attr`` -> the Lambda handler it names."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise CommandError(f"durable: {spec!r} is not MODULE:HANDLER")
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None or not path.exists():
            raise CommandError(f"durable: cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
    else:
        if "" not in sys.path:
            sys.path.insert(0, "")
        module = importlib.import_module(target)
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise CommandError(f"durable: {target} has no callable {attr!r}")
    loaded: LambdaHandler = handler
    return loaded


def _function_name(spec: str) -> str:
    """The function a handler is registered as: its module's name (``closure_order``)."""
    target = spec.rpartition(":")[0]
    return re.sub(r"[^a-zA-Z0-9_-]", "-", Path(target).stem.rpartition(".")[2])


# -- stores -----------------------------------------------------------------------


def _open_store(path: Path, *, must_exist: bool, read_only: bool = False) -> SqliteStore:
    """The store to read (beside a process writing it) or to write (refused while another
    process writes it: two writers would run every step twice)."""
    if (must_exist or read_only) and not path.exists():
        raise CommandError(f"durable: no store at {path}", status=2)
    try:
        return SqliteStore(path, read_only=read_only)
    except StoreInUseError as exc:
        raise CommandError(f"durable: {exc}", status=2) from None


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
        return self.inner.load(arn)

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        return self.inner.list_executions(unfinished_only=unfinished_only)

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
        raise CommandError(f"durable: {problem} {query!r}{listing}")
    return matches[0]


# -- commands ---------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    store = _ProgressStore(_open_store(args.store, must_exist=False))
    clock: Clock = RealClock() if args.real_time else VirtualClock()
    service = LocalService(store=store, clock=clock)
    name = _function_name(args.handler)
    service.register(name, load_handler(args.handler))
    with _service_logs():
        arn = service.start(name, json.loads(args.input), execution_name=args.name)
        print(f"started {arn}", file=sys.stderr)
        result = service.run_until_complete(arn, timeout=args.timeout)
    print(f"{result.status.value} after {result.invocations} invocation(s)", file=sys.stderr)
    if result.error is not None:
        print(f"error: {result.error.error_type}: {result.error.error_message}", file=sys.stderr)
        return 1
    if result.status.value == "RUNNING":
        for op in result.operations:
            if op.callback_details and op.callback_details.callback_id:
                print(f"waiting for callback {op.callback_details.callback_id}", file=sys.stderr)
        return 3
    print(json.dumps(result.result, indent=2))
    return 0


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
    return 0


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
    else:
        print(format_history_table(execution.events))
    return 0


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
    error = {"ErrorType": args.error_type, "ErrorMessage": args.error_message}
    endpoint, store = args.endpoint, None
    if endpoint is None:
        endpoint, store = _callback_target(args.store)
    if endpoint:
        client = _client(endpoint)
        if args.outcome == "succeed":
            client.send_durable_execution_callback_success(
                CallbackId=args.callback_id, Result=(args.result or "null").encode()
            )
        elif args.outcome == "fail":
            client.send_durable_execution_callback_failure(
                CallbackId=args.callback_id, Error={k: v for k, v in error.items() if v}
            )
        else:
            client.send_durable_execution_callback_heartbeat(CallbackId=args.callback_id)
    else:
        service = LocalService(store=store)
        if args.outcome == "succeed":
            service.send_callback_success(args.callback_id, payload=args.result or "null")
        elif args.outcome == "fail":
            service.send_callback_failure(
                args.callback_id,
                error_type=args.error_type,
                error_message=args.error_message,
                error_data=None,
            )
        else:
            service.send_callback_heartbeat(args.callback_id)
    print(f"callback {args.callback_id}: {args.outcome} sent")
    return 0


def _callback_target(path: Path) -> tuple[str | None, SqliteStore | None]:
    """Where a callback answer for the store at ``path`` goes: to the ``durable serve``
    that owns it (its endpoint), or into the store itself when no process owns it."""
    if not path.exists():
        raise CommandError(f"durable: no store at {path}", status=2)
    try:
        return None, SqliteStore(path)
    except StoreInUseError as exc:
        if exc.owner is not None and exc.owner.endpoint:
            return exc.owner.endpoint, None
        raise CommandError(
            f"durable: {exc}; send the answer when it has finished, or through a"
            " `durable serve` on this store (--endpoint)",
            status=2,
        ) from None


def _client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 3}),
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from durable_testing.http import LambdaApiServer

    clock: Clock = RealClock() if args.real_time else VirtualClock()
    store = _open_store(args.store, must_exist=False)
    service = LocalService(store=store, clock=clock, keep_finished=False)
    specs: dict[str, str] = {}
    for registration in args.register:
        name, _, spec = registration.partition("=")
        if not spec:
            raise CommandError(
                f"durable: --register wants NAME=MODULE:HANDLER, not {registration!r}"
            )
        service.register(name, load_handler(spec))
        specs[name] = spec
    server = LambdaApiServer(service, args.host, args.port)
    store.advertise(server.endpoint_url)
    # The console's replay runs the code as it is now on disk, not as it was at start.
    server.console.current_code = lambda name: load_handler(specs[name]) if name in specs else None
    print(
        f"durable: serving on {server.endpoint_url}, console at {server.endpoint_url}/"
        " (Ctrl-C to stop)",
        file=sys.stderr,
    )
    with _service_logs(), contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    operations = _saved_operations(json.loads(Path(args.history).read_text()))
    outcome = replay(load_handler(args.handler), operations)
    print(outcome.report)
    return 0 if outcome.divergence is None else 1


_NON_DETERMINISTIC = qualified_type_name(NonDeterministicExecutionError("", operation_id=""))


class ReplayOutcome:
    """What a replay found: the first divergence (``None`` when there is none) and a report."""

    def __init__(self, report: str, divergence: str | None = None) -> None:
        self.report = report
        self.divergence = divergence


def replay(handler: LambdaHandler, operations: list[Operation]) -> ReplayOutcome:
    """Re-run ``handler`` against a saved checkpoint log on a ``MemoryBackend``.

    The recorded operations replay from the log; a checkpoint of an operation the log
    does not hold is refused, which ends the replay where the saved history ends (the
    body of a new at-least-once step may still run once before its result is refused).
    """
    recorded = {op.id: op for op in operations}
    backend = _RecordedOnlyBackend(recorded)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:replay:$LATEST/durable-execution/replay/r"
    backend.executions[arn] = ExecutionRecord(arn=arn, operations=dict(recorded))
    event = backend.invocation_event(arn)
    try:
        with use_backend(backend):
            response = handler(event, None)
    except CheckpointError as exc:
        return ReplayOutcome(f"no divergence in {len(recorded)} recorded operations; {exc}")
    error = response.get("Error") or {}
    if error.get("ErrorType") == _NON_DETERMINISTIC:
        message = str(error.get("ErrorMessage"))
        return ReplayOutcome(f"divergence: {message}", divergence=message)
    return ReplayOutcome(
        f"no divergence: {len(recorded)} recorded operations replayed "
        f"(the handler answered {response.get('Status')})"
    )


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


def _saved_operations(document: Any) -> list[Operation]:
    """``durable history --format json`` output, or a bare list of operations."""
    raw = document.get("Operations") if isinstance(document, dict) else document
    if not isinstance(raw, list) or not raw:
        raise CommandError(
            "durable: the file holds no operations; save it with "
            "`durable history ARN --format json`"
        )
    return [Operation.from_wire(op) for op in raw]


def _cmd_budget(args: argparse.Namespace) -> int:
    from durable_testing.budget import format_budget_report

    execution = _find(_open_store(args.store, must_exist=True, read_only=True), args.arn)
    print(format_budget_report(execution.operations, top=args.top))
    return 0


def _cmd_lint(args: argparse.Namespace) -> int:
    try:
        lint = importlib.import_module("durable_testing.lint")
    except ModuleNotFoundError:
        print("durable: lint is not available (durable_testing.lint is missing)", file=sys.stderr)
        return 2
    status: int = lint.main(list(args.paths))
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
    run.add_argument("--timeout", type=float, default=600.0, help="wall-clock seconds to allow")
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
    history.add_argument("--format", choices=("table", "tree", "json"), default="table")
    history.add_argument("--json", action="store_true", help="only the events, as JSON")
    store_option(history)
    history.set_defaults(func=_cmd_history)

    callback = command(
        "callback",
        "complete, fail or heartbeat a callback",
        "durable callback succeed CALLBACK_ID --result '{\"ok\": true}' --endpoint URL",
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
    lint.set_defaults(func=_cmd_lint)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    return status


if __name__ == "__main__":
    sys.exit(main())
