"""The guarantees the fast paths rely on (docs/performance.md, "Semantics kept").

With ``pipeline_checkpoints=True`` the checkpointer sends at-least-once results in the
background; these tests use a backend with a 12 ms round trip and check what must
still hold: an at-most-once START is persisted before its body runs, everything is
persisted before the handler returns or suspends, updates keep their order, and a
pipelined result lost in a crash makes replay run that step again. The lean log is
checked too: a malformed operation is a typed error, and the event's records replay.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from durable_core import (
    CheckpointResponse,
    DurableContext,
    ExecutionOptions,
    InvalidEventError,
    MemoryBackend,
    StepConfig,
    StepSemantics,
    run_invocation,
)
from durable_core.typed import inferred_serdes
from durable_core.types import OperationAction, OperationUpdate

ROUND_TRIP = 0.012  # a network round trip
PIPELINED = {"pipeline_checkpoints": True}


class SlowBackend(MemoryBackend):
    """A MemoryBackend whose checkpoint calls take a network round trip."""

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        time.sleep(ROUND_TRIP)
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


def _flat(backend: MemoryBackend) -> list[tuple[str | None, OperationAction]]:
    return [(u.name, u.action) for c in backend.calls for u in c.updates]


def _steps(n: int) -> Any:
    def workflow(event: Any, ctx: DurableContext) -> int:
        return sum(ctx.step(lambda s, i=i: i, name=f"s{i}") for i in range(n))

    return workflow


def test_pipelining_keeps_the_update_sequence_and_flushes_before_returning() -> None:
    fast, slow = MemoryBackend(), SlowBackend()
    for backend, pipeline in ((fast, False), (slow, True)):
        event = backend.start_execution(None)
        options = ExecutionOptions(backend=backend, pipeline_checkpoints=pipeline)
        response = run_invocation(_steps(12), event, None, options)
        # Returned only after every result was persisted: all 12 steps SUCCEEDED.
        assert response == {"Status": "SUCCEEDED", "Result": str(sum(range(12)))}
        ops = backend.operations(event["DurableExecutionArn"])
        assert sum(op.status.value == "SUCCEEDED" for op in ops if op.name) == 12
    # The same updates in the same order (START, SUCCEED per step), in fewer calls when
    # pipelined; by default one call per step, as AWS's SDK.
    assert _flat(slow) == _flat(fast)
    assert len(fast.calls) == 12
    assert len(slow.calls) < 12


def test_an_at_most_once_start_is_persisted_before_its_body_runs() -> None:
    backend = SlowBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    seen_at_body: list[list[tuple[str | None, OperationAction]]] = []

    def guarded(s: Any) -> str:
        seen_at_body.append(_flat(backend))
        return "charged"

    def workflow(event: Any, ctx: DurableContext) -> str:
        for i in range(6):  # pipelined results, buffered or in flight
            ctx.step(lambda s, i=i: i, name=f"s{i}")
        config: StepConfig[str] = StepConfig(semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
        return ctx.step(guarded, name="charge", config=config)

    run_invocation(workflow, event, None, ExecutionOptions(backend=backend, **PIPELINED))
    persisted = seen_at_body[0]
    # Every earlier result, then the guarded step's START, were persisted first.
    assert persisted[-1] == ("charge", OperationAction.START)
    assert [name for name, action in persisted if action is OperationAction.SUCCEED] == [
        f"s{i}" for i in range(6)
    ]
    assert backend.operations(arn)[-1].name == "charge"


def test_everything_is_persisted_before_suspending() -> None:
    backend = SlowBackend()
    event = backend.start_execution(None)

    def workflow(event: Any, ctx: DurableContext) -> None:
        for i in range(8):
            ctx.step(lambda s, i=i: i, name=f"s{i}")
        ctx.wait(60)

    response = run_invocation(workflow, event, None, ExecutionOptions(backend=backend, **PIPELINED))
    assert response == {"Status": "PENDING"}
    ops = backend.operations(event["DurableExecutionArn"])
    assert {op.name for op in ops if op.status.value == "SUCCEEDED"} == {f"s{i}" for i in range(8)}


class CrashingBackend(SlowBackend):
    """Dies (as a process would: SystemExit) on the first checkpoint call carrying the
    result of step ``crash_on``, before the request leaves, so that call's updates are
    lost (and, results being ordered, every later one)."""

    def __init__(self, crash_on: str) -> None:
        super().__init__()
        self.crash_on = crash_on
        self.crashed = False

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        carries = any(
            u.name == self.crash_on and u.action is OperationAction.SUCCEED for u in updates
        )
        if carries and not self.crashed:
            self.crashed = True
            raise SystemExit("the process died")
        return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)


def test_a_lost_pipelined_result_is_run_again_on_replay() -> None:
    backend = CrashingBackend(crash_on="s5")
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    runs: list[int] = []

    def workflow(event: Any, ctx: DurableContext) -> int:
        def body(i: int) -> Any:
            def run(s: Any) -> int:
                runs.append(i)
                return i

            return run

        return sum(ctx.step(body(i), name=f"s{i}") for i in range(10))

    options = ExecutionOptions(backend=backend, **PIPELINED)
    with pytest.raises(SystemExit):
        run_invocation(workflow, event, None, options)
    persisted = {op.name for op in backend.operations(arn) if op.status.value == "SUCCEEDED"}
    lost = [i for i in range(10) if f"s{i}" not in persisted]
    # Results persist in order: what was lost is a suffix of the steps.
    assert lost and lost == list(range(lost[0], 10)) and lost[0] <= 5
    runs.clear()
    response = run_invocation(workflow, backend.invocation_event(arn), None, options)
    assert response == {"Status": "SUCCEEDED", "Result": str(sum(range(10)))}
    assert runs == lost  # exactly the steps whose results were lost ran again


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        ({"Id": "", "Type": "STEP", "Status": "SUCCEEDED"}, "no usable Id"),
        ({"Id": "a", "Type": "NOPE", "Status": "SUCCEEDED"}, "unknown Type"),
        ({"Id": "a", "Type": "STEP", "Status": 3}, "unknown Status"),
        (["Id", "a"], "not an object"),
    ],
)
def test_operations_with_unusable_identity_are_rejected_before_the_handler(
    operation: Any, problem: str
) -> None:
    event = {
        "DurableExecutionArn": "arn:x",
        "CheckpointToken": "t",
        "InitialExecutionState": {"Operations": [operation]},
    }
    ran: list[bool] = []
    options = ExecutionOptions(backend=MemoryBackend())
    with pytest.raises(InvalidEventError, match=problem):
        run_invocation(lambda e, ctx: ran.append(True), event, None, options)
    assert ran == []


def test_a_malformed_record_read_by_the_engine_is_a_typed_error() -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    from durable_core._ids import operation_id

    event["InitialExecutionState"]["Operations"].append(
        {
            "Id": operation_id(None, 1),
            "Type": "STEP",
            "SubType": "Step",
            "Status": "SUCCEEDED",
            "StepDetails": {"Attempt": "many", "Result": "1"},
        }
    )
    response = run_invocation(
        lambda e, ctx: ctx.step(lambda s: 2), event, None, ExecutionOptions(backend=backend)
    )
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.InvalidEventError"
    assert "StepDetails.Attempt" in response["Error"]["ErrorMessage"]


def test_by_default_a_result_is_persisted_before_the_step_returns() -> None:
    """Without opting in, a slow service still sees each result before the next step runs:
    a later step never acts on an earlier result that a crash could lose."""
    backend = SlowBackend()
    event = backend.start_execution(None)
    seen: list[int] = []

    def workflow(event: Any, ctx: DurableContext) -> None:
        for i in range(4):
            ctx.step(lambda s, i=i: i, name=f"s{i}")
            persisted = [u for c in backend.calls for u in c.updates]
            seen.append(sum(u.action is OperationAction.SUCCEED for u in persisted))

    run_invocation(workflow, event, None, ExecutionOptions(backend=backend))
    assert seen == [1, 2, 3, 4]


@dataclasses.dataclass
class Parcel:
    weight: int


def _parcel_step(weight: int) -> Callable[[Any], Parcel]:
    def body(step: Any) -> Parcel:
        return Parcel(weight)

    return body


def test_step_bodies_made_by_one_factory_each_get_their_declared_type() -> None:
    """The inferred serdes is cached by code: every closure of the factory still returns a
    Parcel, on the first run and on replay."""
    backend = MemoryBackend()
    event = backend.start_execution(None)
    seen: list[list[Any]] = []

    def workflow(event: Any, ctx: DurableContext) -> None:
        seen.append([ctx.step(_parcel_step(w)) for w in (1, 2, 3)])
        ctx.wait(1)

    options = ExecutionOptions(backend=backend)
    assert run_invocation(workflow, event, None, options)["Status"] == "PENDING"
    backend.fire_timers(event["DurableExecutionArn"])
    run_invocation(workflow, backend.invocation_event(event["DurableExecutionArn"]), None, options)
    assert seen == [[Parcel(1), Parcel(2), Parcel(3)]] * 2


@dataclasses.dataclass
class Letter:
    text: str


def test_the_same_code_in_other_globals_resolves_its_own_annotation() -> None:
    """Two functions of equal code whose return annotation names another type in their
    module: the cache keyed by code must not hand one the other's type."""
    source = 'def body(step) -> "Item":\n    return None\n'
    first: dict[str, Any] = {"Item": Parcel}
    second: dict[str, Any] = {"Item": Letter}
    exec(source, first)  # two modules defining the same function
    exec(source, second)
    assert first["body"].__code__ == second["body"].__code__
    first_serdes, second_serdes = inferred_serdes(first["body"]), inferred_serdes(second["body"])
    assert first_serdes is not None and first_serdes.tp is Parcel
    assert second_serdes is not None and second_serdes.tp is Letter


def test_every_public_name_resolves_to_its_module_object() -> None:
    import durable_core
    from durable_core.backends.memory import MemoryBackend as Memory
    from durable_core.waits import fixed_wait

    for name in durable_core.__all__:
        assert getattr(durable_core, name) is not None, name
    assert durable_core.MemoryBackend is Memory
    assert durable_core.fixed_wait is fixed_wait
    with pytest.raises(AttributeError):
        durable_core.NoSuchName  # noqa: B018


def test_a_cold_import_loads_none_of_the_rarely_used_parts() -> None:
    """What docs/performance.md says a handler's import does not pay for."""
    code = "import sys, durable_closure; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert "durable_core" in loaded
    assert not loaded & {
        "asyncio",
        "boto3",
        "botocore",
        "concurrent.futures",
        "durable_core.aio",
        "durable_core.batch",
        "durable_core.combinators",
        "durable_core.operations.callback",
        "durable_core.operations.saga",
        "durable_core.patches",
        "durable_core.waits",
        "pydantic",
        "pydantic_core",
        "typing_extensions",
    }
