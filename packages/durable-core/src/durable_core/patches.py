"""Version gates: change a workflow's code while executions of the old code are in flight.

Operation ids are positional, so inserting, removing or reordering operations breaks
the replay of every execution that ran the old code. ``ctx.patched("change-id")``
lets the new code keep both paths and pick, per execution, the one it was on:

* an execution that reaches the gate for the first time takes the new path, and a
  marker is checkpointed: a STEP of subtype ``Patch`` named after the change, whose
  result is ``true``, sent as one SUCCEED (no START), so it exists entirely or not at all;
* an execution whose log holds the marker takes the new path again on replay;
* an execution whose log already holds the operation that comes next in this context,
  and no marker, ran past the gate on the old code: it takes the old path.

The marker's id lives outside the positional namespace (a hash of
``"<context prefix>-patch:<change-id>"``, never of a number), so it consumes no
position: the operations after the gate keep the ids they had in old executions, and
old executions never get a marker. The decision is remembered per context for the
rest of the invocation, so a gate in a loop answers the same on every iteration.

``ctx.deprecate_patch("change-id")`` is the clean-up phase, once no old execution is
left: the code keeps only the new path, and the call still records the marker, so a
rollback to the code with ``patched`` stays correct. Removing the call later is safe
too: a marker is found by id, never by position, so nothing else shifts.

Both gates are flows (``operations._flow``): the decision and the marker are written
once, for the sync context (``run_flow``) and the asyncio one (``durable_core.aio``).
"""

from __future__ import annotations

import hashlib
import weakref
from typing import TYPE_CHECKING

from durable_core._replay import OperationCall, check_identity
from durable_core.config import validate_name
from durable_core.errors import BranchCancelled, NonDeterministicExecutionError, ValidationError
from durable_core.operations._flow import Flow, SendResult, run_flow
from durable_core.operations._updates import update_for
from durable_core.types import OperationAction, OperationType

if TYPE_CHECKING:
    from durable_core.context import DurableContext

__all__ = [
    "PATCH_SUB_TYPE",
    "deprecate_patch",
    "deprecate_patch_flow",
    "patch_marker_id",
    "patched",
    "patched_flow",
]

PATCH_SUB_TYPE = "Patch"
# The result of every marker: the gate was passed on the new code.
_MARKER_RESULT = "true"

_decisions: weakref.WeakKeyDictionary[DurableContext, dict[str, bool]] = weakref.WeakKeyDictionary()


def patch_marker_id(prefix: str | None, change_id: str) -> str:
    """The marker's id: a hash like a positional id's, of a string no position produces."""
    raw = f"{prefix}-patch:{change_id}" if prefix else f"patch:{change_id}"
    return hashlib.blake2b(raw.encode()).hexdigest()[:64]


def patched(ctx: DurableContext, change_id: str) -> bool:
    """True: take the new path (the marker is recorded, or now checkpointed); False: old."""
    return run_flow(patched_flow(ctx, change_id), ctx._checkpointer)


def deprecate_patch(ctx: DurableContext, change_id: str) -> None:
    """Record the marker as ``patched`` would; refuse an execution that took the old path."""
    run_flow(deprecate_patch_flow(ctx, change_id), ctx._checkpointer)


def patched_flow(ctx: DurableContext, change_id: str) -> Flow[bool]:
    """The gate, for any driver: yields the marker's ``SendResult`` when it records one."""
    remembered = _decisions.setdefault(ctx, {})
    if change_id in remembered:
        return remembered[change_id]
    call = _marker_call(ctx, change_id)
    recorded = ctx._record(call.id)
    check_identity(call, recorded)
    if recorded is not None:
        decision = True
    elif ctx._ids.peek_id() in ctx._state.log:
        decision = False
    else:
        if ctx._cancel is not None and ctx._cancel.is_set():
            raise BranchCancelled(f"{call.describe()}: its batch has already completed")
        yield SendResult(update_for(call, OperationAction.SUCCEED, payload=_MARKER_RESULT))
        decision = True
    remembered[change_id] = decision
    return decision


def deprecate_patch_flow(ctx: DurableContext, change_id: str) -> Flow[None]:
    """``deprecate_patch`` for any driver: the gate, which must not take the old path."""
    if not (yield from patched_flow(ctx, change_id)):
        raise NonDeterministicExecutionError(
            f"This execution ran past the gate {change_id!r} on the code before the change, "
            "but the code now calls deprecate_patch there. Keep ctx.patched("
            f"{change_id!r}) with both paths until every such execution has finished.",
            operation_id=patch_marker_id(ctx._ids.prefix, change_id),
        )


def _marker_call(ctx: DurableContext, change_id: str) -> OperationCall:
    name = validate_name(change_id)
    if name is None:
        raise ValidationError("a change id must be a non-empty string")
    return OperationCall(
        patch_marker_id(ctx._ids.prefix, name),
        OperationType.STEP,
        PATCH_SUB_TYPE,
        name,
        ctx._parent_id,
    )
