"""Run one AWS conformance requirement on ``LocalService`` and say how it differs.

For a requirement: register its handler (and the functions it invokes), start it with
the requirement's ``Input`` (variables substituted), answer its callbacks as its
``CallbackActions`` say, drive it to its end on a virtual clock, then compare the
result and the history with ``matching``, and the records it logged with the
requirement's ``ExpectedLogs``. ``KNOWN_GAPS`` names the requirements that cannot pass
yet and why; they are expected to fail, strictly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from durable_testing import ExecutionResult, ExecutionStatus, LocalService, VirtualClock

from tests.conformance._yaml import load_yaml
from tests.conformance.handlers import FUNCTIONS, HANDLERS
from tests.conformance.matching import (
    Bindings,
    match_history,
    match_result,
    match_value,
    resolve_variables,
)

__all__ = [
    "KNOWN_GAPS",
    "SUITES",
    "Outcome",
    "Requirement",
    "load_requirements",
    "run_requirement",
]

REQUIREMENTS_DIR = Path(__file__).parent / "requirements"

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

# id -> why it cannot pass yet. Each entry is an expected failure (xfail, strict): it
# turns the suite red the day it passes, so the entry is removed with the fix.
KNOWN_GAPS: dict[str, str] = {}


@dataclass(frozen=True)
class Requirement:
    suite: str
    id: str
    path: Path

    @cached_property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = load_yaml(self.path.read_text(encoding="utf-8"))
        return loaded

    @property
    def title(self) -> str:
        return str(self.data.get("description", "")).strip()


@dataclass
class Outcome:
    """What a run showed: the mismatches (none: the requirement passes) and the execution."""

    problems: list[str] = field(default_factory=list)
    execution: ExecutionResult | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


def _id_key(requirement_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in requirement_id.split("-"))


def load_requirements() -> list[Requirement]:
    """Every requirement YAML, suite by suite, in id order."""
    found: list[Requirement] = []
    for suite in SUITES:
        paths = sorted((REQUIREMENTS_DIR / suite).glob("*.yaml"), key=lambda p: _id_key(p.stem))
        found += [Requirement(suite, path.stem, path) for path in paths]
    return found


class _LimitReached(Exception):
    """The service asked to move time past the runner's limit (``next_due`` is when)."""

    def __init__(self, next_due: dt.datetime) -> None:
        super().__init__(f"next timer due at {next_due.isoformat()}")
        self.next_due = next_due


class _SteppedClock(VirtualClock):
    """Virtual time that the runner hands out in slices, as AWS's poller lives through it.

    The service may skip ahead only up to ``limit``; asked to go further it stops the
    drive, so callbacks are answered at the moment their action's ``Delay`` says, before
    a later timer (a wait, a callback timeout) fires.
    """

    limit: dt.datetime | None = None

    def sleep_until(self, instant: dt.datetime) -> None:
        if self.limit is not None and instant > self.limit:
            raise _LimitReached(instant)
        super().sleep_until(instant)


@dataclass
class _Driver:
    """Drives one execution and answers its callbacks per the requirement's actions.

    Each new CallbackStarted gets the first unused action whose name matches; the
    action is sent ``Delay`` seconds later. A heartbeat leaves the callback open so a
    later action can complete it.
    """

    service: LocalService
    clock: _SteppedClock
    arn: str
    actions: list[Mapping[str, Any]]
    bindings: Bindings
    handled: set[str] = field(default_factory=set)
    used: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def run(self) -> ExecutionResult:
        next_due = self._run_until(self.clock.now())
        while (execution := self.service.describe(self.arn)).status is ExecutionStatus.RUNNING:
            if self._respond(execution.history):
                next_due = self._run_until(self.clock.now())
            elif next_due is None:
                break
            else:
                next_due = self._run_until(next_due)
        return execution

    def _run_until(self, limit: dt.datetime) -> dt.datetime | None:
        """Run what is due up to ``limit``; return when the next timer is due, if any."""
        self.clock.limit = limit
        try:
            self.service.run_until_complete(self.arn)
        except _LimitReached as reached:
            return reached.next_due
        finally:
            self.clock.limit = None
        return None

    def _respond(self, history: list[dict[str, Any]]) -> bool:
        sent = False
        for event in history:
            if event.get("EventType") != "CallbackStarted":
                continue
            callback_id = event.get("CallbackStartedDetails", {}).get("CallbackId")
            if not callback_id or callback_id in self.handled:
                continue
            action = self._action_for(event.get("Name", ""))
            if action is None:
                if self.actions:
                    self.problems.append(f"no CallbackAction for callback {event.get('Name')!r}")
                self.handled.add(callback_id)
                continue
            operation = str(action["Operation"]).lower()
            if operation != "heartbeat":
                self.handled.add(callback_id)
            at = self.clock.now() + dt.timedelta(seconds=float(action.get("Delay", 0)))
            self._run_until(at)
            self.clock.sleep_until(at)
            self._send(callback_id, operation, self.bindings.substitute(action.get("Payload")))
            sent = True
        return sent

    def _action_for(self, name: str) -> Mapping[str, Any] | None:
        for index, action in enumerate(self.actions):
            if index in self.used:
                continue
            wanted = self.bindings.substitute(str(action["CallbackName"]))
            if wanted in ("*", name) or (
                wanted.startswith("${/") and not match_value(wanted, name, self.bindings)
            ):
                self.used.add(index)
                return action
        return None

    def _send(self, callback_id: str, operation: str, payload: Any) -> None:
        if operation == "success":
            text = None if payload is None else json.dumps(payload)
            self.service.send_callback_success(callback_id, payload=text)
        elif operation == "failure":
            error = payload or {}
            self.service.send_callback_failure(
                callback_id,
                error_type=error.get("ErrorType"),
                error_message=error.get("ErrorMessage"),
                error_data=error.get("ErrorData"),
            )
        else:
            self.service.send_callback_heartbeat(callback_id)


def run_requirement(requirement: Requirement) -> Outcome:
    """Run ``requirement`` to its end on a fresh service and compare it with the YAML."""
    handler = HANDLERS.get(requirement.id)
    if handler is None:
        return Outcome([f"no handler registered for requirement {requirement.id}"])
    data = requirement.data
    bindings = resolve_variables(data.get("Variables"))
    clock = _SteppedClock()
    service = LocalService(clock=clock)
    for name, function in {**FUNCTIONS, requirement.id: handler}.items():
        service.register(name, function)
    arn = service.start(requirement.id, bindings.substitute(data.get("Input")))
    driver = _Driver(service, clock, arn, list(data.get("CallbackActions") or []), bindings)
    try:
        with _captured_logs() as records:
            execution = driver.run()
    except Exception as exc:  # e.g. a service feature that is missing: a failure, not a crash
        return Outcome([f"the run raised {type(exc).__name__}: {exc}"])
    problems = list(driver.problems)
    problems += match_history(data["ExpectedExecutionHistory"], execution.history, bindings)
    problems += match_logs(data.get("ExpectedLogs") or [], records, bindings)
    if data.get("ExpectedResult"):
        error = execution.error.to_wire() if execution.error is not None else None
        problems += match_result(
            data["ExpectedResult"],
            execution.status.value,
            execution.result_payload,
            error,
            bindings,
        )
    return Outcome(problems, execution)


class _StdoutRecords(io.TextIOBase):
    """Plain stdout as records: a JSON object line is a record, any other line a message."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in filter(None, lines):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            self._records.append(record if isinstance(record, dict) else {"message": line})
        return len(text)


class _LoggedRecords(logging.Handler):
    """A ``durable`` log record as the line Lambda prints: ``[LEVEL] message``."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self._records = records

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append({"message": f"[{record.levelname}] {record.getMessage()}"})


@contextlib.contextmanager
def _captured_logs() -> Iterator[list[dict[str, Any]]]:
    """What the run prints and logs on ``durable``, in the order it happened."""
    records: list[dict[str, Any]] = []
    logger = logging.getLogger("durable")
    handler, level = _LoggedRecords(records), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(_StdoutRecords(records)):
            yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _log_matches(
    expected: Mapping[str, Any], record: Mapping[str, Any], bindings: Bindings
) -> bool:
    """Every expected field is in the record: equal, or found by a ``'/regex/'`` value."""
    for key, wanted in expected.items():
        if key not in record:
            return False
        wanted = bindings.substitute(wanted)
        if isinstance(wanted, str) and len(wanted) > 1 and wanted[0] == wanted[-1] == "/":
            if not re.search(wanted[1:-1], str(record[key])):
                return False
        elif wanted != record[key]:
            return False
    return True


def match_logs(
    expected: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    bindings: Bindings,
) -> list[str]:
    """Mismatches with ``ExpectedLogs``: each rule's ``match`` is found exactly ``count``
    times, and every record it matches comes after a record matching each of ``after``."""
    problems: list[str] = []
    for rule in expected:
        match = rule["match"]
        hits = [i for i, record in enumerate(records) if _log_matches(match, record, bindings)]
        if "count" in rule and len(hits) != rule["count"]:
            problems.append(f"log {match}: expected {rule['count']} records, got {len(hits)}")
        for earlier in rule.get("after") or []:
            first = next(
                (i for i, record in enumerate(records) if _log_matches(earlier, record, bindings)),
                None,
            )
            if hits and (first is None or hits[0] < first):
                problems.append(f"log {match}: not after {earlier}")
    return problems
