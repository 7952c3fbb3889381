"""The core tests' one driver: an execution on MemoryBackend, invoked step by step.

``run_to_end`` invokes and fires due timers until the execution ends (``conftest.drive``);
for callbacks and chained invokes, completed by someone else (an external system,
another function), the test invokes, plays that someone with ``complete``, and invokes
again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from durable_core import MemoryBackend, use_backend
from durable_core.execution import LambdaHandler
from durable_core.types import ErrorObject, Operation, OperationStatus, OperationType


@dataclass
class Execution:
    handler: LambdaHandler
    backend: MemoryBackend
    arn: str
    responses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        return self.responses[-1]

    def invoke(self) -> dict[str, Any]:
        with use_backend(self.backend):
            response = self.handler(self.backend.invocation_event(self.arn), None)
        self.responses.append(response)
        return response

    def operations(self) -> list[Operation]:
        return self.backend.operations(self.arn)

    def by_name(self, name: str) -> Operation:
        return next(op for op in self.operations() if op.name == name)

    def only(self, op_type: OperationType) -> Operation:
        (op,) = [op for op in self.operations() if op.type is op_type]
        return op

    def complete(
        self,
        op: Operation,
        status: OperationStatus,
        *,
        result: str | None = None,
        error: ErrorObject | None = None,
    ) -> None:
        """What the service does when a callback is answered or an invoked function ends."""
        self.backend.complete(self.arn, op.id, status, result=result, error=error)

    def fire_timers(self) -> None:
        assert self.backend.fire_timers(self.arn), "nothing to fire"

    def run_to_end(self, max_invocations: int = 50) -> Execution:
        """Invoke, fire the timers a PENDING answer waits for, until the execution ends."""
        for _ in range(max_invocations):
            if self.invoke()["Status"] != "PENDING":
                return self
            assert self.backend.fire_timers(self.arn), "PENDING with nothing to wait for"
        raise AssertionError("execution did not finish")

    def updates(self) -> list[dict[str, Any]]:
        """Every update this execution checkpointed, in the wire form, in order."""
        return [u.to_wire() for call in self.backend.calls for u in call.updates]

    def calls_count(self) -> int:
        return sum(1 for call in self.backend.calls if call.execution_arn == self.arn)


def start(
    handler: LambdaHandler, input_value: Any = None, *, backend: MemoryBackend | None = None
) -> Execution:
    backend = backend or MemoryBackend()
    event = backend.start_execution(input_value)
    return Execution(handler, backend, event["DurableExecutionArn"])
