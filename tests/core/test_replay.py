"""Replay semantics of step, wait and child context, driven through MemoryBackend."""

from __future__ import annotations

import gc
import json
import logging
import weakref
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    MapConfig,
    MemoryBackend,
    RetryPolicy,
    StepConfig,
    StepContext,
    StepSemantics,
    no_retry,
    use_backend,
)
from durable_core.retries import Jitter
from durable_core.types import OperationAction, OperationStatus, OperationType

from .conftest import drive


def test_completed_steps_are_not_run_again_on_replay() -> None:
    runs: list[str] = []

    def wf(event: dict[str, Any], ctx: DurableContext) -> int:
        a = ctx.step(lambda s: runs.append("a") or event["x"] + 1, name="a")
        ctx.wait(10, name="pause")
        b = ctx.step(lambda s: runs.append("b") or a * 10, name="b")
        return b

    driven = drive(run(wf), {"x": 1})
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == 20
    assert runs == ["a", "b"]


def test_replayed_result_keeps_its_python_type() -> None:
    import datetime as dt

    seen: list[Any] = []

    def wf(event: Any, ctx: DurableContext) -> str:
        when = ctx.step(lambda s: dt.date(2026, 11, 27), name="when")
        seen.append(when)
        ctx.wait(1)
        return str(when)

    drive(run(wf))
    assert seen == [dt.date(2026, 11, 27)] * 2


def test_recorded_failure_is_raised_again_on_replay() -> None:
    caught: list[tuple[str | None, str | None]] = []

    def boom(_: StepContext) -> None:
        raise ValueError("bad input")

    def wf(event: Any, ctx: DurableContext) -> str:
        from durable_core import StepError

        try:
            ctx.step(boom, name="boom", config=StepConfig(retry=no_retry))
        except StepError as exc:
            caught.append((exc.error_type, exc.message))
        ctx.wait(1)
        return "done"

    driven = drive(run(wf))
    assert driven.final["Status"] == "SUCCEEDED"
    assert caught == [("ValueError", "bad input")] * 2
    assert driven.by_name("boom").status is OperationStatus.FAILED


def test_retries_checkpoint_each_attempt_then_succeed() -> None:
    attempts: list[int] = []

    def flaky(s: StepContext) -> str:
        attempts.append(s.attempt)
        if s.attempt < 3:
            raise ConnectionError("try again")
        return "ok"

    policy = RetryPolicy(max_attempts=5, initial_delay_seconds=2, jitter=Jitter.NONE)

    def wf(event: Any, ctx: DurableContext) -> str:
        return ctx.step(flaky, name="flaky", config=StepConfig(retry=policy))

    backend = MemoryBackend()
    driven = drive(run(wf), backend=backend)
    assert attempts == [1, 2, 3]
    assert json.loads(driven.final["Result"]) == "ok"
    retries = [u for c in backend.calls for u in c.updates if u.action is OperationAction.RETRY]
    # Exponential backoff without jitter: 2 s, then 4 s.
    assert [u.step_options.next_attempt_delay_seconds for u in retries if u.step_options] == [2, 4]
    assert [u.error.error_type for u in retries if u.error] == ["ConnectionError"] * 2
    assert driven.by_name("flaky").step_details.attempt == 3  # type: ignore[union-attr]


def test_retries_exhausted_fail_the_execution_with_the_step_error() -> None:
    def wf(event: Any, ctx: DurableContext) -> None:
        ctx.step(
            lambda s: 1 / 0,
            name="div",
            config=StepConfig(retry=RetryPolicy(max_attempts=2, jitter=Jitter.NONE)),
        )

    driven = drive(run(wf))
    assert driven.final["Status"] == "FAILED"
    # The class AWS's SDK raises and records (ErrorObject.from_exception of its StepError).
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.StepError"
    )
    assert driven.by_name("div").step_details.attempt == 2  # type: ignore[union-attr]


def test_retry_predicate_stops_retries_for_other_errors() -> None:
    policy = RetryPolicy(max_attempts=5, retry_if=lambda e: isinstance(e, TimeoutError))
    attempts: list[int] = []

    def body(s: StepContext) -> None:
        attempts.append(s.attempt)
        raise KeyError("permanent")

    driven = drive(run(lambda e, ctx: ctx.step(body, name="s", config=StepConfig(retry=policy))))
    assert attempts == [1]
    assert driven.final["Status"] == "FAILED"


def test_at_most_once_start_is_persisted_before_the_body_runs(backend: MemoryBackend) -> None:
    persisted_before_body: list[bool] = []
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]

    def body(s: StepContext) -> str:
        ops = backend.operations(arn)
        persisted_before_body.append(any(op.type is OperationType.STEP for op in ops))
        return "charged"

    config: StepConfig[str] = StepConfig(semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
    handler = run(lambda e, ctx: ctx.step(body, name="charge", config=config))
    with use_backend(backend):
        assert handler(event, None)["Status"] == "SUCCEEDED"
    assert persisted_before_body == [True]


def test_at_most_once_step_interrupted_mid_body_is_not_rerun(backend: MemoryBackend) -> None:
    runs: list[int] = []

    class Crash(BaseException):
        pass

    def body(s: StepContext) -> str:
        runs.append(s.attempt)
        if len(runs) == 1:
            raise Crash  # the process dies in the middle of the body
        return "done"

    config: StepConfig[str] = StepConfig(
        semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
        retry=RetryPolicy(max_attempts=3, jitter=Jitter.NONE),
    )
    handler = run(lambda e, ctx: ctx.step(body, name="charge", config=config))
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend), pytest.raises(Crash):
        handler(event, None)
    # Next invocation: the attempt is counted as interrupted and retried, not re-run.
    with use_backend(backend):
        assert handler(backend.invocation_event(arn), None)["Status"] == "PENDING"
    assert runs == [1]
    step = next(op for op in backend.operations(arn) if op.name == "charge")
    assert step.step_details and step.step_details.error
    assert step.step_details.error.error_type == "durable_core.errors.StepInterruptedError"
    backend.fire_timers(arn)
    with use_backend(backend):
        assert handler(backend.invocation_event(arn), None)["Status"] == "SUCCEEDED"
    assert runs == [1, 2]


def test_step_timeout_fails_the_attempt() -> None:
    import threading

    release = threading.Event()

    def slow(s: StepContext) -> str:
        release.wait(5)
        return "late"

    config: StepConfig[str] = StepConfig(timeout_seconds=0.05, retry=no_retry)
    driven = drive(run(lambda e, ctx: ctx.step(slow, name="slow", config=config)))
    release.set()
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.StepError"
    )
    fail = driven.by_name("slow").error
    assert fail is not None and fail.error_type == "durable_core.errors.StepTimeoutError"


def test_child_context_operations_carry_the_parent_id() -> None:
    def wf(event: Any, ctx: DurableContext) -> int:
        def child(c: DurableContext) -> int:
            x = c.step(lambda s: 2, name="inner")
            c.wait(1, name="inner-wait")
            return x * 2

        return ctx.run_in_child_context(child, name="group")

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == 4
    group = driven.by_name("group")
    assert group.sub_type == "RunInChildContext"
    assert group.status is OperationStatus.SUCCEEDED
    assert driven.by_name("inner").parent_id == group.id
    assert driven.by_name("inner-wait").parent_id == group.id


def test_completed_child_is_not_re_entered_on_replay() -> None:
    entered: list[int] = []

    def wf(event: Any, ctx: DurableContext) -> int:
        def child(c: DurableContext) -> int:
            entered.append(1)
            return c.step(lambda s: 5, name="inner")

        value = ctx.run_in_child_context(child, name="group")
        ctx.wait(1)
        return value

    drive(run(wf))
    assert entered == [1]


def test_failing_child_records_its_error() -> None:
    def child(c: DurableContext) -> None:
        raise RuntimeError("child broke")

    driven = drive(run(lambda e, ctx: ctx.run_in_child_context(child, name="c")))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorMessage"] == "child broke"
    ctx_op = driven.by_name("c")
    assert ctx_op.status is OperationStatus.FAILED
    assert ctx_op.context_details and ctx_op.context_details.error
    assert ctx_op.context_details.error.error_type == "RuntimeError"


def test_large_child_result_uses_replay_children() -> None:
    built: list[int] = []

    def wf(event: Any, ctx: DurableContext) -> int:
        def child(c: DurableContext) -> str:
            built.append(1)
            return "x" * (300 * 1024)

        big = ctx.run_in_child_context(child, name="big")
        ctx.wait(1)
        return len(big)

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == 300 * 1024
    big = driven.by_name("big")
    assert big.context_details and big.context_details.replay_children is True
    assert not big.context_details.result
    assert built == [1, 1]  # re-run on replay instead of read from the checkpoint


@pytest.mark.parametrize(
    ("payload_size", "replay_children"),
    [(256 * 1024 - 1, False), (256 * 1024, False), (256 * 1024 + 1, True)],
)
def test_replay_children_starts_above_256_kib_not_at_it(
    payload_size: int, replay_children: bool
) -> None:
    # AWS's SDK: ``len(serialized_result) > CHECKPOINT_SIZE_LIMIT_BYTES`` (256 KiB).
    built: list[int] = []
    text = "x" * (payload_size - 2)  # JSON adds the two quotes

    def wf(event: Any, ctx: DurableContext) -> int:
        def child(c: DurableContext) -> str:
            built.append(1)
            return text

        big = ctx.run_in_child_context(child, name="big")
        ctx.wait(1)  # the replay after it runs the child again only if it was not recorded
        return len(big)

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == payload_size - 2
    details = driven.by_name("big").context_details
    assert details is not None and bool(details.replay_children) is replay_children
    assert (details.result or "") == ("" if replay_children else json.dumps(text))
    assert len(built) == (2 if replay_children else 1)


def test_is_replaying_and_logger_are_silent_during_replay(caplog: pytest.LogCaptureFixture) -> None:
    flags: list[bool] = []

    def wf(event: Any, ctx: DurableContext) -> str:
        flags.append(ctx.is_replaying)
        ctx.logger.info("before step")
        ctx.step(lambda s: 1, name="one")
        ctx.wait(1)
        flags.append(ctx.is_replaying)
        ctx.logger.info("after wait")
        return "ok"

    with caplog.at_level(logging.INFO, logger="durable"):
        drive(run(wf))
    assert flags == [False, True, False]
    messages = [r.getMessage() for r in caplog.records if r.name == "durable"]
    assert messages == ["before step", "after wait"]


def test_a_child_context_and_its_logger_are_freed_without_the_cyclic_gc() -> None:
    """A map makes a context per item; a cycle between a context and its logger made
    each one garbage only the cyclic GC could free, a third of a wide map's CPU time.
    The logger still knows whether its context replays (the test above)."""
    contexts: list[weakref.ref[DurableContext]] = []

    def item(c: DurableContext, x: int, i: int, xs: Any) -> int:
        contexts.append(weakref.ref(c))
        c.logger.info("item %s", x)
        return c.step(lambda _: x, name="same")

    def wf(event: Any, ctx: DurableContext) -> list[int]:
        return ctx.map([1, 2, 3], item, config=MapConfig(max_concurrency=2)).get_results()

    gc.collect()
    gc.disable()
    try:
        assert drive(run(wf)).final == {"Status": "SUCCEEDED", "Result": "[1, 2, 3]"}
        assert len(contexts) == 3
        assert [ref() for ref in contexts] == [None, None, None]
    finally:
        gc.enable()


def test_large_handler_result_is_checkpointed_not_returned(backend: MemoryBackend) -> None:
    payload = "y" * (6 * 1024 * 1024 - 10)
    driven = drive(run(lambda e, ctx: payload), backend=backend)
    assert driven.final == {"Status": "SUCCEEDED", "Result": ""}
    execution = driven.operations()[0]
    assert execution.status is OperationStatus.SUCCEEDED
    last_update = backend.calls[-1].updates[-1]
    assert last_update.type is OperationType.EXECUTION
    assert json.loads(last_update.payload or "") == payload


def test_unserialisable_handler_result_fails_with_serdes_error() -> None:
    driven = drive(run(lambda e, ctx: {1, 2}))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.SerDesError"
    )


def test_unserialisable_step_result_is_a_typed_error_naming_the_step() -> None:
    driven = drive(run(lambda e, ctx: ctx.step(lambda s: object(), name="bad")))
    assert driven.final["Status"] == "FAILED"
    assert driven.final["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.SerDesError"
    )
    assert "'bad'" in driven.final["Error"]["ErrorMessage"]


def test_every_state_page_is_loaded() -> None:
    backend = MemoryBackend(page_size=3)
    count = 10

    def wf(event: Any, ctx: DurableContext) -> int:
        total = sum(ctx.step(lambda s, i=i: i, name=f"s{i}") for i in range(count))
        ctx.wait(1)
        return total

    runs: list[int] = []

    def counted(event: Any, ctx: DurableContext) -> int:
        runs.append(1)
        return wf(event, ctx)

    driven = drive(run(counted), backend=backend)
    assert json.loads(driven.final["Result"]) == sum(range(count))
    # The replay found all ten steps beyond the first page: none re-ran.
    step_starts = [u for c in backend.calls for u in c.updates if u.action is OperationAction.START]
    assert len([u for u in step_starts if u.type is OperationType.STEP]) == count
