"""AWS's conformance validator (``aws-durable-execution-conformance-tests`` 1.0.0) as the judge.

The wheel needs Python 3.14 by its metadata but runs on ours; ``make conformance-venv``
installs it with ``--ignore-requires-python`` into ``.venv-conformance/``, apart from the
project's lock, and this module imports it from there (its own dependencies, boto3 and
PyYAML, resolve to ours). Its requirement files are read from the installed wheel.

``judge`` runs one requirement through the wheel's ``validate_description``, exactly as
AWS runs it against Lambda, with three stand-ins for what only AWS's cloud has:

* the invoker, which starts the execution on the server under test (a ``Service``);
* CloudFormation, which names the function's log group after the function;
* CloudWatch Logs, which holds the lines the run printed or logged, formatted as
  Lambda's JSON log format formats them, and selected by the same execution-scoped
  filter pattern CloudWatch applies (so a record without the execution's ARN is not
  found, as on AWS).

Logs reach CloudWatch a little after they are written, so the validator waits (10 s,
then polls for 10 s); here they are there at once, so those waits are skipped.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-conformance"
_SITE = sorted(VENV.glob("lib/python3*/site-packages"))
if not _SITE:
    raise ImportError(
        f"AWS's conformance validator is not installed in {VENV}: run `make conformance-venv`"
    )
if str(_SITE[0]) not in sys.path:
    sys.path.append(str(_SITE[0]))

from aws_durable_execution_conformance_tests import cloudwatch, config, validate  # noqa: E402
from aws_durable_execution_conformance_tests.callback import (  # noqa: E402
    CallbackAction,
    CallbackSender,
)
from aws_durable_execution_conformance_tests.history import (  # noqa: E402
    EventHistoryMatcher,
    load_yaml_file,
)
from aws_durable_execution_conformance_tests.sam import InvokeError  # noqa: E402
from aws_durable_execution_conformance_tests.variables import PlaceholderContext  # noqa: E402

__all__ = [
    "SUITES",
    "CallbackAction",
    "CallbackSender",
    "EventHistoryMatcher",
    "Invocation",
    "InvokeError",
    "PlaceholderContext",
    "Requirement",
    "Service",
    "Verdict",
    "find_matching_action",
    "judge",
    "load_requirements",
]

find_matching_action = validate.find_matching_action

SUITES = (
    "step",
    "wait",
    "child",
    "callback",
    "invoke",
    "wait_for_condition",
    "wait_for_callback",
    "parallel",
    "map",
    "plugin",
)


class _NoIngestionDelay:
    """``time`` as the validator's CloudWatch module sees it: no wait for log ingestion."""

    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    @staticmethod
    def sleep(seconds: float) -> None:
        """Logs are in the stand-in as soon as they are written."""


cloudwatch.time = _NoIngestionDelay  # type: ignore[assignment]
cloudwatch.CloudWatchLogRetriever.EVENT_POLL_TIMEOUT_SECONDS = 0


@dataclass(frozen=True)
class Requirement:
    suite: str
    id: str
    path: Path

    @cached_property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = load_yaml_file(str(self.path))
        return loaded

    @property
    def title(self) -> str:
        return str(self.data.get("description", "")).strip()


def load_requirements() -> list[Requirement]:
    """Every requirement of the installed wheel, suite by suite, in id order."""
    found: list[Requirement] = []
    for suite in SUITES:
        paths = validate.discover_test_files(config.TESTS_DIR, suite).values()
        ordered = sorted(paths, key=lambda p: tuple(int(n) for n in Path(p).stem.split("-")))
        found += [Requirement(suite, Path(p).stem, Path(p)) for p in ordered]
    return found


@dataclass(frozen=True)
class Invocation:
    """What the validator asks the invoker to do: start ``function`` with ``input``.

    ``callback_actions`` are the requirement's, for a service that answers callbacks
    itself rather than leaving it to the validator's poller.
    """

    function: str
    input: Any
    asynchronous: bool
    callback_actions: list[dict[str, Any]]


class Service(Protocol):
    """A server under test, as the validator needs it."""

    lambda_client: Any
    poll_interval_seconds: float

    def invoke(self, call: Invocation, context: PlaceholderContext) -> str:
        """Start the execution (and, for a synchronous call, wait for its end); its ARN."""


@dataclass
class Verdict:
    passed: bool
    errors: list[str] = field(default_factory=list)


def judge(requirement: Requirement, service: Service) -> Verdict:
    """Run ``requirement`` on ``service`` and let AWS's ``validate_description`` judge it.

    The requirement's ``Variables`` are drawn here and written as literals into the copy
    the validator reads, so the invoker (which answers callbacks on the local service)
    and the validator see the same values. ``AsyncConfig`` sets how often the validator
    polls the service, its documented knob.
    """
    context = PlaceholderContext()
    context.resolve_variables(requirement.data.get("Variables"))
    concrete = {
        **requirement.data,
        "Variables": context.bindings,
        "AsyncConfig": {"PollIntervalSeconds": service.poll_interval_seconds},
    }
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        test_file = Path(tmp) / requirement.path.name
        test_file.write_text(yaml.safe_dump(concrete, sort_keys=False), encoding="utf-8")
        invoker = _Invoker(service, context, concrete.get("CallbackActions") or [])
        with _lambda_log_lines(lines):
            result = validate.validate_description(
                function_name=requirement.id,
                description_id=requirement.id,
                test_file=str(test_file),
                invoker=invoker,
                tmp_dir=tmp,
                region="us-east-1",
                aws_clients={
                    "lambda": service.lambda_client,
                    "cloudformation": _CloudFormation(),
                    "logs": _CloudWatchLogs(lines),
                },
                output_dir=tmp,
            )
    return Verdict(result.passed, list(result.errors))


class _Invoker:
    """The validator's ``Invoker``: reads the event file it wrote and starts the run."""

    stack_name = "local"

    def __init__(
        self, service: Service, context: PlaceholderContext, actions: list[dict[str, Any]]
    ) -> None:
        self._service = service
        self._context = context
        self._actions = actions

    def invoke(
        self, function_name: str, event_file_path: str | None = None, parameters: Any = None
    ) -> Any:
        return self._start(function_name, event_file_path, asynchronous=False)

    def invoke_async(self, function_name: str, event_file_path: str | None = None) -> Any:
        return self._start(function_name, event_file_path, asynchronous=True)

    def _start(self, function: str, event_file_path: str | None, *, asynchronous: bool) -> Any:
        call = Invocation(function, _input(event_file_path), asynchronous, self._actions)
        arn = self._service.invoke(call, self._context)
        return _Output(json.dumps({"DurableExecutionArn": arn}))


@dataclass(frozen=True)
class _Output:
    output: str


def _input(event_file_path: str | None) -> Any:
    if event_file_path is None:
        return None
    return json.loads(Path(event_file_path).read_text(encoding="utf-8")).get("Input")


class _CloudFormation:
    """The stack's function ``X`` is the function ``X``: its log group is ``/aws/lambda/X``."""

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        return {"StackResourceDetail": {"PhysicalResourceId": LogicalResourceId}}


_CLAUSE = re.compile(r'\(\$\.(\w+) = "((?:[^"\\]|\\.)*)"\)')


class _CloudWatchLogs:
    """``FilterLogEvents`` over the run's lines, for the validator's filter pattern.

    The pattern it sends is an ``||`` of ``($.field = "value")`` clauses; a JSON line
    matches when one holds, a plain line never does (CloudWatch's JSON filter). Any other
    pattern is refused rather than guessed. Timestamps are the lines' order.
    """

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def filter_log_events(self, **request: Any) -> dict[str, Any]:
        pattern = request.get("filterPattern", "")
        clauses = [(key, json.loads(f'"{value}"')) for key, value in _CLAUSE.findall(pattern)]
        if _CLAUSE.sub("", pattern).replace("||", "").strip("{} ") or not clauses:
            raise ValueError(f"filter pattern not supported here: {pattern!r}")
        events = []
        for index, line in enumerate(self._lines):
            record = _json_object(line)
            if record is not None and any(record.get(k) == v for k, v in clauses):
                events.append({"message": line, "timestamp": index, "ingestionTime": index})
        return {"events": events}


def _json_object(line: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError):
        record = json.loads(line)
        return record if isinstance(record, dict) else None
    return None


# The attributes every LogRecord has; Lambda's JSON format writes the others at the top.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class _LambdaJsonFormat(logging.Formatter):
    """Lambda's JSON log format (``LoggingConfig.LogFormat: JSON``): the level, message,
    logger and time, then every extra field of the record at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        return json.dumps(line, default=str)


class _Lines(io.TextIOBase):
    """Standard output as log lines, one per printed line, as Lambda ships them."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._partial = ""

    def write(self, text: str) -> int:
        *complete, self._partial = (self._partial + text).split("\n")
        self._lines.extend(line for line in complete if line)
        return len(text)


class _LineHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(_LambdaJsonFormat())
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(self.format(record))


@contextlib.contextmanager
def _lambda_log_lines(lines: list[str]) -> Iterator[None]:
    """Collect what Lambda would ship to CloudWatch: printed lines and records at INFO
    and above of every logger (the runtime's handler sits on the root logger)."""
    root = logging.getLogger()
    handler, level = _LineHandler(lines), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(_Lines(lines)):
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
