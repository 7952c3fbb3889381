"""Fault injection between the SDK and the durable execution service.

``FaultyBackend`` wraps any ``DurableBackend`` and, on the calls a ``FaultSchedule``
names, does what the network, the service or the Lambda sandbox can do to an
invocation: throttle it, answer 5xx, time out before the request arrives, lose the
answer of a request the service applied, reject a stale checkpoint token, or kill
the process just before or just after a call. Reliability tests drive random
workflows through it and check that nothing is lost and nothing runs twice.

A crash is ``SimulatedCrash``, a ``BaseException``: no ``except Exception`` in the SDK
or a handler can swallow it. A hard crash (SIGKILL, the invocation's timeout) runs no
more code that reaches the service: after one, the backend refuses every call of the
dying invocation. A soft crash unwinds Python code, so the SDK's best-effort flush on
the way out still arrives. ``FaultyBackend.wrap`` runs a handler as Lambda would on
such a backend.

The service's idempotency: CheckpointDurableExecution's ``ClientToken`` lets Lambda
"detect and handle duplicate requests within a 15-minute window" (boto3's service
model). The SDK retries a call whose answer it did not get with the same client
token and the same, now consumed, checkpoint token; the wrapped backend answers it as
the service does (``MemoryBackend`` returns the first answer again, applying nothing).
``applied`` lists the calls the wrapped backend actually applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from durable_core.backends.base import CheckpointResponse, DurableBackend, StatePage
from durable_core.errors import CheckpointError
from durable_core.execution import LambdaHandler, use_backend
from durable_core.types import OperationUpdate

__all__ = [
    "Fault",
    "FaultSchedule",
    "FaultyBackend",
    "InjectedFault",
    "ReceivedCall",
    "SimulatedCrash",
]


class SimulatedCrash(BaseException):
    """The process running the invocation dies at this point."""


class Fault(StrEnum):
    THROTTLE = "THROTTLE"  # 429 TooManyRequestsException; not applied; retryable
    SERVER_ERROR = "SERVER_ERROR"  # 500 ServiceException; not applied; retryable
    TIMEOUT = "TIMEOUT"  # the request never reached the service; retryable
    LOST_RESPONSE = "LOST_RESPONSE"  # the service applied it, the answer was lost; retryable
    STALE_TOKEN = "STALE_TOKEN"  # sent with a consumed token: the service rejects it
    CRASH_BEFORE_CALL = "CRASH_BEFORE_CALL"  # the process dies before the request leaves
    CRASH_AFTER_CALL = "CRASH_AFTER_CALL"  # the service applied it, then the process died


@dataclass(frozen=True)
class FaultSchedule:
    """Which call gets which fault, by 1-based ordinal of the calls the backend receives.

    Ordinals count every request, retries included, over the backend's whole life (all
    invocations), so a finite schedule always lets an execution finish.
    """

    checkpoint: Mapping[int, Fault] = field(default_factory=dict)
    get_state: Mapping[int, Fault] = field(default_factory=dict)
    hard_crashes: bool = True


@dataclass(frozen=True)
class InjectedFault:
    call: str  # "checkpoint" or "get_state"
    ordinal: int
    fault: Fault


@dataclass(frozen=True)
class ReceivedCall:
    """A CheckpointDurableExecution request as it left the SDK."""

    ordinal: int
    client_token: str | None
    updates: tuple[OperationUpdate, ...]


_STALE = "stale-token"


def _transient(fault: Fault, method: str) -> CheckpointError:
    """The ``CheckpointError`` ``LambdaBackend`` raises for this failure."""
    if fault is Fault.THROTTLE:
        return CheckpointError(
            f"{method} failed: TooManyRequestsException: Rate exceeded",
            retryable=True,
            error_code="TooManyRequestsException",
        )
    if fault is Fault.SERVER_ERROR:
        return CheckpointError(
            f"{method} failed: ServiceException: Internal error",
            retryable=True,
            error_code="ServiceException",
        )
    # A timeout, or an answer lost on the way back: botocore raises a read timeout.
    return CheckpointError(f"{method} failed: Read timeout on endpoint URL", retryable=True)


class FaultyBackend:
    """A ``DurableBackend`` that injects the faults of ``schedule`` into ``inner``.

    It records what the SDK sent (``received``), what the wrapped service applied
    (``applied``) and what was injected (``injected``), so a test can check that every
    update the service applied survives and none was applied twice.
    """

    def __init__(self, inner: DurableBackend, schedule: FaultSchedule) -> None:
        self.inner = inner
        self.schedule = schedule
        self.received: list[ReceivedCall] = []
        self.applied: list[tuple[OperationUpdate, ...]] = []
        self.injected: list[InjectedFault] = []
        self._answers: list[CheckpointResponse] = []
        self._state_calls = 0
        self._dead = False

    def wrap(self, handler: LambdaHandler) -> LambdaHandler:
        """``handler`` as Lambda runs it on this backend: every invocation in a live process
        (a fresh one after a crash), talking to this backend, and a ``SimulatedCrash``
        ending it as a dead process does: the local service records the ``SystemExit``
        as ``Runtime.ExitError`` and re-invokes."""

        def invoke(event: Any, lambda_context: Any) -> dict[str, Any]:
            self._dead = False
            try:
                with use_backend(self):
                    return handler(event, lambda_context)
            except SimulatedCrash as crash:
                raise SystemExit(f"simulated crash: {crash}") from crash

        return invoke

    def crash(self, where: str) -> SimulatedCrash:
        """The process dies at ``where``: raise what this returns."""
        if self.schedule.hard_crashes:
            self._dead = True
        return SimulatedCrash(f"process died {where}")

    def _refuse_if_dead(self, method: str) -> None:
        if self._dead:
            raise SimulatedCrash(f"the process is dead: {method} never left it")

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        self._refuse_if_dead("checkpoint_durable_execution")
        ordinal = len(self.received) + 1
        self.received.append(ReceivedCall(ordinal, client_token, tuple(updates)))
        fault = self.schedule.checkpoint.get(ordinal)
        if fault is not None:
            self.injected.append(InjectedFault("checkpoint", ordinal, fault))
        if fault is Fault.CRASH_BEFORE_CALL:
            raise self.crash(f"before checkpoint call {ordinal}")
        if fault in (Fault.THROTTLE, Fault.SERVER_ERROR, Fault.TIMEOUT):
            raise _transient(fault, "checkpoint_durable_execution")
        token = _STALE if fault is Fault.STALE_TOKEN else checkpoint_token
        answer = self.inner.checkpoint(execution_arn, token, updates, client_token)
        # A repeated ClientToken gets the very answer of the call it repeats.
        if not any(answer is earlier for earlier in self._answers):
            self._answers.append(answer)
            self.applied.append(tuple(updates))
        if fault is Fault.LOST_RESPONSE:
            raise _transient(fault, "checkpoint_durable_execution")
        if fault is Fault.CRASH_AFTER_CALL:
            raise self.crash(f"after checkpoint call {ordinal}")
        return answer

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        self._refuse_if_dead("get_durable_execution_state")
        self._state_calls += 1
        ordinal = self._state_calls
        fault = self.schedule.get_state.get(ordinal)
        if fault is not None:
            self.injected.append(InjectedFault("get_state", ordinal, fault))
        if fault is Fault.CRASH_BEFORE_CALL:
            raise self.crash(f"before state call {ordinal}")
        if fault in (Fault.THROTTLE, Fault.SERVER_ERROR, Fault.TIMEOUT):
            raise _transient(fault, "get_durable_execution_state")
        token = _STALE if fault is Fault.STALE_TOKEN else checkpoint_token
        page = self.inner.get_state(execution_arn, token, marker)
        if fault is Fault.LOST_RESPONSE:
            raise _transient(fault, "get_durable_execution_state")
        if fault is Fault.CRASH_AFTER_CALL:
            raise self.crash(f"after state call {ordinal}")
        return page
