"""Parallel, map and callbacks under random faults and crashes: the invariants of
``test_faults.py``, plus bounded concurrency and branches that suspend without failing."""

from __future__ import annotations

import collections

from durable_core import StepSemantics
from durable_testing import ExecutionStatus
from durable_testing.faults import FaultSchedule
from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import (
    STATS,
    BatchSpec,
    BodyCrashes,
    CallbackSpec,
    Observed,
    Spec,
    StepSpec,
    assert_same_outcome,
    batch_workflows,
    body_crashes,
    check_applied_once,
    check_batches,
    check_history,
    examples,
    execute,
    fault_schedules,
    walk,
)


def _check_alone(specs: tuple[Spec, ...], observed: Observed) -> None:
    assert observed.result.status is ExecutionStatus.SUCCEEDED, observed.result.error
    check_applied_once(observed)
    check_history(observed.result)
    check_batches(specs, observed)
    for spec in walk(specs):
        if isinstance(spec, BatchSpec):
            STATS[f"batches: {spec.kind} {spec.completion} limit {spec.max_concurrency}"] += 1
        elif isinstance(spec, CallbackSpec):
            STATS[f"callbacks: {spec.via}"] += 1


def _check(specs: tuple[Spec, ...], observed: Observed) -> None:
    _check_alone(specs, observed)
    assert set(observed.deaths) <= {"SimulatedCrash", "CheckpointError"}, observed.deaths
    reference = execute(specs, fail_attempts=observed.interrupted)
    assert reference.deaths == []
    _check_alone(specs, reference)
    assert_same_outcome(specs, observed.result.result, reference.result.result)
    at_most_once = {
        s.name
        for s in walk(specs)
        if isinstance(s, StepSpec) and s.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
    }
    runs = collections.Counter(observed.body_runs)
    assert all(runs[(name, a)] <= 1 for name, a in runs if name in at_most_once), runs
    assert observed.recomputed == [], "a step body ran after its SUCCEED was persisted"


@settings(max_examples=examples(100))
@given(batch_workflows(), fault_schedules, body_crashes, st.booleans(), st.sampled_from([1, 1000]))
def test_batches_and_callbacks_under_faults_lose_nothing_and_repeat_nothing(
    specs: tuple[Spec, ...],
    schedule: FaultSchedule,
    crashes: BodyCrashes,
    batch: bool,
    page_size: int,
) -> None:
    observed = execute(specs, schedule, crashes, batch=batch, page_size=page_size)
    _check(specs, observed)


@settings(max_examples=examples(40))
@given(batch_workflows())
def test_batches_and_callbacks_without_faults_keep_the_invariants(
    specs: tuple[Spec, ...],
) -> None:
    observed = execute(specs)
    assert observed.deaths == [] and observed.interrupted == frozenset()
    _check_alone(specs, observed)
