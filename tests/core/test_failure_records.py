"""The user's traceback is never lost: recorded in StackTrace, logged once at ERROR.

The StackTrace format is the one Lambda's Python runtime writes in an error response
(``traceback.format_list``: ``  File "...", line N, in name\\n    source\\n``); the
expected lines are found in this file's own source, not in the SDK's output.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    RetryPolicy,
    StepConfig,
    StepContext,
    WaitForConditionConfig,
    fixed_wait,
    no_retry,
)
from durable_core.retries import Jitter

from .conftest import drive

HERE = Path(__file__)


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(HERE.read_text().splitlines(), 1) if text in line)


def frame(function: str, source: str) -> str:
    return f'  File "{HERE}", line {line_of(source)}, in {function}\n    {source}\n'


def failures_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "durable" and r.levelno == logging.ERROR]


def flaky_twice(calls: list[int]) -> Any:
    def attempt(step: StepContext) -> str:
        calls.append(step.attempt)
        if step.attempt < 3:
            raise ConnectionError(f"attempt {step.attempt} refused")
        return "ok"

    return attempt


def test_each_failed_attempt_is_logged_once_with_its_traceback_never_on_replay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    retry = StepConfig[str](retry=RetryPolicy(max_attempts=3, jitter=Jitter.NONE))

    def wf(event: Any, ctx: DurableContext) -> str:
        value = ctx.step(flaky_twice(calls), name="call", config=retry)
        ctx.wait(5, name="later")
        return value

    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == "ok"
    assert len(driven.responses) == 4  # two retries, the wait, the end: three replays
    logged = failures_logged(caplog)
    assert [r.exc_info[1].args[0] for r in logged if r.exc_info and r.exc_info[1]] == [
        "attempt 1 refused",
        "attempt 2 refused",
    ]
    assert all("'call'" in r.getMessage() for r in logged)
    # The RETRY records carry the traceback of the user's function.
    raised = 'raise ConnectionError(f"attempt {step.attempt} refused")'
    retries = [u for c in driven.backend.calls for u in c.updates if u.action.value == "RETRY"]
    assert [u.error.stack_trace for u in retries if u.error] == [[frame("attempt", raised)]] * 2


def test_an_uncaught_step_failure_is_logged_by_the_step_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(step: StepContext) -> None:
        raise PermissionError("no")

    def wf(event: Any, ctx: DurableContext) -> None:
        ctx.run_in_child_context(
            lambda c: c.step(refuse, name="refuse", config=StepConfig(retry=no_retry)),
            name="child",
        )

    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    # Neither the child context nor the handler log the StepError again.
    assert len(failures_logged(caplog)) == 1
    assert driven.final["Error"]["StackTrace"] == [frame("refuse", 'raise PermissionError("no")')]


def raise_in_handler(event: Any, ctx: DurableContext) -> None:
    ctx.wait(5, name="first")
    raise KeyError("missing order")


def test_a_handler_failure_names_the_users_file_and_line_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(raise_in_handler))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"] == "KeyError"
    assert driven.final["Error"]["StackTrace"] == [
        frame("raise_in_handler", 'raise KeyError("missing order")')
    ]
    assert len(failures_logged(caplog)) == 1


def test_a_child_context_body_that_raises_is_recorded_with_its_traceback() -> None:
    def body(c: DurableContext) -> None:
        raise ValueError("bad input")

    driven = drive(run(lambda e, ctx: ctx.run_in_child_context(body, name="child")))
    child = driven.by_name("child")
    assert child.error is not None and child.error.error_type == "ValueError"
    assert child.error.stack_trace == [frame("body", 'raise ValueError("bad input")')]


def recurse(n: int) -> None:
    if n == 0:
        raise RecursionError("deep")
    recurse(n - 1)


def test_a_deep_traceback_is_folded_and_keeps_its_innermost_frame() -> None:
    def deep(step: StepContext) -> None:
        recurse(200)

    driven = drive(
        run(lambda e, ctx: ctx.step(deep, name="deep", config=StepConfig(retry=no_retry)))
    )
    trace = driven.final["Error"]["StackTrace"]
    # As Python prints it: repeated frames folded into one line, the innermost kept.
    assert any("Previous line repeated" in line for line in trace)
    assert len(trace) <= 20
    assert trace[-1] == frame("recurse", 'raise RecursionError("deep")')
    assert len(json.dumps(driven.final["Error"])) < 32 * 1024


class Declined(Exception):
    pass


def test_a_failure_rebuilt_as_the_users_type_is_logged_once_not_on_replay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``error_types`` the step raises the user's own class (not a StepError); the
    child and the handler it crosses, and the replays after, do not log it again."""

    def charge(step: StepContext) -> None:
        raise Declined("card declined")

    typed = StepConfig[None](retry=no_retry, error_types=(Declined,))

    def wf(event: Any, ctx: DurableContext) -> None:
        try:
            ctx.run_in_child_context(lambda c: c.step(charge, name="charge", config=typed))
        except Exception:
            ctx.wait(5, name="after")
            raise

    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(wf))
    assert len(driven.responses) == 2  # the failure, then its replay
    assert driven.final["Status"] == "FAILED"
    charge_id = driven.by_name("charge").id
    assert [r.getMessage() for r in failures_logged(caplog)] == [
        f"STEP 'charge' (id {charge_id}) raised {Declined.__module__}.Declined: card declined"
    ]


def test_a_child_that_raises_after_its_wait_is_logged_by_the_invocation_that_ran_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The child resumes in a later invocation, its parent still replaying: the raise is
    new work all the same, and logged once."""

    def body(c: DurableContext) -> None:
        c.wait(5, name="pause")
        raise LookupError("not found after the pause")

    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(lambda e, ctx: ctx.run_in_child_context(body, name="child")))
    assert len(driven.responses) == 2
    assert [
        r.exc_info[1].args[0] for r in failures_logged(caplog) if r.exc_info and r.exc_info[1]
    ] == ["not found after the pause"]


def test_a_message_that_json_escapes_to_double_its_size_is_still_recorded() -> None:
    """16 KiB of quotes and newlines is 32 KiB of JSON: the record is cut to the service's
    32,768-byte error limit (traceback first), so the failure is recorded, not retried."""

    def noisy(step: StepContext) -> None:
        raise ValueError('"\n' * 12_000)

    driven = drive(
        run(lambda e, ctx: ctx.step(noisy, name="noisy", config=StepConfig(retry=no_retry)))
    )
    assert len(driven.responses) == 1
    noisy_op = driven.by_name("noisy")
    assert noisy_op.error is not None and noisy_op.error.error_type == "ValueError"
    assert len(json.dumps(noisy_op.error.to_wire())) <= 32_768


def test_a_wait_for_condition_check_that_raises_is_recorded_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def check(state: Any, step: StepContext) -> Any:
        if step.attempt == 2:
            raise TimeoutError("status service down")
        return state

    def wf(event: Any, ctx: DurableContext) -> Any:
        config = WaitForConditionConfig(wait_strategy=fixed_wait(1), initial_state=None)
        return ctx.wait_for_condition(check, config, name="poll")

    with caplog.at_level(logging.ERROR, logger="durable"):
        driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    assert len(failures_logged(caplog)) == 1
    poll = driven.by_name("poll")
    assert poll.error is not None
    assert poll.error.stack_trace == [frame("check", 'raise TimeoutError("status service down")')]
