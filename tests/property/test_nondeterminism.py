"""Code changed between invocations: detected, named, or rightly treated as new work.

Version 1 of a workflow runs until its ``gate`` wait suspends; the timer fires and
version 2 (a mutation of version 1) is invoked on the same execution. The expected
outcome comes from a model of replay, not from the SDK: ids are positions, so the
first position where version 2 calls an operation of another type, subtype or name
than the one recorded must fail the execution with ``NonDeterministicExecutionError``
naming that operation and what differed; operations beyond the recorded ones are new
work; operations recorded but no longer called are never visited (undetectable).

Inside a parallel or map batch the same model holds per branch: a branch's id is its
index, so a reordered, inserted or removed branch puts another branch's operations at
a recorded id; branches the batch had not started yet (``max_concurrency``) have no
record, so anything may change there, and so may ``max_concurrency`` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from durable_closure import run
from durable_core import (
    BatchResult,
    CompletionConfig,
    DurableContext,
    MapConfig,
    MemoryBackend,
    ParallelConfig,
    StepContext,
    use_backend,
)
from hypothesis import example, given
from hypothesis import strategies as st

NDE = "durable_core.errors.NonDeterministicExecutionError"


@dataclass(frozen=True)
class Op:
    kind: str  # "step", "wait" or "child" (a child context running one step)
    name: str

    @property
    def identity(self) -> tuple[str, str]:
        return {"step": ("STEP", "Step"), "wait": ("WAIT", "Wait")}.get(
            self.kind, ("CONTEXT", "RunInChildContext")
        )


GATE = Op("wait", "gate")


def _program(ops: list[Op]) -> Any:
    ran: list[str] = []

    def record(name: str, _: StepContext) -> str:
        ran.append(name)
        return name

    def child(name: str, c: DurableContext) -> str:
        return c.step(partial(record, name), name="inner")

    def workflow(event: Any, ctx: DurableContext) -> list[str]:
        for op in ops:
            if op.kind == "step":
                ctx.step(partial(record, op.name), name=op.name)
            elif op.kind == "wait":
                ctx.wait(1, name=op.name)
            else:
                ctx.run_in_child_context(partial(child, op.name), name=op.name)
        return ran

    return workflow


def _upgrade(v1: list[Op], v2: list[Op]) -> dict[str, Any]:
    """Run v1 until it suspends at its gate, then invoke v2 on the same execution."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        assert run(_program(v1))(event, None)["Status"] == "PENDING"
        backend.fire_timers(arn)
        response: dict[str, Any] = run(_program(v2))(backend.invocation_event(arn), None)
    return response


def _expected(recorded: list[Op], v2: list[Op]) -> tuple[Op, list[str]] | None:
    """The first operation of v2 that replay must reject, and the fields that differ."""
    for old, new in zip(recorded, v2, strict=False):
        differs = []
        if old.identity[0] != new.identity[0]:
            differs.append(f"type recorded {old.identity[0]}, now {new.identity[0]}")
        if old.identity[1] != new.identity[1]:
            differs.append(f"subtype recorded '{old.identity[1]}', now '{new.identity[1]}'")
        if old.name != new.name:
            differs.append(f"name recorded '{old.name}', now '{new.name}'")
        if differs:
            return new, differs
    return None


def _check(v1: list[Op], v2: list[Op]) -> None:
    response = _upgrade([*v1, GATE], v2)
    expected = _expected([*v1, GATE], v2)
    if expected is None:
        assert response["Status"] == "SUCCEEDED", response
        return
    op, differs = expected
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == NDE
    message = response["Error"]["ErrorMessage"]
    assert f"{op.identity[0]} '{op.name}'" in message, message
    for difference in differs:
        assert difference in message, (difference, message)


names = st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=5, unique=True)


@st.composite
def upgrades(draw: st.DrawFn) -> tuple[list[Op], list[Op]]:
    v1 = [Op(draw(st.sampled_from(["step", "step", "child"])), n) for n in draw(names)]
    recorded = [*v1, GATE]
    i = draw(st.integers(0, len(v1) - 1))
    change = draw(
        st.sampled_from(
            ["rename", "swap", "remove", "insert", "retype", "wrap", "append", "truncate"]
        )
    )
    v2 = list(recorded)
    if change == "rename":
        v2[i] = Op(v1[i].kind, v1[i].name + "-renamed")
    elif change == "swap" and len(v1) > 1:
        j = draw(st.integers(0, len(v1) - 1).filter(lambda j: j != i))
        v2[i], v2[j] = v2[j], v2[i]
    elif change == "remove":
        del v2[i]
    elif change == "insert":
        v2.insert(i, Op(draw(st.sampled_from(["step", "wait", "child"])), "added"))
    elif change == "retype":
        kinds = [k for k in ("step", "wait", "child") if k != v1[i].kind]
        v2[i] = Op(draw(st.sampled_from(kinds)), v1[i].name)
    elif change == "wrap":  # moved into a new child context (a changed parent)
        v2[i] = Op("child", f"wrap-{v1[i].name}")
    elif change == "append":
        v2.append(Op(draw(st.sampled_from(["step", "child"])), "added"))
    elif change == "truncate":  # the last operations removed: never visited again
        v2 = v2[: draw(st.integers(0, len(v2)))]
    return v1, v2


@given(upgrades())
@example(([Op("step", "a"), Op("step", "b")], [Op("step", "b"), Op("step", "a"), GATE]))
def test_changed_code_is_detected_or_is_new_work(upgrade: tuple[list[Op], list[Op]]) -> None:
    v1, v2 = upgrade
    _check(v1, v2)


def test_operations_added_after_the_recorded_ones_run_as_new_work() -> None:
    v1 = [Op("step", "a")]
    response = _upgrade([*v1, GATE], [*v1, GATE, Op("step", "new"), Op("child", "kid")])
    assert response == {"Status": "SUCCEEDED", "Result": '["new", "kid"]'}


def test_removing_the_last_operations_is_undetectable() -> None:
    """The execution simply ends earlier: replay never visits the ids no longer called."""
    v1 = [Op("step", "a"), Op("step", "b")]
    response = _upgrade([*v1, GATE], [Op("step", "a")])
    assert response == {"Status": "SUCCEEDED", "Result": "[]"}


def test_changes_inside_a_completed_child_context_are_undetectable() -> None:
    """A completed child returns its recorded result without re-entering its function."""
    v1 = [Op("child", "kid")]

    def v2(event: Any, ctx: DurableContext) -> Any:
        value = ctx.run_in_child_context(lambda c: c.step(lambda _: "changed", name="other"), "kid")
        ctx.wait(1, name="gate")
        return value

    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        run(_program([*v1, GATE]))(event, None)
        backend.fire_timers(arn)
        response = run(v2)(backend.invocation_event(arn), None)
    assert response == {"Status": "SUCCEEDED", "Result": '"kid"'}


def test_a_recorded_parent_that_differs_is_named() -> None:
    """Ids encode the parent, so only a foreign or altered log can hold another ParentId
    at the same id; the check still names it."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    program = _program([Op("step", "a"), GATE])
    with use_backend(backend):
        run(program)(event, None)
        backend.fire_timers(arn)
        event = backend.invocation_event(arn)
        for op in event["InitialExecutionState"]["Operations"]:
            if op.get("Name") == "a":
                op["ParentId"] = "elsewhere"
        response = run(program)(event, None)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == NDE
    assert "parent recorded 'elsewhere', now None" in response["Error"]["ErrorMessage"]


# -- changes inside parallel and map branches -----------------------------------------


@dataclass(frozen=True)
class Batch:
    """A batch whose branch ``i`` runs a step named ``names[i]``, then waits."""

    kind: str  # "parallel" or "map"
    names: tuple[str, ...]
    max_concurrency: int | None

    @property
    def recorded(self) -> tuple[str, ...]:
        """The branches the first invocation starts: each then waits, keeping its slot."""
        return self.names[: self.max_concurrency or len(self.names)]


def _batch_program(batch: Batch) -> Any:
    def branch(ctx: DurableContext, name: str) -> str:
        ctx.step(lambda _: name, name=name)
        ctx.wait(1, name="gate")
        return name

    def workflow(event: Any, ctx: DurableContext) -> list[str]:
        completion = CompletionConfig.all_completed()
        result: BatchResult[str]
        if batch.kind == "parallel":
            config = ParallelConfig[str](
                max_concurrency=batch.max_concurrency, completion_config=completion
            )
            branches = [lambda c, n=n: branch(c, n) for n in batch.names]
            result = ctx.parallel(branches, name="batch", config=config)
        else:
            map_config = MapConfig[str](
                max_concurrency=batch.max_concurrency, completion_config=completion
            )
            result = ctx.map(
                list(batch.names), lambda c, n, i, items: branch(c, n), "batch", map_config
            )
        return result.get_results()

    return workflow


def _upgrade_batch(v1: Batch, v2: Batch) -> dict[str, Any]:
    """Run v1 until its first suspension, then v2 on the same execution to its end."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        response: dict[str, Any] = run(_batch_program(v1))(event, None)
        assert response["Status"] == "PENDING"
        while response["Status"] == "PENDING":
            backend.fire_timers(arn)
            response = run(_batch_program(v2))(backend.invocation_event(arn), None)
    return response


def _check_batch(v1: Batch, v2: Batch) -> None:
    response = _upgrade_batch(v1, v2)
    if len(v2.names) < len(v1.recorded):
        # A started branch is gone: the batch itself is reported, before any branch runs.
        assert response["Status"] == "FAILED", response
        assert response["Error"]["ErrorType"] == NDE
        assert f"started branch {len(v2.names)} " in response["Error"]["ErrorMessage"]
        return
    changed = [
        f"name recorded '{old}', now '{new}'"
        for old, new in zip(v1.recorded, v2.names, strict=False)
        if old != new
    ]
    if not changed:
        assert response == {"Status": "SUCCEEDED", "Result": json.dumps(list(v2.names))}
        return
    assert response["Status"] == "FAILED", response
    assert response["Error"]["ErrorType"] == NDE
    # Branches run concurrently: whichever changed branch replays first is reported.
    message = response["Error"]["ErrorMessage"]
    assert any(difference in message for difference in changed), (changed, message)


concurrency = st.sampled_from([None, 1, 2])


@st.composite
def batch_upgrades(draw: st.DrawFn) -> tuple[Batch, Batch]:
    names = draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True))
    v1 = Batch(draw(st.sampled_from(["parallel", "map"])), tuple(names), draw(concurrency))
    change = draw(
        st.sampled_from(["swap", "remove", "insert", "append", "rename", "max_concurrency"])
    )
    i = draw(st.integers(0, len(names) - 1))
    v2_names = list(names)
    if change == "swap" and len(names) > 1:
        j = draw(st.integers(0, len(names) - 1).filter(lambda j: j != i))
        v2_names[i], v2_names[j] = v2_names[j], v2_names[i]
    elif change == "remove" and len(names) > 1:
        del v2_names[i]
    elif change == "insert":
        v2_names.insert(i, "added")
    elif change == "append":
        v2_names.append("added")
    elif change == "rename":
        v2_names[i] += "-renamed"
    limit = draw(concurrency) if change == "max_concurrency" else v1.max_concurrency
    return v1, Batch(v1.kind, tuple(v2_names), limit)


@given(batch_upgrades())
@example((Batch("parallel", ("a", "b"), None), Batch("parallel", ("b", "a"), None)))
@example((Batch("map", ("a", "b", "c"), 1), Batch("map", ("a", "c"), 1)))
def test_changed_branches_are_detected_or_are_new_work(upgrade: tuple[Batch, Batch]) -> None:
    _check_batch(*upgrade)


def test_a_branch_the_batch_had_not_started_may_change() -> None:
    """With max_concurrency 1 only branch 0 ran before the suspension: branch 1 has no
    record, so replacing it is new work, as is running the rest with more concurrency."""
    v1 = Batch("parallel", ("a", "b"), 1)
    response = _upgrade_batch(v1, Batch("parallel", ("a", "z", "y"), None))
    assert response == {"Status": "SUCCEEDED", "Result": '["a", "z", "y"]'}
