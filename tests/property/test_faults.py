"""Nothing is lost and nothing runs twice, under random faults, crashes and workflows."""

from __future__ import annotations

import collections

from durable_core import StepSemantics
from durable_testing import ExecutionStatus
from durable_testing.faults import Fault, FaultSchedule
from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import (
    BackoffSleeps,
    BodyCrashes,
    Observed,
    Spec,
    StepSpec,
    body_crashes,
    check_applied_once,
    check_history,
    examples,
    execute,
    fault_schedules,
    walk,
    workflows,
)


def _check(specs: tuple[Spec, ...], observed: Observed) -> None:
    assert observed.result.status is ExecutionStatus.SUCCEEDED, observed.result.error
    assert set(observed.deaths) <= {"SimulatedCrash", "CheckpointError"}, observed.deaths
    reference = execute(specs, fail_attempts=observed.interrupted)
    assert reference.deaths == []
    assert observed.result.result == reference.result.result
    at_most_once = {
        s.name
        for s in walk(specs)
        if isinstance(s, StepSpec) and s.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY
    }
    runs = collections.Counter(observed.body_runs)
    assert all(runs[(name, a)] <= 1 for name, a in runs if name in at_most_once), runs
    assert observed.recomputed == [], "a step body ran after its SUCCEED was persisted"
    check_applied_once(observed)
    check_history(observed.result)


@settings(max_examples=examples(200))
@given(workflows(), fault_schedules, body_crashes, st.booleans(), st.sampled_from([1, 2, 1000]))
def test_faults_and_crashes_lose_nothing_and_repeat_nothing(
    specs: tuple[Spec, ...],
    schedule: FaultSchedule,
    crashes: BodyCrashes,
    batch: bool,
    page_size: int,
) -> None:
    observed = execute(specs, schedule, crashes, batch=batch, page_size=page_size)
    _check(specs, observed)


@given(workflows())
def test_a_fault_free_run_needs_no_reference_adjustment(specs: tuple[Spec, ...]) -> None:
    observed = execute(specs)
    assert observed.deaths == [] and observed.interrupted == frozenset()
    check_applied_once(observed)
    check_history(observed.result)


# -- the lost response, explicitly: what the service does with a repeated ClientToken ----


def _lost_succeed() -> tuple[Observed, list[int]]:
    runs: list[int] = []
    specs: tuple[Spec, ...] = (
        StepSpec(
            "s1", 7, fail_first=0, max_attempts=1, semantics=StepSemantics.AT_LEAST_ONCE_PER_RETRY
        ),
    )
    # Call 1 carries step s1's START and SUCCEED; the service applies it, the answer is lost.
    schedule = FaultSchedule(checkpoint={1: Fault.LOST_RESPONSE})
    observed = execute(specs, schedule)
    runs.extend(attempt for name, attempt in observed.body_runs if name == "s1")
    return observed, runs


def test_a_lost_response_is_retried_with_its_client_token_and_answered_once() -> None:
    observed, runs = _lost_succeed()
    first, retry = observed.faulty.received[:2]
    assert retry.client_token == first.client_token and retry.updates == first.updates
    assert len(observed.faulty.applied) == 1, "the service applied the call once"
    assert observed.result.invocations == 1 and observed.deaths == []
    assert runs == [1]
    assert observed.result.result == [["ok", 7]]


def test_throttling_is_retried_with_backoff_inside_the_invocation(
    backoff: BackoffSleeps,
) -> None:
    before = len(backoff.delays)
    specs: tuple[Spec, ...] = (
        StepSpec(
            "s1", 1, fail_first=0, max_attempts=1, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY
        ),
    )
    schedule = FaultSchedule(checkpoint={1: Fault.THROTTLE, 2: Fault.SERVER_ERROR})
    observed = execute(specs, schedule)
    assert observed.result.invocations == 1 and observed.deaths == []
    assert len(backoff.delays) - before == 2
    assert observed.result.result == [["ok", 1]]
