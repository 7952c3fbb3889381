"""``DurableTestRunner``: run a durable handler to completion in a test, with time skipped.

It is a ``LocalService`` on a ``VirtualClock``: a week-long wait or a retry backoff
costs nothing, every invocation and replay happens as on Lambda, and the outcome is
read like the console shows it, operations by name::

    result = DurableTestRunner(handler).run({"order_id": "o-1"})
    assert result.status == "SUCCEEDED"
    assert result.operation("charge").attempts == 2

Flows that wait for a callback are driven in steps, as with AWS's
``DurableFunctionTestRunner``: ``start`` runs until the execution can only progress by
an outside event, ``wait_for_callback("approval")`` (or ``wait_for(name, status)``)
gives what the test needs to answer, ``send_callback_success`` (or ``_failure``,
``_heartbeat``) answers, and ``wait`` drives it on. Waits and retry delays are skipped,
but a callback's timeout never fires while the test can still answer it: pass
``time_out_callbacks=True`` to ``wait`` or ``run`` to let unanswered callbacks time out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from durable_core.execution import LambdaHandler
from durable_core.types import ErrorObject, Operation, OperationType

from durable_testing.clock import VirtualClock
from durable_testing.history import HistoryEvent
from durable_testing.local_service import ExecutionResult, LocalService

__all__ = ["DurableTestRunner", "OperationResult", "TestResult"]


def _parsed(payload: str | None) -> Any:
    if payload is None or payload == "":
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


@dataclass(frozen=True)
class OperationResult:
    """One operation as the test sees it: its outcome, its attempts, its children."""

    operation: Operation
    children: list[OperationResult]

    @property
    def id(self) -> str:
        return self.operation.id

    @property
    def name(self) -> str | None:
        return self.operation.name

    @property
    def type(self) -> OperationType:
        return self.operation.type

    @property
    def status(self) -> str:
        return self.operation.status.value

    @property
    def result(self) -> Any:
        """The recorded result, deserialised from its JSON payload."""
        return _parsed(self.operation.result)

    @property
    def error(self) -> ErrorObject | None:
        return self.operation.error

    @property
    def attempts(self) -> int:
        """How many attempts a step made (1 for any operation that is not retried)."""
        details = self.operation.step_details
        return (details.attempt or 1) if details is not None else 1

    @property
    def callback_id(self) -> str | None:
        """The id to answer: this callback's, or for a ``wait_for_callback`` context the id
        of the callback it created."""
        details = self.operation.callback_details
        if details is not None:
            return details.callback_id
        return next((c.callback_id for c in self.children if c.callback_id), None)

    def child(self, name: str) -> OperationResult:
        return _named(self.children, name, f"operation {self.name!r}")


@dataclass(frozen=True)
class TestResult:
    """How an execution ended (or where it stands): status, result, error, operations."""

    __test__ = False  # a result, not a test class, whatever pytest thinks of its name

    execution: ExecutionResult

    @property
    def arn(self) -> str:
        return self.execution.arn

    @property
    def status(self) -> str:
        """``SUCCEEDED``, ``FAILED``, or ``RUNNING`` while it waits for a callback."""
        return self.execution.status.value

    @property
    def result(self) -> Any:
        return self.execution.result

    @property
    def error(self) -> ErrorObject | None:
        return self.execution.error

    @property
    def history(self) -> list[HistoryEvent]:
        return self.execution.history

    @property
    def operations(self) -> list[OperationResult]:
        """Every operation but the execution itself, in the order they were created."""
        ops = [op for op in self.execution.operations if op.type is not OperationType.EXECUTION]

        def build(op: Operation) -> OperationResult:
            return OperationResult(op, [build(c) for c in ops if c.parent_id == op.id])

        return [build(op) for op in ops]

    def operation(self, name: str) -> OperationResult:
        """The first operation called ``name``, at any depth."""
        return _named(self.operations, name, f"execution {self.arn}")


def _named(operations: list[OperationResult], name: str, where: str) -> OperationResult:
    for op in operations:
        if op.name == name:
            return op
    names = sorted({op.name for op in operations if op.name})
    raise KeyError(f"no operation named {name!r} in {where}; there are {names}")


class DurableTestRunner:
    """Runs one Lambda handler (any API style) on its own virtual-time ``LocalService``."""

    __test__ = False

    def __init__(self, handler: LambdaHandler, *, function_name: str = "handler") -> None:
        self.function_name = function_name
        self.service = LocalService(clock=VirtualClock())
        self.service.register(function_name, handler)
        self._arn: str | None = None

    def run(
        self, input_value: Any = None, *, timeout: float = 60.0, time_out_callbacks: bool = False
    ) -> TestResult:
        """Start an execution and drive it as far as it goes without an outside event."""
        self.start(input_value, timeout=timeout)
        return self.wait(timeout=timeout, time_out_callbacks=time_out_callbacks)

    def start(self, input_value: Any = None, *, timeout: float = 60.0) -> TestResult:
        """Start an execution and run it until it ends or waits for a callback."""
        self._arn = self.service.start(self.function_name, input_value)
        return self.wait(timeout=timeout)

    def wait(self, *, timeout: float = 60.0, time_out_callbacks: bool = False) -> TestResult:
        """Drive the started execution until it ends or waits for a callback again.

        ``time_out_callbacks=True`` lets virtual time reach the deadlines of callbacks
        nobody answered, so they time out (``Callback.Timeout`` / ``Callback.Heartbeat``).
        """
        return TestResult(
            self.service.run_until_complete(
                self._started(), timeout=timeout, time_out_callbacks=time_out_callbacks
            )
        )

    def wait_for(
        self, name: str, status: str = "STARTED", *, timeout: float = 60.0
    ) -> OperationResult:
        """Drive the execution until the operation called ``name`` is in ``status`` (an
        ``OperationStatus`` name) and return it; ``AssertionError`` when the execution ends
        or stops for an outside event with the operation elsewhere."""
        result = self.wait(timeout=timeout)
        try:
            operation = result.operation(name)
        except KeyError:
            raise AssertionError(
                f"the execution is {result.status} and has no operation named {name!r}"
            ) from None
        if operation.status != status:
            raise AssertionError(
                f"operation {name!r} is {operation.status}, not {status}"
                f" (the execution is {result.status})"
            )
        return operation

    def wait_for_callback(self, name: str, *, timeout: float = 60.0) -> str:
        """Drive the execution until the callback called ``name`` (a ``create_callback``
        or a ``wait_for_callback``) waits for its answer; returns the id to answer with."""
        callback_id = self.wait_for(name, "STARTED", timeout=timeout).callback_id
        if callback_id is None:
            raise AssertionError(f"operation {name!r} is not a callback")
        return callback_id

    def send_callback_success(self, callback_id: str, result: Any = None) -> None:
        """Complete a callback with ``result`` (sent as its JSON payload)."""
        self.service.send_callback_success(callback_id, payload=json.dumps(result))

    def send_callback_failure(
        self, callback_id: str, error_type: str | None = None, error_message: str | None = None
    ) -> None:
        self.service.send_callback_failure(
            callback_id, error_type=error_type, error_message=error_message, error_data=None
        )

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """Restart the callback's heartbeat timeout from now (virtual time stands still
        between answers: ``service.clock.advance(seconds)`` moves it)."""
        self.service.send_callback_heartbeat(callback_id)

    def _started(self) -> str:
        if self._arn is None:
            raise RuntimeError("no execution yet: call start() or run() first")
        return self._arn
