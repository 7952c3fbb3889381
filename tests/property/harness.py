"""Random durable workflows, random faults, and the invariants every run must keep.

A workflow is a tree of specs (steps with scripted outcomes, waits, child contexts).
``execute`` runs one on a ``LocalService`` (virtual time) through a ``FaultyBackend``,
re-invoking after every crash as Lambda does, and returns what the run observed:
which step bodies ran at which attempt, which invocations died, what the service
applied. Step outcomes depend only on the attempt number, so a run with faults must
end exactly as a fault-free run of the same workflow, except for what at-most-once
semantics make visible: an at-most-once attempt the service recorded as STARTED when
the invocation died is failed with ``StepInterruptedError`` instead of re-run. The
reference run is told those attempts and fails them the same way.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from durable_core import (
    ChildContextError,
    DurableContext,
    ExecutionOptions,
    ExtendedSerDes,
    RetryPolicy,
    StepConfig,
    StepContext,
    StepError,
    StepInterruptedError,
    StepSemantics,
    run_invocation,
)
from durable_core.checkpoint import Checkpointer
from durable_core.types import OperationAction, OperationStatus, OperationType
from durable_testing import ExecutionResult, LocalService
from durable_testing.faults import (
    Fault,
    FaultSchedule,
    FaultyBackend,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ALWAYS = 99  # fail_first of a step whose every attempt fails

# -- hypothesis profiles ----------------------------------------------------------

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(default: int) -> int:
    """An example count for a cheap test: ``default`` normally, ten times it when thorough."""
    return default * 10 if PROFILE == "thorough" else default


# What the runs of this session injected and observed, printed at the end of the session.
STATS: collections.Counter[str] = collections.Counter()


def report_stats(reporter: Any) -> None:
    """Print ``STATS`` once per session (both the property and fuzz conftests call this)."""
    if STATS and not getattr(reporter, "_durable_stats_done", False):
        reporter._durable_stats_done = True
        reporter.section("reliability: what the property and fuzz runs injected and saw")
        for key, count in sorted(STATS.items()):
            reporter.write_line(f"{count:8d}  {key}")


# -- no real sleeping in the checkpointer's retry backoff -----------------------------


@dataclass
class BackoffSleeps:
    """Replaces the checkpointer's ``time.sleep``: records each backoff, sleeps none."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def patched_backoff() -> Iterator[BackoffSleeps]:
    """``run_invocation`` offers no way to inject the checkpointer's sleep, so patch its default."""
    sleeps = BackoffSleeps()
    defaults = Checkpointer.__init__.__kwdefaults__
    assert defaults is not None and "sleep" in defaults, "Checkpointer takes sleep= no more"
    saved = dict(defaults)
    defaults["sleep"] = sleeps
    try:
        yield sleeps
    finally:
        defaults.clear()
        defaults.update(saved)


# -- workflow specs ---------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    name: str
    value: int
    fail_first: int  # attempts that fail before one succeeds; ALWAYS: none succeeds
    max_attempts: int
    semantics: StepSemantics


@dataclass(frozen=True)
class WaitSpec:
    name: str
    seconds: int


@dataclass(frozen=True)
class ChildSpec:
    name: str
    body: tuple[Spec, ...]
    fails: bool


Spec = StepSpec | WaitSpec | ChildSpec


def walk(specs: tuple[Spec, ...]) -> Iterator[Spec]:
    for spec in specs:
        yield spec
        if isinstance(spec, ChildSpec):
            yield from walk(spec.body)


def _named(specs: tuple[Spec, ...], counter: Iterator[int]) -> tuple[Spec, ...]:
    named: list[Spec] = []
    for spec in specs:
        name = f"{type(spec).__name__[0].lower()}{next(counter)}"
        if isinstance(spec, ChildSpec):
            spec = dataclasses.replace(spec, body=_named(spec.body, counter))
        named.append(dataclasses.replace(spec, name=name))
    return tuple(named)


def unique_names(specs: tuple[Spec, ...]) -> tuple[Spec, ...]:
    """Give every spec a unique name (s1, w2, c3 ...) in call order."""
    return _named(specs, itertools.count(1))


steps = st.builds(
    StepSpec,
    name=st.just(""),
    value=st.integers(-1000, 1000),
    fail_first=st.sampled_from([0, 0, 1, 2, ALWAYS]),
    max_attempts=st.integers(1, 3),
    semantics=st.sampled_from(list(StepSemantics)),
)
waits = st.builds(WaitSpec, name=st.just(""), seconds=st.integers(1, 86_400))


def _children(inner: st.SearchStrategy[tuple[Spec, ...]]) -> st.SearchStrategy[Spec]:
    return st.builds(ChildSpec, name=st.just(""), body=inner, fails=st.booleans())


def workflows(max_leaves: int = 8) -> st.SearchStrategy[tuple[Spec, ...]]:
    """Sequences and trees of steps, waits and child contexts, uniquely named."""
    leaf: st.SearchStrategy[Spec] = st.one_of(steps, steps, waits)
    tree = st.recursive(
        leaf,
        lambda inner: _children(st.lists(inner, max_size=3).map(tuple)),
        max_leaves=max_leaves,
    )
    return st.lists(tree, min_size=1, max_size=5).map(tuple).map(unique_names)


# -- crashes and faults -----------------------------------------------------------


@dataclass(frozen=True)
class BodyCrashes:
    """Crash points in step bodies, by 1-based ordinal of body runs over the whole execution.

    ``before``: entering the body, before its side effect; ``during``: after the side
    effect, before it returns; ``after``: the body returned, the SDK is serialising its
    result, nothing is checkpointed yet.
    """

    before: frozenset[int] = frozenset()
    during: frozenset[int] = frozenset()
    after: frozenset[int] = frozenset()


_ordinals = st.frozensets(st.integers(1, 12), max_size=2)
body_crashes = st.builds(BodyCrashes, before=_ordinals, during=_ordinals, after=_ordinals)

fault_schedules = st.builds(
    FaultSchedule,
    checkpoint=st.dictionaries(st.integers(1, 20), st.sampled_from(list(Fault)), max_size=10),
    get_state=st.dictionaries(st.integers(1, 6), st.sampled_from(list(Fault)), max_size=3),
    hard_crashes=st.booleans(),
)


# -- running ----------------------------------------------------------------------


@dataclass
class Observed:
    """What one run of a workflow saw, for the invariants."""

    result: ExecutionResult
    faulty: FaultyBackend
    body_runs: list[tuple[str, int]]  # (step name, attempt) per body run that did its work
    recomputed: list[str]  # steps whose body ran after their SUCCEED was persisted
    deaths: list[str]  # exception type of each invocation that died
    interrupted: frozenset[tuple[str, int]]  # at-most-once attempts STARTED at a death


class _Run:
    """The per-execution state a workflow's step bodies and serdes close over."""

    def __init__(
        self,
        service: LocalService,
        faulty: FaultyBackend,
        specs: tuple[Spec, ...],
        crashes: BodyCrashes,
        fail_attempts: frozenset[tuple[str, int]],
    ) -> None:
        self.service = service
        self.faulty = faulty
        self.specs = specs
        self.crashes = crashes
        self.fail_attempts = fail_attempts
        self.at_most_once = {
            s.name
            for s in walk(specs)
            if isinstance(s, StepSpec) and s.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
        }
        self.arn = ""
        self.runs = 0
        self.returning_run = 0
        self.body_runs: list[tuple[str, int]] = []
        self.recomputed: list[str] = []
        self.deaths: list[str] = []
        self.interrupted: set[tuple[str, int]] = set()

    # A step body: records its run, crashes where told, fails per its script.
    def body(self, spec: StepSpec) -> Any:
        def attempt(step: StepContext) -> int:
            self.runs += 1
            ordinal = self.runs
            if ordinal in self.crashes.before:
                STATS["crash: before a step body"] += 1
                raise self.faulty.crash(f"before body run {ordinal}")
            recorded = self._service_operation(step.operation_id)
            if recorded is not None and recorded.status is OperationStatus.SUCCEEDED:
                self.recomputed.append(spec.name)
            self.body_runs.append((spec.name, step.attempt))
            if ordinal in self.crashes.during:
                STATS["crash: during a step body"] += 1
                raise self.faulty.crash(f"during body run {ordinal}")
            if (spec.name, step.attempt) in self.fail_attempts:
                raise StepInterruptedError(f"attempt {step.attempt} was interrupted")
            if step.attempt <= spec.fail_first:
                raise ValueError(f"{spec.name} attempt {step.attempt} fails")
            self.returning_run = ordinal
            return spec.value

        return attempt

    def _service_operation(self, operation_id: str) -> Any:
        return next(
            (op for op in self.service.backend.operations(self.arn) if op.id == operation_id),
            None,
        )

    def workflow(self, event: Any, ctx: DurableContext) -> list[Any]:
        return self.run_specs(ctx, self.specs)

    def run_specs(self, ctx: DurableContext, specs: tuple[Spec, ...]) -> list[Any]:
        out: list[Any] = []
        for spec in specs:
            if isinstance(spec, StepSpec):
                config: StepConfig[int] = StepConfig(
                    retry=RetryPolicy(max_attempts=spec.max_attempts),
                    semantics=spec.semantics,
                    serdes=_CrashingSerDes(self),
                )
                try:
                    out.append(["ok", ctx.step(self.body(spec), name=spec.name, config=config)])
                except StepError as exc:
                    out.append(["err", exc.error_type])
            elif isinstance(spec, WaitSpec):
                ctx.wait(spec.seconds, name=spec.name)
                out.append(["waited"])
            else:
                try:
                    value = ctx.run_in_child_context(
                        lambda c, s=spec: self._child(c, s), name=spec.name
                    )
                    out.append(["child", value])
                except ChildContextError as exc:
                    out.append(["child_err", exc.error_type])
        return out

    def _child(self, ctx: DurableContext, spec: ChildSpec) -> list[Any]:
        value = self.run_specs(ctx, spec.body)
        if spec.fails:
            raise ValueError(f"{spec.name} fails after its body")
        return value

    def died(self, exc: BaseException) -> None:
        """The invocation died: at-most-once attempts the service holds STARTED are lost."""
        self.deaths.append(type(exc).__name__)
        for op in self.service.backend.operations(self.arn):
            if (
                op.type is OperationType.STEP
                and op.status is OperationStatus.STARTED
                and op.name in self.at_most_once
            ):
                attempts = (op.step_details.attempt or 0) if op.step_details else 0
                self.interrupted.add((op.name, attempts + 1))


class _CrashingSerDes(ExtendedSerDes):
    """The default serdes, with the 'after the body' crash point on serialising a result."""

    def __init__(self, run: _Run) -> None:
        self._run = run

    def serialize(self, value: Any) -> str:
        if self._run.returning_run in self._run.crashes.after:
            STATS["crash: after a step body"] += 1
            self._run.returning_run = 0
            raise self._run.faulty.crash("after the body returned")
        return super().serialize(value)


def execute(
    specs: tuple[Spec, ...],
    schedule: FaultSchedule | None = None,
    crashes: BodyCrashes | None = None,
    *,
    batch: bool = False,
    page_size: int = 1000,
    fail_attempts: frozenset[tuple[str, int]] = frozenset(),
) -> Observed:
    """Run ``specs`` to completion on a local service, through faults and crashes."""
    service = LocalService(max_invocation_attempts=10_000)
    service.backend.page_size = page_size
    faulty = FaultyBackend(service.backend, schedule or FaultSchedule())
    run = _Run(service, faulty, specs, crashes or BodyCrashes(), fail_attempts)
    options = ExecutionOptions(batch_checkpoints=batch)

    def handler(event: Any, lambda_context: Any) -> dict[str, Any]:
        try:
            return run_invocation(run.workflow, event, lambda_context, options)
        except BaseException as exc:
            run.died(exc)
            raise

    service.register("wf", faulty.wrap(handler))
    run.arn = service.start("wf", {"input": 1})
    result = service.run_until_complete(run.arn)
    STATS["executions run"] += 1
    STATS["invocations"] += result.invocations
    STATS["invocations that died"] += len(run.deaths)
    STATS["at-most-once attempts interrupted"] += len(run.interrupted)
    for injected in faulty.injected:
        STATS[f"{injected.call} fault: {injected.fault.value}"] += 1
    return Observed(
        result,
        faulty,
        run.body_runs,
        run.recomputed,
        run.deaths,
        frozenset(run.interrupted),
    )


# -- invariants -------------------------------------------------------------------


def check_history(result: ExecutionResult) -> None:
    """EventIds 1..n, one start and one end, each operation started before it ends,
    one InvocationCompleted per invocation."""
    history = result.history
    assert [e["EventId"] for e in history] == list(range(1, len(history) + 1))
    types = result.event_types
    assert types[0] == "ExecutionStarted"
    assert types[-1] in ("ExecutionSucceeded", "ExecutionFailed")
    assert sum(t.startswith("Execution") for t in types) == 2
    assert types.count("InvocationCompleted") == result.invocations
    started: set[str] = set()
    for event in history[1:-1]:
        kind = event["EventType"]
        if kind == "InvocationCompleted":
            continue
        if kind.endswith("Started"):
            started.add(event["Id"])
        else:
            assert event["Id"] in started, f"{kind} of {event['Id']} before it started"


def check_applied_once(observed: Observed) -> None:
    """Every SUCCEED the service applied is in the final log; nothing was applied twice."""
    final = {op.id: op for op in observed.result.operations}
    outcomes: collections.Counter[str] = collections.Counter()
    for call in observed.faulty.applied:
        for update in call:
            if update.type is OperationType.EXECUTION:
                continue
            if update.action in (OperationAction.SUCCEED, OperationAction.FAIL):
                outcomes[update.id] += 1
            if update.action is OperationAction.SUCCEED:
                op = final[update.id]
                assert op.status is OperationStatus.SUCCEEDED, f"{op.name} lost its SUCCEED"
                assert op.result == update.payload, f"{op.name} result differs from its SUCCEED"
            if update.type is OperationType.STEP and update.action is not OperationAction.START:
                outcomes[f"attempts:{update.id}"] += 1
    for op_id, count in outcomes.items():
        if op_id.startswith("attempts:"):
            op = final[op_id.removeprefix("attempts:")]
            assert op.step_details is not None
            assert op.step_details.attempt == count, f"{op.name}: attempts applied twice"
        else:
            assert count == 1, f"{final[op_id].name} completed {count} times"
