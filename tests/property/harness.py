"""Random durable workflows, random faults, and the invariants every run must keep.

A workflow is a tree of specs (steps with scripted outcomes, waits, child contexts,
parallel and map batches of branches, callbacks answered by a scripted external system).
``execute`` runs one on a ``LocalService`` (virtual time) through a ``FaultyBackend``,
re-invoking after every crash as Lambda does, and returns what the run observed:
which step bodies ran at which attempt, which invocations died, what the service
applied. Step outcomes depend only on the attempt number, so a run with faults must
end exactly as a fault-free run of the same workflow, except for what at-most-once
semantics make visible: an at-most-once attempt the service recorded as STARTED when
the invocation died is failed with ``StepInterruptedError`` instead of re-run. The
reference run is told those attempts and fails them the same way.

Two things are not fixed by the workflow alone. Callbacks are answered by the test
driver (``answer_callbacks``) at scripted points, so a run and its reference get the
same answers. A batch that may complete before all its branches end (fail fast,
``min_successful``, a failure tolerance, with branches running concurrently) cuts
short whichever branches are still running when its rule is met, which depends on
thread timing: such batches are compared item by item where both runs finished an
item (``assert_same_outcome``), and each is checked against its completion rule.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from durable_core import (
    BatchResult,
    CallbackConfig,
    CallbackError,
    ChildContextError,
    CompletionConfig,
    DurableContext,
    ExecutionOptions,
    ExtendedSerDes,
    MapConfig,
    ParallelConfig,
    RetryPolicy,
    StepConfig,
    StepContext,
    StepError,
    StepInterruptedError,
    StepSemantics,
    WaitForCallbackConfig,
    run_invocation,
)
from durable_core.backends.memory import CallbackTimeoutException
from durable_core.checkpoint import Checkpointer
from durable_core.types import ErrorObject, OperationAction, OperationStatus, OperationType
from durable_testing import ExecutionResult, ExecutionStatus, LocalService
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


@dataclass(frozen=True)
class BranchSpec:
    """One branch of a batch: its body, then a failure when ``fails``."""

    body: tuple[Spec, ...]
    fails: bool


# The completion rules a batch may have, by name.
COMPLETIONS = {
    "fail_fast": CompletionConfig(),
    "all_completed": CompletionConfig.all_completed(),
    "min_successful_1": CompletionConfig(min_successful=1),
    "tolerate_1": CompletionConfig(tolerated_failure_count=1),
}


@dataclass(frozen=True)
class BatchSpec:
    name: str
    kind: str  # "parallel" or "map" (over the branch indices)
    branches: tuple[BranchSpec, ...]
    max_concurrency: int | None
    completion: str  # a key of COMPLETIONS

    @property
    def limit(self) -> int:
        return self.max_concurrency or len(self.branches)

    @property
    def deterministic(self) -> bool:
        """Whether every branch the batch starts runs to its end whatever the timing: one
        at a time, or under a rule that no failure this batch can have ends early."""
        failures = sum(b.fails for b in self.branches)
        return (
            self.limit == 1
            or self.completion == "all_completed"
            or (self.completion == "fail_fast" and failures == 0)
            or (self.completion == "tolerate_1" and failures <= 1)
        )


@dataclass(frozen=True)
class CallbackSpec:
    """A callback (``create_callback`` + ``result()``, or ``wait_for_callback``).

    ``answer``: "success" (with ``value``), "failure", or None: never answered, so it
    has a timeout (overall or heartbeat) and ends timed out. ``when``: 0, the
    submitter answers while the invocation runs; k, the driver answers at the k-th of
    its looks (every ``TICK`` virtual seconds) that finds the callback open. An answered
    callback has no timeout, or one far beyond the driver's answer.
    """

    name: str
    via: str  # "create" or "wait_for"
    answer: str | None
    value: int
    when: int
    timeout: int | None
    heartbeat_timeout: int | None

    @property
    def operation_name(self) -> str:
        """The CALLBACK operation's name (AWS's for the one inside ``wait_for_callback``)."""
        return self.name if self.via == "create" else f"{self.name} create callback id"


Spec = StepSpec | WaitSpec | ChildSpec | BatchSpec | CallbackSpec

TICK = 300  # virtual seconds between the driver's looks at open callbacks


def walk(specs: tuple[Spec, ...]) -> Iterator[Spec]:
    for spec in specs:
        yield spec
        if isinstance(spec, ChildSpec):
            yield from walk(spec.body)
        elif isinstance(spec, BatchSpec):
            for branch in spec.branches:
                yield from walk(branch.body)


def _named(specs: tuple[Spec, ...], counter: Iterator[int]) -> tuple[Spec, ...]:
    named: list[Spec] = []
    for spec in specs:
        name = f"{type(spec).__name__[:2].lower()}{next(counter)}"
        if isinstance(spec, ChildSpec):
            spec = dataclasses.replace(spec, body=_named(spec.body, counter))
        elif isinstance(spec, BatchSpec):
            branches = tuple(
                dataclasses.replace(b, body=_named(b.body, counter)) for b in spec.branches
            )
            spec = dataclasses.replace(spec, branches=branches)
        named.append(dataclasses.replace(spec, name=name))
    return tuple(named)


def unique_names(specs: tuple[Spec, ...]) -> tuple[Spec, ...]:
    """Give every spec a unique name (st1, wa2, ch3, ba4, ca5 ...) in call order."""
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


@st.composite
def callbacks(draw: st.DrawFn) -> Spec:
    answer = draw(st.sampled_from(["success", "failure", None]))
    timeout = heartbeat = None
    if answer is None:  # it must end by itself
        if draw(st.booleans()):
            timeout = draw(st.sampled_from([1, 60, 3600]))
        else:
            heartbeat = draw(st.sampled_from([1, 60]))
    else:  # no timeout, or one the driver's answer cannot reach (it answers within 2 TICKs)
        timeout = draw(st.sampled_from([None, 10 * TICK]))
    return CallbackSpec(
        name="",
        via=draw(st.sampled_from(["create", "wait_for"])),
        answer=answer,
        value=draw(st.integers(-1000, 1000)),
        when=draw(st.sampled_from([0, 1, 2])) if answer else 0,
        timeout=timeout,
        heartbeat_timeout=heartbeat,
    )


def _batches(inner: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    branch = st.builds(BranchSpec, body=st.lists(inner, max_size=3).map(tuple), fails=st.booleans())
    return st.builds(
        BatchSpec,
        name=st.just(""),
        kind=st.sampled_from(["parallel", "map"]),
        branches=st.lists(branch, min_size=1, max_size=4).map(tuple),
        max_concurrency=st.sampled_from([None, 1, 2, 3]),
        completion=st.sampled_from(list(COMPLETIONS)),
    )


def batch_workflows(max_leaves: int = 10) -> st.SearchStrategy[tuple[Spec, ...]]:
    """Trees mixing steps, waits (up to an hour), callbacks, child contexts and parallel
    and map batches, with at least one batch or callback, uniquely named."""
    short_waits = st.builds(WaitSpec, name=st.just(""), seconds=st.integers(1, 3600))
    leaf: st.SearchStrategy[Spec] = st.one_of(steps, steps, short_waits, callbacks())
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            _children(st.lists(inner, max_size=3).map(tuple)), _batches(inner), _batches(inner)
        ),
        max_leaves=max_leaves,
    )
    return (
        st.lists(tree, min_size=1, max_size=4)
        .map(tuple)
        .filter(lambda specs: any(isinstance(s, BatchSpec | CallbackSpec) for s in walk(specs)))
        .map(unique_names)
    )


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
    peak_branches: dict[str, int]  # per batch: most branch functions running at once


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
        self.lock = threading.Lock()  # branches run their bodies on threads
        self.local = threading.local()  # returning_run: the body run this thread returned from
        self.running_branches: collections.Counter[str] = collections.Counter()
        self.peak_branches: dict[str, int] = {}
        self.body_runs: list[tuple[str, int]] = []
        self.recomputed: list[str] = []
        self.deaths: list[str] = []
        self.interrupted: set[tuple[str, int]] = set()

    # A step body: records its run, crashes where told, fails per its script.
    def body(self, spec: StepSpec) -> Any:
        def attempt(step: StepContext) -> int:
            with self.lock:
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
            self.local.returning_run = ordinal
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
            elif isinstance(spec, ChildSpec):
                try:
                    value = ctx.run_in_child_context(
                        partial(self._child, spec=spec), name=spec.name
                    )
                    out.append(["child", value])
                except ChildContextError as exc:
                    out.append(["child_err", exc.error_type])
            elif isinstance(spec, BatchSpec):
                out.append(self._batch(ctx, spec))
            else:
                out.append(self._callback(ctx, spec))
        return out

    def _batch(self, ctx: DurableContext, spec: BatchSpec) -> list[Any]:
        completion = COMPLETIONS[spec.completion]
        result: BatchResult[Any]
        if spec.kind == "parallel":
            branches = [lambda c, b=b: self._branch(c, spec, b) for b in spec.branches]
            config = ParallelConfig[Any](
                max_concurrency=spec.max_concurrency, completion_config=completion
            )
            result = ctx.parallel(branches, name=spec.name, config=config)
        else:
            map_config = MapConfig[int](
                max_concurrency=spec.max_concurrency, completion_config=completion
            )
            result = ctx.map(
                list(range(len(spec.branches))),
                lambda c, item, index, items: self._branch(c, spec, spec.branches[item]),
                name=spec.name,
                config=map_config,
            )
        items = [
            [
                item.index,
                item.status.value,
                item.result if item.error is None else item.error.error_type,
            ]
            for item in result.all
        ]
        return ["batch", result.completion_reason.value, items]

    def _branch(self, ctx: DurableContext, spec: BatchSpec, branch: BranchSpec) -> list[Any]:
        """A branch's function, counting how many of its batch's branches run at once."""
        with self.lock:
            self.running_branches[spec.name] += 1
            running = self.running_branches[spec.name]
            self.peak_branches[spec.name] = max(self.peak_branches.get(spec.name, 0), running)
        try:
            value = self.run_specs(ctx, branch.body)
            if branch.fails:
                raise ValueError("the branch fails after its body")
            return value
        finally:
            with self.lock:
                self.running_branches[spec.name] -= 1

    def _callback(self, ctx: DurableContext, spec: CallbackSpec) -> list[Any]:
        def submit(callback_id: str) -> None:
            if spec.when == 0 and spec.answer is not None:
                answer_callback(self.service, callback_id, spec, during_invocation=True)

        try:
            if spec.via == "create":
                config: CallbackConfig[Any] = CallbackConfig(
                    timeout_seconds=spec.timeout, heartbeat_timeout_seconds=spec.heartbeat_timeout
                )
                callback = ctx.create_callback(spec.name, config)
                ctx.step(lambda _: submit(callback.callback_id), name=f"{spec.name} submit")
                value = callback.result()
            else:
                wait_config: WaitForCallbackConfig[Any] = WaitForCallbackConfig(
                    timeout_seconds=spec.timeout, heartbeat_timeout_seconds=spec.heartbeat_timeout
                )
                value = ctx.wait_for_callback(
                    lambda callback_id, _: submit(callback_id), name=spec.name, config=wait_config
                )
        except CallbackError as exc:
            return ["callback_err", type(exc).__name__, exc.error_type]
        return ["callback", value]

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
        local = self._run.local
        if getattr(local, "returning_run", 0) in self._run.crashes.after:
            STATS["crash: after a step body"] += 1
            local.returning_run = 0
            raise self._run.faulty.crash("after the body returned")
        return super().serialize(value)


def answer_callback(
    service: LocalService, callback_id: str, spec: CallbackSpec, *, during_invocation: bool
) -> None:
    """The external system answers ``callback_id`` as ``spec`` says.

    During an invocation it calls the service's backend directly: the local service
    holds its own lock while it invokes, and a branch runs on another thread. A
    submitter that runs again (its step was retried after a crash) finds the callback
    closed, as a duplicate answer to the real service would.
    """
    STATS[f"callback answered: {spec.answer}"] += 1
    payload = json.dumps(spec.value)
    error = ErrorObject(error_type="Rejected", error_message=f"{spec.name} was rejected")
    if not during_invocation:
        if spec.answer == "success":
            service.send_callback_success(callback_id, payload=payload)
        else:
            service.send_callback_failure(callback_id, error.error_type, error.error_message)
        return
    try:
        if spec.answer == "success":
            service.backend.send_callback_success(callback_id, payload)
        else:
            service.backend.send_callback_failure(callback_id, error)
    except CallbackTimeoutException:
        STATS["callback answered twice (refused)"] += 1


def answer_callbacks(service: LocalService, arn: str, specs: tuple[Spec, ...]) -> ExecutionResult:
    """Drive ``arn`` to its end, looking at its open callbacks every ``TICK`` virtual
    seconds and answering each at the look its spec names."""
    by_name = {s.operation_name: s for s in walk(specs) if isinstance(s, CallbackSpec)}
    looks: collections.Counter[str] = collections.Counter()
    for _ in range(100_000):
        until = service.clock.now() + dt.timedelta(seconds=TICK)
        result = service.run_until_complete(arn, until=until)
        if result.status is not ExecutionStatus.RUNNING:
            return result
        for pending in service.callbacks(arn):
            spec = by_name[pending.name or ""]
            looks[pending.callback_id] += 1
            if spec.answer is not None and looks[pending.callback_id] == spec.when:
                answer_callback(service, pending.callback_id, spec, during_invocation=False)
    raise AssertionError(f"{arn} never ended")


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
    if any(isinstance(s, CallbackSpec) for s in walk(specs)):
        result = answer_callbacks(service, run.arn, specs)
    else:
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
        dict(run.peak_branches),
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


# -- invariants of batches and callbacks --------------------------------------------

BRANCH_SUBTYPES = {"parallel": ("Parallel", "ParallelBranch"), "map": ("Map", "MapIteration")}
# What unwinds an invocation or a branch without being the branch's outcome.
NOT_FAILURES = ("SuspendExecution", "BranchCancelled", "SimulatedCrash", "SystemExit")


def assert_same_outcome(specs: tuple[Spec, ...], got: Any, want: Any) -> None:
    """``got`` and ``want`` (two runs' outputs of ``specs``) agree; a batch that may
    complete early agrees where both runs finished an item."""
    assert len(got) == len(want), (got, want)
    for spec, g, w in zip(specs, got, want, strict=True):
        if isinstance(spec, ChildSpec) and g[0] == w[0] == "child":
            assert_same_outcome(spec.body, g[1], w[1])
        elif isinstance(spec, BatchSpec):
            _same_batch(spec, g, w)
        else:
            assert g == w, (spec.name, g, w)


def _same_batch(spec: BatchSpec, got: list[Any], want: list[Any]) -> None:
    for run in (got, want):
        check_completion_rule(spec, run)
    got_items = {item[0]: item for item in got[2]}
    want_items = {item[0]: item for item in want[2]}
    if spec.deterministic:
        assert got[1] == want[1], (spec.name, got, want)
        assert got_items.keys() == want_items.keys(), (spec.name, got, want)
    for index in got_items.keys() & want_items.keys():
        (_, got_status, got_value), (_, want_status, want_value) = (
            got_items[index],
            want_items[index],
        )
        if "STARTED" in (got_status, want_status) and not spec.deterministic:
            continue  # cut short in one run: nothing to compare
        assert got_status == want_status, (spec.name, index, got, want)
        if got_status == "SUCCEEDED":
            assert_same_outcome(spec.branches[index].body, got_value, want_value)
        else:
            assert got_value == want_value, (spec.name, index, got, want)


def check_completion_rule(spec: BatchSpec, output: list[Any]) -> None:
    """A batch's recorded outcome obeys its rule and its branches' scripts: only a
    branch scripted to fail failed, and the reason follows from the counts (AWS's
    rules: with no criteria the first failure ends the batch; ``min_successful`` alone
    tolerates failures; a count tolerance is exceeded by one failure more)."""
    _, reason, items = output
    statuses = collections.Counter(status for _, status, _ in items)
    for index, status, _ in items:
        if status == "FAILED":
            assert spec.branches[index].fails, (spec.name, index, output)
        elif status == "SUCCEEDED":
            assert not spec.branches[index].fails, (spec.name, index, output)
    failed, total = statuses["FAILED"], len(spec.branches)
    if spec.completion == "fail_fast":
        assert (reason == "FAILURE_TOLERANCE_EXCEEDED") == (failed > 0), (spec.name, output)
    elif spec.completion == "tolerate_1":
        assert (reason == "FAILURE_TOLERANCE_EXCEEDED") == (failed > 1), (spec.name, output)
    elif spec.completion == "min_successful_1":
        assert reason != "FAILURE_TOLERANCE_EXCEEDED", (spec.name, output)
    else:
        assert reason == "ALL_COMPLETED" and len(items) == total, (spec.name, output)
        assert statuses["STARTED"] == 0, (spec.name, output)
    if reason == "ALL_COMPLETED":
        assert statuses["SUCCEEDED"] + failed == total, (spec.name, output)


def check_batches(specs: tuple[Spec, ...], observed: Observed) -> None:
    """Branch contexts hang off their batch operation, and at no point of the history
    (across invocations) nor of any invocation were more branches of a batch in flight
    than its ``max_concurrency``; a suspended or cut-short branch never FAILED."""
    batches = {s.name: s for s in walk(specs) if isinstance(s, BatchSpec)}
    for name, peak in observed.peak_branches.items():
        assert peak <= batches[name].limit, f"{name}: {peak} branches ran at once"
    ops = observed.result.operations
    batch_of = {op.id: batches[op.name] for op in ops if op.name in batches}
    for op in ops:
        if op.name in batches:
            assert op.sub_type == BRANCH_SUBTYPES[batches[op.name].kind][0], op
        if op.sub_type in ("ParallelBranch", "MapIteration"):
            spec = batch_of[op.parent_id or ""]
            assert op.sub_type == BRANCH_SUBTYPES[spec.kind][1], op
            if op.status is OperationStatus.FAILED:
                index = int((op.name or "").rsplit("-", 1)[1])
                assert spec.branches[index].fails, f"{spec.name} branch {index} FAILED"
    in_flight: dict[str, set[str]] = collections.defaultdict(set)
    for event in observed.result.history:
        batch = batch_of.get(event.get("ParentId", ""))
        if batch is None:
            continue
        if event["EventType"] == "ContextStarted":
            in_flight[batch.name].add(event["Id"])
            assert len(in_flight[batch.name]) <= batch.limit, f"{batch.name}: {in_flight}"
        else:
            in_flight[batch.name].discard(event["Id"])
    for call in observed.faulty.applied:
        for update in call:
            text = f"{update.payload or ''} {update.error.to_wire() if update.error else ''}"
            assert not any(word in text for word in NOT_FAILURES), update
