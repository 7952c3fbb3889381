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
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from durable_core.config import ChildConfig
from durable_core.errors import StepError, error_object_from_exception
from durable_core.types import ErrorObject

if TYPE_CHECKING:
    from durable_core.context import DurableContext, StepContext

T = TypeVar("T")

COMPENSATIONS_SUB_TYPE = "Compensations"
_NAME_MAX = 256


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
class _Compensation:
    name: str
    undo: Callable[[StepContext], None]


class _Registry:
    """The compensations of one context, in registration order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[_Compensation] = []


_registries: weakref.WeakKeyDictionary[DurableContext, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def _registry(ctx: DurableContext) -> _Registry:
    with _registries_lock:
        registry = _registries.get(ctx)
        if registry is None:
            registry = _registries[ctx] = _Registry()
        return registry


def _step_error(wire: dict[str, Any]) -> StepError:
    error = ErrorObject.model_validate(wire)
    return StepError(
        error.error_message,
        error_type=error.error_type,
        data=error.error_data,
        stack_trace=error.stack_trace,
    )


def compensation_name(step_name: str | None) -> str:
    """The name of the step that compensates ``step_name`` (cut to the service's limit)."""
    return f"compensate-{step_name}"[:_NAME_MAX] if step_name else "compensate"


def register(
    ctx: DurableContext,
    step_name: str | None,
    compensate: Callable[[T, StepContext], None],
    result: T,
) -> None:
    registry = _registry(ctx)
    entry = _Compensation(
        compensation_name(step_name), lambda step_ctx: compensate(result, step_ctx)
    )
    with registry.lock:
        registry.pending.append(entry)


def run_compensations(ctx: DurableContext, name: str | None) -> CompensationResult:
    registry = _registry(ctx)
    with registry.lock:
        pending = list(reversed(registry.pending))
        registry.pending.clear()

    def undo_all(child: DurableContext) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = []
        for entry in pending:
            try:
                child.step(entry.undo, name=entry.name)
            except StepError as exc:
                error = error_object_from_exception(exc).to_wire()
                recorded.append({"name": entry.name, "succeeded": False, "error": error})
            else:
                recorded.append({"name": entry.name, "succeeded": True, "error": None})
        return recorded

    recorded = ctx.run_in_child_context(
        undo_all, name=name, config=ChildConfig(sub_type=COMPENSATIONS_SUB_TYPE)
    )
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
