"""The tests' one driver: an execution on MemoryBackend (the service's checkpoint rules),
invoked step by step by one SDK or, invocation by invocation, by either.

``invoke`` runs the execution's handler (ours, through ``use_backend``) or the
``invoker`` given (``tests.compat.aws_peer``: AWS's SDK or ours, for hand-overs).
``run_to_end`` invokes and fires the timers a PENDING answer waits for until the
execution ends. For callbacks and chained invokes, completed by someone else (an
external system, another function), the test invokes, plays that someone with
``complete``, and invokes again. Durable-testing's LocalService is the full service
(history, stores, real time); these tests need only its checkpoint rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from durable_core import MemoryBackend, use_backend
from durable_core.execution import LambdaHandler
from durable_core.types import ErrorObject, Operation, OperationStatus, OperationType

#: One invocation of an execution by some SDK: ``(execution, event) -> response``.
Invoker = Callable[["Execution", dict[str, Any]], dict[str, Any]]


@dataclass
class Execution:
    backend: MemoryBackend
    arn: str
    handler: LambdaHandler | None = None
    #: Fire the due timers after each PENDING answer (time passes between invocations).
    fires_timers: bool = False
    responses: list[dict[str, Any]] = field(default_factory=list)
    #: The updates AWS's SDK sent, as it serialised them (``aws_peer.AwsServiceClient``).
    aws_raw_updates: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        return self.responses[-1]

    def invoke(self, invoker: Invoker | None = None) -> dict[str, Any]:
        """One invocation, by ``invoker`` or else by the execution's handler."""
        event = self.backend.invocation_event(self.arn)
        if invoker is not None:
            response = invoker(self, event)
        else:
            assert self.handler is not None, "an execution without a handler needs an invoker"
            with use_backend(self.backend):
                response = self.handler(event, None)
        self.responses.append(response)
        if response["Status"] == "PENDING" and self.fires_timers:
            assert self.backend.fire_timers(self.arn), "suspended with nothing to fire"
        return response

    def run_to_end(self, invoker: Invoker | None = None, max_invocations: int = 50) -> Execution:
        """Invoke, fire the timers a PENDING answer waits for, until the execution ends."""
        for _ in range(max_invocations):
            if self.invoke(invoker)["Status"] != "PENDING":
                return self
            if not self.fires_timers:
                assert self.backend.fire_timers(self.arn), "PENDING with nothing to wait for"
        raise AssertionError(f"no terminal status after {max_invocations} invocations")

    def until_done(self, invoker: Invoker, max_invocations: int = 20) -> dict[str, Any]:
        """``run_to_end`` by ``invoker``: the final response."""
        return self.run_to_end(invoker, max_invocations).final

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

    def updates(self) -> list[dict[str, Any]]:
        """Every update this execution checkpointed, in the wire form, in order."""
        return [u for call in self.updates_by_call(stack_traces=True) for u in call]

    def updates_by_call(self, *, stack_traces: bool = False) -> list[list[dict[str, Any]]]:
        """Every non-empty checkpoint call's updates, in the wire form, call by call.

        Error StackTraces are left out unless asked for: ours records the traceback of the
        user's exception there (issue 13), AWS's SDK leaves the field empty; every other
        field must be equal.
        """
        return [
            [u.to_wire() if stack_traces else without_stack_trace(u.to_wire()) for u in call]
            for call in (c.updates for c in self.backend.calls if c.execution_arn == self.arn)
            if call
        ]

    def calls_count(self) -> int:
        return sum(1 for call in self.backend.calls if call.execution_arn == self.arn)


def without_stack_trace(update: dict[str, Any]) -> dict[str, Any]:
    """An update or a response with its error's StackTrace left out."""
    error = update.get("Error")
    if error is None or "StackTrace" not in error:
        return update
    return {**update, "Error": {k: v for k, v in error.items() if k != "StackTrace"}}


def start(
    handler: LambdaHandler | None = None,
    input_value: Any = None,
    *,
    backend: MemoryBackend | None = None,
    name: str | None = None,
    fires_timers: bool = False,
) -> Execution:
    """A new execution of ``handler`` started with ``input_value`` (on a new backend)."""
    backend = backend or MemoryBackend()
    event = backend.start_execution(input_value, **({} if name is None else {"name": name}))
    return Execution(backend, event["DurableExecutionArn"], handler, fires_timers)
