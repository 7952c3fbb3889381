"""Sagas: steps that register how to undo themselves, undone in reverse on demand.

``step_with_compensation`` runs an ordinary step and, once it succeeded, remembers
its compensation with the step's result. The registry lives in memory, per context;
it is deterministic because replay calls the same steps in the same order, which
registers the same compensations again (a replayed step returns its recorded result).

``run_compensations`` runs them last-registered first inside one child context
(subtype ``Compensations``, named ``name``), each as its own step named
``compensate-<step name>`` (``compensate`` for an unnamed step) with the default
retry policy. Every compensation runs even when an earlier one failed; the outcome
of each is returned, and recorded as the child's result, so a replay returns it
without running anything again. Compensations that ran are forgotten.

The sync context and the asyncio one (``durable_core.aio``) share all of it: the
registry, the names, the ``Compensations`` child flow and how outcomes are recorded
and read back; each face only issues the compensating steps its own way.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from durable_core.config import ChildConfig
from durable_core.errors import StepError, ValidationError, recorded_error
from durable_core.operations._flow import Flow, run_flow
from durable_core.operations.child import child_flow
from durable_core.types import ErrorObject, OperationType

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext

T = TypeVar("T")

COMPENSATIONS_SUB_TYPE = "Compensations"
_NAME_MAX = 256
_COMPENSATIONS_CONFIG: ChildConfig[list[dict[str, Any]]] = ChildConfig(
    sub_type=COMPENSATIONS_SUB_TYPE
)


@dataclass(frozen=True)
class CompensationOutcome:
    """What one compensation did: ``error`` is the failure that exhausted its retries."""

    name: str
    succeeded: bool
    error: StepError | None = None


@dataclass(frozen=True)
class CompensationResult:
    """The outcome of every compensation, in the order they ran (reverse registration)."""

    outcomes: tuple[CompensationOutcome, ...]

    @property
    def all_succeeded(self) -> bool:
        return all(outcome.succeeded for outcome in self.outcomes)

    @property
    def failed(self) -> tuple[CompensationOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.succeeded)


@dataclass(frozen=True)
class Compensation:
    """A registered undo: run as the step ``name``; ``undo`` has the result bound in."""

    name: str
    undo: Callable[[StepContext], Any]

    def outcome(self, error: StepError | None) -> dict[str, Any]:
        """How this compensation's outcome is recorded in the Compensations result."""
        # The origin's type and message; its traceback stays on the step's own FAIL record.
        recorded = None if error is None else replace(recorded_error(error), stack_trace=None)
        wire = None if recorded is None else recorded.to_wire()
        return {"name": self.name, "succeeded": error is None, "error": wire}


class _Registry:
    """The compensations of one context, in registration order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[Compensation] = []


_registries: weakref.WeakKeyDictionary[DurableContext, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def _registry(ctx: DurableContext) -> _Registry:
    with _registries_lock:
        registry = _registries.get(ctx)
        if registry is None:
            registry = _registries[ctx] = _Registry()
        return registry


def _step_error(wire: dict[str, Any]) -> StepError:
    error = ErrorObject.from_wire(wire)
    return StepError(
        error.error_message,
        error_type=error.error_type,
        data=error.error_data,
        stack_trace=error.stack_trace,
    )


def compensation_name(step_name: str | None) -> str:
    """The name of the step that compensates ``step_name`` (cut to the service's limit)."""
    return f"compensate-{step_name}"[:_NAME_MAX] if step_name else "compensate"


def check_compensate(compensate: Any) -> None:
    """Refuse a compensation that cannot be called, before its step runs."""
    if not callable(compensate):
        raise ValidationError("step_with_compensation needs a callable compensate")


def register(
    ctx: DurableContext,
    step_name: str | None,
    compensate: Callable[[T, StepContext], Any],
    result: T,
) -> None:
    registry = _registry(ctx)
    entry = Compensation(
        compensation_name(step_name), lambda step_ctx: compensate(result, step_ctx)
    )
    with registry.lock:
        registry.pending.append(entry)


def take_pending(ctx: DurableContext) -> list[Compensation]:
    """The compensations registered in ``ctx``, newest first; they are forgotten here."""
    registry = _registry(ctx)
    with registry.lock:
        pending = list(reversed(registry.pending))
        registry.pending.clear()
    return pending


def compensations_flow(ctx: DurableContext, name: str | None) -> Flow[CompensationResult]:
    """The Compensations child context, for any driver.

    Its ``Body`` runs the pending compensations as steps and returns each one's
    ``Compensation.outcome``; the recorded list is read back into the result, so a
    replay returns the same outcomes without running anything.
    """
    call = ctx._call(OperationType.CONTEXT, COMPENSATIONS_SUB_TYPE, name)
    recorded: list[dict[str, Any]] = yield from child_flow(ctx, call, _COMPENSATIONS_CONFIG)
    return CompensationResult(
        tuple(
            CompensationOutcome(
                item["name"],
                item["succeeded"],
                None if item["error"] is None else _step_error(item["error"]),
            )
            for item in recorded
        )
    )


def run_compensations(ctx: DurableContext, name: str | None) -> CompensationResult:
    pending = take_pending(ctx)

    def undo_all(child: DurableContext) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = []
        for entry in pending:
            try:
                child.step(entry.undo, name=entry.name)
            except StepError as exc:
                recorded.append(entry.outcome(exc))
            else:
                recorded.append(entry.outcome(None))
        return recorded

    return run_flow(compensations_flow(ctx, name), ctx._checkpointer, undo_all)
