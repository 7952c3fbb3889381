"""Code changed between invocations: detected, named, or rightly treated as new work.

Version 1 of a workflow runs until its ``gate`` wait suspends; the timer fires and
version 2 (a mutation of version 1) is invoked on the same execution. The expected
outcome comes from a model of replay, not from the SDK: ids are positions, so the
first position where version 2 calls an operation of another type, subtype or name
than the one recorded must fail the execution with ``NonDeterministicExecutionError``
naming that operation and what differed; operations beyond the recorded ones are new
work; operations recorded but no longer called are never visited (undetectable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durable_closure import run
from durable_core import DurableContext, MemoryBackend, use_backend
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

    def workflow(event: Any, ctx: DurableContext) -> list[str]:
        for op in ops:
            if op.kind == "step":
                ctx.step(lambda _, n=op.name: ran.append(n) or n, name=op.name)
            elif op.kind == "wait":
                ctx.wait(1, name=op.name)
            else:
                ctx.run_in_child_context(
                    lambda c, n=op.name: c.step(lambda _: ran.append(n) or n, name="inner"),
                    name=op.name,
                )
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
