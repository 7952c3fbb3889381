"""Map and parallel crashed at every checkpoint call, then resumed by either SDK.

The engine may free a batch branch's slot as soon as the branch's outcome (its child
context's SUCCEED or FAIL) is queued, without waiting for it to be persisted (issue 16).
That is safe because updates are persisted in the order they were queued. What must
hold, seen from the service, whatever the SDK and wherever the process dies:

* after every checkpoint call the service applied, at most ``max_concurrency`` branches
  of a batch are STARTED and not terminal;
* a batch's outcome is persisted after its branches': every item its recorded
  ``BatchResult`` reports SUCCEEDED or FAILED is already so in the log;
* a step's outcome is persisted before the step returns (or raises), and a step whose
  outcome was persisted never runs again.

Each workflow is written once for AWS's SDK and ours (sync, and ours async): maps of 8
items, each item one step, at max_concurrency 1, 3 and unbounded; the same at 3 with two
items failing (no retry, failures tolerated); a parallel of 5 branches at 2; maps that
complete early on ``min_successful`` at 1 and at 3 (branches still running are cut short
and reported STARTED); a map at 1 whose failing item fails the execution. For every k, our
SDK runs it and the process dies right before the service receives its k-th checkpoint
call, or right after the service applied it (a hard crash: nothing more leaves the dying
process). Then the service re-invokes and our SDK, or AWS's, runs the execution to its
end: it must end as an uninterrupted run of AWS's SDK alone does (the oracle).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import CompletionConfig as AwsCompletionConfig
from aws_durable_execution_sdk_python.config import MapConfig as AwsMapConfig
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.config import StepConfig as AwsStepConfig
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.retries import RetryDecision
from durable_core import (
    AsyncDurableContext,
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    ExecutionOptions,
    MapConfig,
    MemoryBackend,
    ParallelConfig,
    StepConfig,
    no_retry,
    run_invocation,
)
from durable_core.serdes import EXTENDED_SERDES
from durable_core.types import (
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
    OperationUpdate,
)
from durable_testing.faults import Fault, FaultSchedule, FaultyBackend, SimulatedCrash

from tests.compat.conftest import Invoker, Run, aws_invoker, our_invoker, without_stack_trace
from tests.driver import start

BRANCH_SUBTYPES = ("MapIteration", "ParallelBranch")
BATCH_SUBTYPES = ("Map", "Parallel")


@dataclass(frozen=True)
class Case:
    """One batch: ``items`` branches, each one step; the steps of ``failing`` raise.

    Failures are tolerated (``all_completed``) unless ``fail_fast``: then the first one
    ends the batch and the handler raises it (``throw_if_error``), failing the execution.
    """

    kind: str  # "map" or "parallel"
    items: int
    max_concurrency: int | None
    failing: frozenset[int] = frozenset()
    fail_fast: bool = False
    min_successful: int | None = None

    @property
    def limit(self) -> int:
        return self.max_concurrency or self.items

    @property
    def exact(self) -> bool:
        """Whether the batch's result is the same whatever the thread timing: it is not
        when it completes early while several branches run (which ones finished first)."""
        return self.limit == 1 or (self.min_successful is None and not self.fail_fast)


CASES = {
    "map-1": Case("map", 8, 1),
    "map-3": Case("map", 8, 3),
    "map-unbounded": Case("map", 8, None),
    "map-3-failing": Case("map", 8, 3, failing=frozenset({2, 5})),
    "parallel-2": Case("parallel", 5, 2),
    "map-min-successful": Case("map", 8, 1, min_successful=3),
    "map-3-min-successful": Case("map", 8, 3, min_successful=3),
    "map-1-fail-fast": Case("map", 8, 1, failing=frozenset({2}), fail_fast=True),
}


@dataclass
class Probe:
    """The service's view of one execution, checked after every call it applies, and the
    step bodies that ran, checked against what was persisted when they ran."""

    case: Case
    backend: MemoryBackend = field(init=False)
    arn: str = ""
    violations: list[str] = field(default_factory=list)
    runs: collections.Counter[str] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        self.backend = MemoryBackend(on_checkpoint=self.after_call)

    def persisted(self, name: str) -> Operation | None:
        return next(
            (
                op
                for op in self.backend.operations(self.arn)
                if op.type is OperationType.STEP and op.name == name
            ),
            None,
        )

    def after_call(self, arn: str) -> None:
        """The persisted log after a call: no more branches of a batch in flight than its
        limit, and a batch ended only after its branches: each started branch is in the
        batch's recorded result, and each the result reports ended has ended so."""
        ops = self.backend.operations(arn)
        for batch in (op for op in ops if op.sub_type in BATCH_SUBTYPES):
            branches = {
                int((op.name or "").rsplit("-", 1)[1]): op
                for op in ops
                if op.parent_id == batch.id and op.sub_type in BRANCH_SUBTYPES
            }
            open_ = sorted(i for i, op in branches.items() if op.status is OperationStatus.STARTED)
            if len(open_) > self.case.limit:
                self.violations.append(f"call {self.calls()}: branches {open_} in flight")
            if batch.status is OperationStatus.STARTED:
                continue
            recorded = EXTENDED_SERDES.deserialize(batch.result or "")
            assert isinstance(recorded, BatchResult)
            reported = {item.index: item.status.value for item in recorded.all}
            for index in reported.keys() | branches.keys():
                status = reported.get(index)
                branch = branches[index].status.value if index in branches else None
                if status is None or (status != "STARTED" and status != branch):
                    self.violations.append(
                        f"call {self.calls()}: batch ended with item {index} {status}, "
                        f"its branch {branch}"
                    )

    def calls(self) -> int:
        return sum(1 for c in self.backend.calls if c.execution_arn == self.arn)

    def body(self, index: int) -> Callable[[Any], int]:
        name = f"step-{index}"

        def run(_: Any) -> int:
            self.runs[name] += 1
            op = self.persisted(name)
            if op is not None and op.status.is_terminal:
                self.violations.append(f"{name} ran again after its {op.status.value}")
            if index in self.case.failing:
                raise ValueError(f"item {index} failed")
            return index * 10

        return run

    def returned(self, index: int) -> None:
        """A step returned or raised: its outcome must be persisted already."""
        op = self.persisted(f"step-{index}")
        if op is None or not op.status.is_terminal:
            self.violations.append(f"step-{index} returned before its outcome was persisted")


@dataclass(frozen=True)
class Sdk:
    """How one SDK spells the workflow's configs."""

    no_retry: Any
    map_config: Callable[[Case], Any]
    parallel_config: Callable[[Case], Any]


def _completion(case: Case, config: Any) -> Any:
    if case.min_successful is not None:
        return config(min_successful=case.min_successful)
    return config.all_completed() if case.failing and not case.fail_fast else config()


AWS = Sdk(
    no_retry=AwsStepConfig(retry_strategy=lambda error, attempts: RetryDecision.no_retry()),
    map_config=lambda c: AwsMapConfig(
        max_concurrency=c.max_concurrency, completion_config=_completion(c, AwsCompletionConfig)
    ),
    parallel_config=lambda c: AwsParallelConfig(
        max_concurrency=c.max_concurrency, completion_config=_completion(c, AwsCompletionConfig)
    ),
)
OURS = Sdk(
    no_retry=StepConfig(retry=no_retry),
    map_config=lambda c: MapConfig(
        max_concurrency=c.max_concurrency, completion_config=_completion(c, CompletionConfig)
    ),
    parallel_config=lambda c: ParallelConfig(
        max_concurrency=c.max_concurrency, completion_config=_completion(c, CompletionConfig)
    ),
)


def summary(result: Any) -> dict[str, Any]:
    """What the handler returns: each item's status, result and error type (either SDK)."""
    items = []
    for item in result.all:
        error = item.error
        error_type = getattr(error, "error_type", None) or getattr(error, "type", None)
        items.append([item.index, item.status.value, item.result, error_type])
    return {"items": items, "reason": result.completion_reason.value}


def sync_workflow(sdk: Sdk, probe: Probe) -> Callable[[Any, Any], Any]:
    case = probe.case

    def step(c: Any, index: int) -> Any:
        try:
            value = c.step(probe.body(index), name=f"step-{index}", config=sdk.no_retry)
        except Exception:
            probe.returned(index)
            raise
        probe.returned(index)
        return value

    def handler(event: Any, ctx: Any) -> Any:
        if case.kind == "map":
            result = ctx.map(
                list(range(case.items)),
                lambda c, x, i, xs: step(c, i),
                name="batch",
                config=sdk.map_config(case),
            )
        else:
            branches = [lambda c, i=i: step(c, i) for i in range(case.items)]
            result = ctx.parallel(branches, name="batch", config=sdk.parallel_config(case))
        if case.fail_fast:
            result.throw_if_error()
        return summary(result)

    return durable_execution(handler) if sdk is AWS else handler


def async_workflow(probe: Probe) -> Callable[[Any, AsyncDurableContext], Any]:
    case = probe.case

    async def step(c: AsyncDurableContext, index: int) -> Any:
        try:
            value = await c.step(probe.body(index), name=f"step-{index}", config=OURS.no_retry)
        except Exception:
            probe.returned(index)
            raise
        probe.returned(index)
        return value

    async def item(c: AsyncDurableContext, x: int, i: int, xs: Any) -> Any:
        return await step(c, i)

    def branch(i: int) -> Callable[[AsyncDurableContext], Any]:
        async def run(c: AsyncDurableContext) -> Any:
            return await step(c, i)

        return run

    async def handler(event: Any, ctx: AsyncDurableContext) -> Any:
        if case.kind == "map":
            result = await ctx.map(list(range(case.items)), item, "batch", OURS.map_config(case))
        else:
            branches = [branch(i) for i in range(case.items)]
            result = await ctx.parallel(branches, "batch", OURS.parallel_config(case))
        if case.fail_fast:
            result.throw_if_error()
        return summary(result)

    return handler


def new_run(case: Case) -> tuple[Run, Probe]:
    probe = Probe(case)
    run = start(None, backend=probe.backend, name="crash")
    probe.arn = run.arn
    return run, probe


def outcome(run: Run) -> tuple[str, Any]:
    """How the execution ended: its result, or its error (ours carries a StackTrace)."""
    final = without_stack_trace(run.final)
    return final["Status"], json.loads(final["Result"]) if "Result" in final else final["Error"]


def assert_same_outcome(case: Case, got: tuple[str, Any], want: tuple[str, Any]) -> None:
    """``got`` is ``want``; for a batch that completed early while several branches ran,
    the same completion reason, by items that ended as they must (others STARTED)."""
    if case.exact:
        assert got == want
        return
    assert got[0] == want[0] == "SUCCEEDED"
    assert got[1]["reason"] == want[1]["reason"]
    for index, status, result, _ in got[1]["items"]:
        if status == "SUCCEEDED":
            assert index not in case.failing and result == index * 10, got
        else:
            assert status == "STARTED" or (status == "FAILED" and index in case.failing), got
    succeeded = sum(item[1] == "SUCCEEDED" for item in got[1]["items"])
    assert succeeded >= (case.min_successful or 0)


FACES = {"sync": lambda probe: sync_workflow(OURS, probe), "async": async_workflow}
# Who resumes an execution whose process died: our SDK runs the same face again.
RESUMERS: dict[str, Callable[[Probe, str], Invoker]] = {
    "ours": lambda probe, face: our_invoker(FACES[face](probe)),
    "aws": lambda probe, face: aws_invoker(sync_workflow(AWS, probe)),
}


@dataclass
class CrashRun:
    """One execution: our SDK's first invocation died at call ``k`` (unless it made fewer
    calls), then the execution was resumed to its end."""

    k: int
    crashed: bool
    outcome: tuple[str, Any]
    violations: list[str]
    runs: collections.Counter[str]
    #: The steps whose SUCCEED or FAIL the service applied before the process died.
    persisted_steps: set[str]


def crash_then_resume(case: Case, when: Fault, k: int, face: str, resumer: str) -> CrashRun:
    run, probe = new_run(case)
    faulty = FaultyBackend(probe.backend, FaultSchedule(checkpoint={k: when}))
    event = run.backend.invocation_event(run.arn)
    try:
        response = run_invocation(FACES[face](probe), event, None, ExecutionOptions(backend=faulty))
    except SimulatedCrash:
        # The process died; the service re-invokes the execution.
        run.run_to_end(RESUMERS[resumer](probe, face))
        crashed = True
    else:
        run.responses.append(response)
        crashed = False
    persisted = {
        update.name or ""
        for call in faulty.applied
        for update in call
        if update.type is OperationType.STEP
        and update.action in (OperationAction.SUCCEED, OperationAction.FAIL)
    }
    return CrashRun(k, crashed, outcome(run), probe.violations, probe.runs, persisted)


@pytest.fixture(scope="module")
def oracle() -> dict[str, tuple[str, Any]]:
    """Each case run uninterrupted on AWS's SDK alone (its invariants checked too)."""

    def alone(case: Case) -> tuple[str, Any]:
        run, probe = new_run(case)
        run.run_to_end(aws_invoker(sync_workflow(AWS, probe)))
        assert probe.violations == []
        return outcome(run)

    with ThreadPoolExecutor(len(CASES)) as pool:
        return dict(zip(CASES, pool.map(alone, CASES.values()), strict=True))


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("case_name", CASES)
def test_an_uninterrupted_run_ends_as_on_aws_sdk_running_each_step_once(
    case_name: str, face: str, oracle: dict[str, tuple[str, Any]]
) -> None:
    case = CASES[case_name]
    run, probe = new_run(case)
    run.run_to_end(our_invoker(FACES[face](probe)))
    assert_same_outcome(case, outcome(run), oracle[case_name])
    assert probe.violations == []
    # Each step the log holds ran once, and no other.
    steps = [op.name or "" for op in run.operations() if op.type is OperationType.STEP]
    assert probe.runs == dict.fromkeys(steps, 1)


# AWS's SDK idles up to 0.1 s at the end of every invocation (its checkpointer polls for
# the stop signal): the executions of one test run side by side so those waits overlap.
SIDE_BY_SIDE = 24


# Where the process dies, and who resumes. The resumer sees only the persisted log, and
# dying right before call k leaves the log that dying right after call k - 1 leaves: so
# AWS's SDK (0.1 s an invocation) resumes after the crashes after a call only.
CRASHES = [
    (Fault.CRASH_BEFORE_CALL, "ours"),
    (Fault.CRASH_AFTER_CALL, "ours"),
    (Fault.CRASH_AFTER_CALL, "aws"),
]


@pytest.mark.parametrize(("when", "resumer"), CRASHES, ids=lambda v: getattr(v, "value", v))
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("case_name", CASES)
def test_a_batch_survives_a_crash_at_every_checkpoint_call(
    case_name: str, when: Fault, face: str, resumer: str, oracle: dict[str, tuple[str, Any]]
) -> None:
    case = CASES[case_name]
    _, probe = new_run(case)
    event = probe.backend.invocation_event(probe.arn)
    run_invocation(FACES[face](probe), event, None, ExecutionOptions(backend=probe.backend))
    calls = len(probe.backend.calls)

    def crash_at(ks: range) -> list[CrashRun]:
        with ThreadPoolExecutor(SIDE_BY_SIDE) as pool:
            return list(pool.map(lambda k: crash_then_resume(case, when, k, face, resumer), ks))

    # How many calls a run makes depends on thread timing (group commit): go on past the
    # calls of the run above until a run makes fewer calls than where it was to crash.
    runs = crash_at(range(1, calls + 2))
    while runs[-1].crashed:
        runs += crash_at(range(len(runs) + 1, len(runs) + 5))
    assert any(r.crashed for r in runs)
    for r in runs:
        assert_same_outcome(case, r.outcome, oracle[case_name])
        assert r.violations == [], f"crash at call {r.k}"
        # Every body ran at most once per invocation; a persisted outcome, never again.
        assert max(r.runs.values()) <= 2, f"crash at call {r.k}: {r.runs}"
        again = {name: r.runs[name] for name in r.persisted_steps if r.runs[name] != 1}
        assert again == {}, f"crash at call {r.k}: ran after its outcome was persisted"


# -- the probe is not blind ------------------------------------------------------------


def test_the_probe_sees_a_step_return_before_its_outcome_is_persisted() -> None:
    """Batched checkpoints buffer a step's result (``ExecutionOptions.batch_checkpoints``:
    a crash may lose it after the step returned): the probe reports every such step."""
    run, probe = new_run(CASES["map-1"])
    options = ExecutionOptions(backend=probe.backend, batch_checkpoints=True)
    response = run_invocation(
        FACES["sync"](probe), run.backend.invocation_event(run.arn), None, options
    )
    assert response["Status"] == "SUCCEEDED"
    assert probe.violations == [
        f"step-{i} returned before its outcome was persisted" for i in range(8)
    ]


def test_the_probe_sees_too_many_branches_in_flight_and_a_batch_that_ended_first() -> None:
    """A log no SDK should write: two branches of a batch limited to one in flight, then
    the batch's result reporting a branch SUCCEEDED that the log still shows STARTED."""
    run, probe = new_run(Case("map", 2, 1))
    token = run.backend.invocation_event(run.arn)["CheckpointToken"]

    def call(*updates: dict[str, Any]) -> None:
        nonlocal token
        parsed = [OperationUpdate.from_wire({"Type": "CONTEXT", **u}) for u in updates]
        token = run.backend.checkpoint(run.arn, token, parsed).checkpoint_token

    def item(i: int, action: str) -> dict[str, Any]:
        return {
            "Id": f"m-{i}",
            "ParentId": "m",
            "Name": f"map-item-{i}",
            "SubType": "MapIteration",
            "Action": action,
        }

    succeeded = [BatchItem(i, BatchItemStatus.SUCCEEDED, i) for i in range(2)]
    result = EXTENDED_SERDES.serialize(BatchResult(succeeded, CompletionReason.ALL_COMPLETED))
    call({"Id": "m", "Name": "batch", "SubType": "Map", "Action": "START"})
    call(item(0, "START"), item(1, "START"))
    call(item(0, "SUCCEED"))
    call({"Id": "m", "Name": "batch", "SubType": "Map", "Action": "SUCCEED", "Payload": result})
    assert probe.violations == [
        "call 2: branches [0, 1] in flight",
        "call 4: batch ended with item 1 SUCCEEDED, its branch STARTED",
    ]
