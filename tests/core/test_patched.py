"""ctx.patched / ctx.deprecate_patch: changing a workflow while old executions are in flight.

Expected ids follow the id rule of AWS's SDK (``blake2b(str(n))[:64]`` at the root),
computed here independently; the marker's id is ``blake2b("patch:<change-id>")[:64]``,
the documented form (docs/versioning.md), and must match the OperationId pattern of
boto3's service model.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import boto3
from durable_closure import run
from durable_core import DurableContext, MemoryBackend, NonDeterministicExecutionError
from durable_core.errors import qualified_type_name
from durable_core.types import OperationAction, OperationStatus, OperationType
from durable_testing.cli import replay

from tests.driver import Execution

MARKER_ID = hashlib.blake2b(b"patch:add-check").hexdigest()[:64]


def _position(n: int) -> str:
    return hashlib.blake2b(str(n).encode()).hexdigest()[:64]


def v1(event: Any, ctx: DurableContext) -> list[str]:
    """The code as deployed first: a, pause, b."""
    a: str = ctx.step(lambda s: "a", name="a")
    ctx.wait(10, name="pause")
    b: str = ctx.step(lambda s: "b", name="b")
    return [a, b]


def v2(event: Any, ctx: DurableContext) -> list[str]:
    """A check inserted between a and pause, behind a gate."""
    a: str = ctx.step(lambda s: "a", name="a")
    out = [a]
    if ctx.patched("add-check"):
        out.append(ctx.step(lambda s: "checked", name="check"))
    ctx.wait(10, name="pause")
    out.append(ctx.step(lambda s: "b", name="b"))
    return out


def v3(event: Any, ctx: DurableContext) -> list[str]:
    """Clean-up: every old execution finished; only the new path is left."""
    a: str = ctx.step(lambda s: "a", name="a")
    ctx.deprecate_patch("add-check")
    checked: str = ctx.step(lambda s: "checked", name="check")
    ctx.wait(10, name="pause")
    return [a, checked, ctx.step(lambda s: "b", name="b")]


def v4(event: Any, ctx: DurableContext) -> list[str]:
    """The gate removed altogether."""
    a: str = ctx.step(lambda s: "a", name="a")
    checked: str = ctx.step(lambda s: "checked", name="check")
    ctx.wait(10, name="pause")
    return [a, checked, ctx.step(lambda s: "b", name="b")]


def _started_on(handler: Any) -> Execution:
    """An execution started on ``handler`` and suspended in its wait."""
    backend = MemoryBackend()
    arn = backend.start_execution(None)["DurableExecutionArn"]
    execution = Execution(backend, arn, run(handler))
    assert execution.invoke()["Status"] == "PENDING"
    return execution


def _resume_on(execution: Execution, handler: Any) -> dict[str, Any]:
    execution.handler = run(handler)
    execution.fire_timers()
    return execution.invoke()


def _marker_updates(execution: Execution) -> list[Any]:
    return [
        update
        for call in execution.backend.calls
        for update in call.updates
        if update.id == MARKER_ID
    ]


def test_marker_id_fits_the_operation_id_pattern() -> None:
    shape = boto3.client("lambda", region_name="us-east-1").meta.service_model.shape_for(
        "OperationId"
    )
    assert re.fullmatch(shape.metadata["pattern"], MARKER_ID)
    assert len(MARKER_ID) <= shape.metadata["max"]


def test_old_execution_suspended_past_the_gate_finishes_on_the_old_path() -> None:
    execution = _started_on(v1)
    response = _resume_on(execution, v2)
    assert response["Status"] == "SUCCEEDED"
    assert json.loads(response["Result"]) == ["a", "b"]
    names = {op.name: op.id for op in execution.operations() if op.name}
    assert names == {"a": _position(1), "pause": _position(2), "b": _position(3)}
    assert _marker_updates(execution) == []


def test_old_execution_suspended_before_the_gate_takes_the_new_path() -> None:
    def v1_late(event: Any, ctx: DurableContext) -> list[str]:
        ctx.wait(10, name="pause")
        return [ctx.step(lambda s: "b", name="b")]

    def v2_late(event: Any, ctx: DurableContext) -> list[str]:
        ctx.wait(10, name="pause")
        out = [ctx.step(lambda s: "checked", name="check")] if ctx.patched("add-check") else []
        return [*out, ctx.step(lambda s: "b", name="b")]

    execution = _started_on(v1_late)
    response = _resume_on(execution, v2_late)
    # Nothing was recorded past the gate, so the new path is safe.
    assert json.loads(response["Result"]) == ["checked", "b"]


def test_new_execution_takes_the_new_path_and_records_one_marker() -> None:
    execution = _started_on(v2)
    response = _resume_on(execution, v2)
    assert json.loads(response["Result"]) == ["a", "checked", "b"]
    ops = {op.id: op for op in execution.operations()}
    marker = ops[MARKER_ID]
    assert (marker.type, marker.sub_type, marker.name) == (OperationType.STEP, "Patch", "add-check")
    assert (marker.status, marker.result) == (OperationStatus.SUCCEEDED, "true")
    # The marker consumes no position: check, pause and b follow a as 2, 3, 4.
    assert [ops[_position(n)].name for n in (1, 2, 3, 4)] == ["a", "check", "pause", "b"]
    # Sent once, atomically: one SUCCEED, no START; the replay found it.
    assert [u.action for u in _marker_updates(execution)] == [OperationAction.SUCCEED]


def test_replay_of_a_new_execution_is_deterministic() -> None:
    execution = _started_on(v2)
    _resume_on(execution, v2)
    outcome = replay(run(v2), execution.operations())
    assert outcome.divergence is None
    # The same log read by the code before the change diverges at position 2.
    assert replay(run(v1), execution.operations()).divergence is not None


def test_gate_in_a_loop_answers_the_same_every_iteration() -> None:
    def old_loop(event: Any, ctx: DurableContext) -> list[str]:
        for i in range(2):
            ctx.step(lambda s, i=i: i, name=f"s{i}")
            ctx.wait(10, name=f"w{i}")
        return []

    def new_loop(event: Any, ctx: DurableContext) -> list[str]:
        paths = []
        for i in range(2):
            paths.append("new" if ctx.patched("add-check") else "old")
            ctx.step(lambda s, i=i: i, name=f"s{i}")
            ctx.wait(10, name=f"w{i}")
        return paths

    execution = _started_on(old_loop)  # suspended in w0
    _resume_on(execution, new_loop)  # suspended in w1
    response = _resume_on(execution, new_loop)
    # Iteration 1 reached its gate with nothing recorded past it, yet it stays on the
    # path iteration 0 chose: one execution, one answer.
    assert json.loads(response["Result"]) == ["old", "old"]


def test_deprecate_patch_records_the_marker_so_a_rollback_replays() -> None:
    execution = _started_on(v3)
    assert [u.action for u in _marker_updates(execution)] == [OperationAction.SUCCEED]
    response = _resume_on(execution, v2)  # rolled back to the code with the gate
    assert json.loads(response["Result"]) == ["a", "checked", "b"]


def test_deprecate_patch_refuses_an_execution_on_the_old_path() -> None:
    execution = _started_on(v1)
    response = _resume_on(execution, v3)
    assert response["Status"] == "FAILED"
    expected_type = qualified_type_name(NonDeterministicExecutionError("", operation_id=""))
    assert response["Error"]["ErrorType"] == expected_type
    assert "add-check" in response["Error"]["ErrorMessage"]


def test_removing_the_gate_after_deprecation_keeps_ids() -> None:
    execution = _started_on(v3)
    response = _resume_on(execution, v4)
    assert json.loads(response["Result"]) == ["a", "checked", "b"]
