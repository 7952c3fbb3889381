"""Requirements on AWS's ``dex-local-runner``, judged by AWS's validator: a subset.

The whole column takes minutes of real time (``generate_table.py`` runs it); here, one
requirement of each suite that passes, and one of each kind the runner fails, shown to
fail with the same validator messages when the handler is written with AWS's own SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.aws_handlers import AWS_FUNCTIONS, AWS_HANDLERS
from tests.conformance.aws_validator import Requirement, judge, load_requirements
from tests.conformance.dex import PATCHED, RELEASED, dex_service
from tests.conformance.handlers import FUNCTIONS, HANDLERS

REQUIREMENTS = {r.id: r for r in load_requirements()}

# Each suite once; 1-7 and 10-1 judge logs, 4-1 and 7-2 have the validator answer callbacks.
PASSING = ["1-1", "1-7", "2-1", "3-1", "4-1", "7-2", "8-1", "9-1", "10-1"]

# One requirement per field or event the runner leaves out of its history: the validator's
# message.
RUNNER_FAILS = {
    # No InvocationCompleted for the invocation that crashed: the step's failure comes first.
    "1-17": "Event[EventId=3].EventType: expected 'InvocationCompleted', got 'StepFailed'",
    "1-11": "Event[EventId=6].StepSucceededDetails.RetryDetails: key missing in actual event",
    "4-3": "Event[EventId=2].CallbackStartedDetails.Timeout: key missing in actual event",
    "5-1": "Event[EventId=2].ChainedInvokeStartedDetails.ExecutedVersion: key missing"
    " in actual event",
    "6-1": "Event[EventId=3].StepSucceededDetails.Result.Payload: key missing in actual event",
}


@pytest.fixture(scope="module")
def ours() -> Iterator[Any]:
    with dex_service(HANDLERS, FUNCTIONS) as service:
        yield service


@pytest.fixture(scope="module")
def aws(ours: Any) -> Iterator[Any]:
    """AWS's SDK's handlers on a second runner (started after ours: its endpoint wins)."""
    with dex_service(AWS_HANDLERS, AWS_FUNCTIONS) as service:
        yield service


@pytest.mark.parametrize("requirement_id", PASSING)
def test_requirement_passes_on_dex_local_runner(requirement_id: str, ours: Any) -> None:
    verdict = judge(REQUIREMENTS[requirement_id], ours)
    assert verdict.passed, "\n".join(verdict.errors)


# 1-17's step exits its process on purpose: the invoke endpoint's thread ends with it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("requirement_id", list(RUNNER_FAILS))
def test_what_the_runner_drops_fails_alike_with_aws_sdk(
    requirement_id: str, ours: Any, aws: Any
) -> None:
    """The runner drops the field whichever SDK wrote the operation. (Whole error lists
    are not compared: the runner orders events by wall-clock time, so under load a
    chained invoke's completion can change places with the caller's InvocationCompleted.)
    """
    requirement: Requirement = REQUIREMENTS[requirement_id]
    with_ours, with_aws = judge(requirement, ours), judge(requirement, aws)
    assert RUNNER_FAILS[requirement_id] in with_ours.errors
    assert RUNNER_FAILS[requirement_id] in with_aws.errors


def test_the_released_runner_drops_invocation_details_whatever_the_sdk() -> None:
    """Why ``dex_runner.py`` patches the runner: without it every requirement fails."""
    requirement = REQUIREMENTS["1-1"]
    verdicts = []
    for handlers, functions in ((HANDLERS, FUNCTIONS), (AWS_HANDLERS, AWS_FUNCTIONS)):
        with dex_service(handlers, functions, runner=RELEASED) as service:
            verdicts.append(judge(requirement, service))
        with dex_service(handlers, functions, runner=PATCHED) as service:
            assert judge(requirement, service).passed
    missing = ["Event[EventId=4].InvocationCompletedDetails: key missing in actual event"]
    assert [v.errors for v in verdicts] == [missing, missing]
