"""Saga, version gates, combinators and error handlers: sync and ``async def`` alike.

Each workflow is written twice, for ``DurableContext`` and ``AsyncDurableContext``,
and played through every invocation on its own MemoryBackend (timers fired between
invocations as ``conftest.drive`` does, callbacks answered with
``MemoryBackend.complete`` as ``test_combinators`` does). The two must send the same
checkpoint updates in every invocation and answer with the same responses. Where the
sync face runs branches on threads, the order of concurrent updates inside one
invocation is the scheduler's, so those invocations are compared as sets of updates.

Expected values come from the rules themselves: compensations run newest first as
``compensate-<step name>`` steps, a failing one is tried 6 times (the default retry
of AWS's SDK, ``RetryStrategyConfig.max_attempts``);
a gate takes the old path only for an execution that ran past it on the old code, its
marker's id is ``blake2b("patch:<change-id>")[:64]`` (docs/versioning.md); the
combinators settle as JavaScript's Promise.race / any / allSettled.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from durable_builder import DurableBuilder
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    MemoryBackend,
    StepConfig,
    StepContext,
    StepError,
    no_retry,
    use_backend,
)
from durable_core.aio import AsyncDurableContext
from durable_core.execution import LambdaHandler
from durable_core.types import OperationStatus, OperationType

from tests.driver import without_stack_trace

NO_RETRY: StepConfig[Any] = StepConfig(retry=no_retry)
MARKER_ID = hashlib.blake2b(b"patch:add-check").hexdigest()[:64]


@dataclass
class Played:
    """One execution on its own backend, invoked until it ends; what it sent, by invocation."""

    handler: LambdaHandler
    backend: MemoryBackend = field(default_factory=MemoryBackend)
    arn: str = ""
    calls: list[list[list[str]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.arn = self.backend.start_execution({"order": 7})["DurableExecutionArn"]

    def invoke(self) -> dict[str, Any]:
        before = len(self.backend.calls)
        with use_backend(self.backend):
            response = self.handler(self.backend.invocation_event(self.arn), None)
        self.calls.append(
            [
                [
                    json.dumps(without_stack_trace(update.to_wire()), sort_keys=True)
                    for update in call.updates
                ]
                for call in self.backend.calls[before:]
            ]
        )
        self.responses.append(without_stack_trace(response))
        return response

    def until_done(self, *, answer_callbacks: bool = False) -> Played:
        """Invoke until the execution ends: answer open callbacks if asked, else fire timers."""
        for _ in range(20):
            if self.invoke()["Status"] != "PENDING":
                return self
            self.advance(answer_callbacks=answer_callbacks)
        raise AssertionError("execution did not finish")

    def advance(self, *, answer_callbacks: bool = False) -> None:
        open_callbacks = [
            op
            for op in self.backend.operations(self.arn)
            if op.type is OperationType.CALLBACK and op.status is OperationStatus.STARTED
        ]
        if answer_callbacks and open_callbacks:
            for op in open_callbacks:
                self.backend.complete(self.arn, op.id, OperationStatus.SUCCEEDED, result="approved")
        else:
            assert self.backend.fire_timers(self.arn), "PENDING with nothing to wait for"

    @property
    def result(self) -> Any:
        return json.loads(self.responses[-1]["Result"])

    def updates_by_invocation(self) -> list[list[str]]:
        """Each invocation's updates as a sorted list: the order threads send them in aside."""
        return [sorted(u for call in invocation for u in call) for invocation in self.calls]


def assert_same_stream(sync: Played, async_: Played, *, concurrent: bool = False) -> None:
    assert async_.responses == sync.responses
    if concurrent:
        assert async_.updates_by_invocation() == sync.updates_by_invocation()
    else:
        assert async_.calls == sync.calls


@pytest.fixture
def seeded() -> Iterator[Callable[[], None]]:
    """Reseed ``random`` before each run: retry jitter is part of the stream compared."""
    state = random.getstate()
    yield lambda: random.seed(2026)
    random.setstate(state)


# -- sagas ------------------------------------------------------------------------------


def _fail(_: StepContext) -> None:
    raise RuntimeError("payment declined")


def _rollback_summary(result: Any) -> dict[str, Any]:
    return {
        "rolled_back": [o.name for o in result.outcomes],
        "succeeded": [o.succeeded for o in result.outcomes],
        "errors": [o.error.message if o.error else None for o in result.outcomes],
        "all_succeeded": result.all_succeeded,
    }


def sync_booking(undone: list[str]) -> LambdaHandler:
    def undo(what: str) -> Callable[[Any, StepContext], None]:
        def compensate(result: Any, step: StepContext) -> None:
            if what == "hotel":
                undone.append(f"hotel:{result} attempt {step.attempt}")
                raise RuntimeError("hotel desk closed")
            undone.append(f"{what}:{result}")

        return compensate

    def wf(event: Any, ctx: DurableContext) -> Any:
        ctx.step_with_compensation(lambda s: "F1", undo("flight"), name="flight")
        ctx.wait(5, name="pause")
        ctx.step_with_compensation(lambda s: "H2", undo("hotel"), name="hotel")
        ctx.step_with_compensation(lambda s: "C3", undo("car"))
        try:
            ctx.step(_fail, name="pay", config=NO_RETRY)
        except StepError:
            return _rollback_summary(ctx.run_compensations(name="rollback"))
        return "booked"

    return run(wf)


def async_booking(undone: list[str]) -> LambdaHandler:
    async def undo_flight(result: Any, step: StepContext) -> None:
        undone.append(f"flight:{result}")

    def undo_hotel(result: Any, step: StepContext) -> None:  # a sync compensation, too
        undone.append(f"hotel:{result} attempt {step.attempt}")
        raise RuntimeError("hotel desk closed")

    async def undo_car(result: Any, step: StepContext) -> None:
        undone.append(f"car:{result}")

    async def flight(s: StepContext) -> str:
        return "F1"

    async def wf(event: Any, ctx: AsyncDurableContext) -> Any:
        await ctx.step_with_compensation(flight, undo_flight, name="flight")
        await ctx.wait(5, name="pause")
        await ctx.step_with_compensation(lambda s: "H2", undo_hotel, name="hotel")
        await ctx.step_with_compensation(lambda s: "C3", undo_car)
        try:
            await ctx.step(_fail, name="pay", config=NO_RETRY)
        except StepError:
            return _rollback_summary(await ctx.run_compensations(name="rollback"))
        return "booked"

    return run(wf)


def test_compensations_with_one_failing_checkpoint_identically(
    seeded: Callable[[], None],
) -> None:
    sync_undone: list[str] = []
    async_undone: list[str] = []
    seeded()
    sync = Played(sync_booking(sync_undone)).until_done()
    seeded()
    async_ = Played(async_booking(async_undone)).until_done()

    assert sync.result == {
        "rolled_back": ["compensate", "compensate-hotel", "compensate-flight"],
        "succeeded": [True, False, True],
        "errors": [None, "hotel desk closed", None],
        "all_succeeded": False,
    }
    # Newest first; the hotel's undo is tried 6 times (the default retry policy).
    hotel = [f"hotel:H2 attempt {n}" for n in range(1, 7)]
    assert sync_undone == async_undone == ["car:C3", *hotel, "flight:F1"]
    # pause, then five retry backoffs of the hotel's undo: 6 suspensions.
    assert [r["Status"] for r in sync.responses] == ["PENDING"] * 6 + ["SUCCEEDED"]
    rollback = next(op for op in async_.backend.operations(async_.arn) if op.name == "rollback")
    assert (rollback.type, rollback.sub_type) == (OperationType.CONTEXT, "Compensations")
    assert_same_stream(sync, async_)


def test_run_compensations_with_nothing_registered_records_an_empty_rollback() -> None:
    def sync_wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.run_compensations().all_succeeded

    async def async_wf(event: Any, ctx: AsyncDurableContext) -> Any:
        return (await ctx.run_compensations()).all_succeeded

    sync = Played(run(sync_wf)).until_done()
    async_ = Played(run(async_wf)).until_done()
    assert sync.result is True  # all() of nothing
    assert_same_stream(sync, async_)


# -- version gates ----------------------------------------------------------------------


def sync_v1(event: Any, ctx: DurableContext) -> list[str]:
    a: str = ctx.step(lambda s: "a", name="a")
    ctx.wait(10, name="pause")
    return [a, ctx.step(lambda s: "b", name="b")]


def sync_v2(event: Any, ctx: DurableContext) -> list[str]:
    out: list[str] = [ctx.step(lambda s: "a", name="a")]
    if ctx.patched("add-check"):
        out.append(ctx.step(lambda s: "checked", name="check"))
    ctx.wait(10, name="pause")
    out.append(ctx.step(lambda s: "b", name="b"))
    return out


def sync_v3(event: Any, ctx: DurableContext) -> list[str]:
    a: str = ctx.step(lambda s: "a", name="a")
    ctx.deprecate_patch("add-check")
    checked: str = ctx.step(lambda s: "checked", name="check")
    ctx.wait(10, name="pause")
    return [a, checked, ctx.step(lambda s: "b", name="b")]


async def async_v1(event: Any, ctx: AsyncDurableContext) -> list[str]:
    a: str = await ctx.step(lambda s: "a", name="a")
    await ctx.wait(10, name="pause")
    return [a, await ctx.step(lambda s: "b", name="b")]


async def async_v2(event: Any, ctx: AsyncDurableContext) -> list[str]:
    out: list[str] = [await ctx.step(lambda s: "a", name="a")]
    if await ctx.patched("add-check"):
        out.append(await ctx.step(lambda s: "checked", name="check"))
    await ctx.wait(10, name="pause")
    out.append(await ctx.step(lambda s: "b", name="b"))
    return out


async def async_v3(event: Any, ctx: AsyncDurableContext) -> list[str]:
    a: str = await ctx.step(lambda s: "a", name="a")
    await ctx.deprecate_patch("add-check")
    checked: str = await ctx.step(lambda s: "checked", name="check")
    await ctx.wait(10, name="pause")
    return [a, checked, await ctx.step(lambda s: "b", name="b")]


VERSIONS = {
    "sync": (sync_v1, sync_v2, sync_v3),
    "async": (async_v1, async_v2, async_v3),
}


def _upgraded(started_on: Any, resumed_on: Any) -> Played:
    """An execution started on one version, suspended in its wait, finished on another."""
    played = Played(run(started_on))
    assert played.invoke()["Status"] == "PENDING"
    played.handler = run(resumed_on)
    played.advance()
    return played.until_done()


def _markers(played: Played) -> list[str]:
    return [op.id for op in played.backend.operations(played.arn) if op.sub_type == "Patch"]


def test_an_old_execution_on_the_gated_code_takes_the_old_path_in_both_faces() -> None:
    sync, async_ = (_upgraded(v[0], v[1]) for v in (VERSIONS["sync"], VERSIONS["async"]))
    assert sync.result == ["a", "b"]
    assert _markers(sync) == _markers(async_) == []  # old executions never get a marker
    assert_same_stream(sync, async_)


def test_a_new_execution_on_the_gated_code_records_the_marker_in_both_faces() -> None:
    sync = Played(run(sync_v2)).until_done()
    async_ = Played(run(async_v2)).until_done()
    assert sync.result == ["a", "checked", "b"]
    assert _markers(sync) == _markers(async_) == [MARKER_ID]
    assert_same_stream(sync, async_)


def test_deprecate_patch_keeps_new_executions_and_refuses_old_ones_in_both_faces() -> None:
    sync_new, async_new = (_upgraded(v[1], v[2]) for v in (VERSIONS["sync"], VERSIONS["async"]))
    assert sync_new.result == ["a", "checked", "b"]
    assert_same_stream(sync_new, async_new)

    sync_old, async_old = (_upgraded(v[0], v[2]) for v in (VERSIONS["sync"], VERSIONS["async"]))
    assert sync_old.responses[-1]["Status"] == "FAILED"
    assert sync_old.responses[-1]["Error"]["ErrorType"].endswith("NonDeterministicExecutionError")
    assert_same_stream(sync_old, async_old)


# -- combinators ------------------------------------------------------------------------


def sync_approval(event: Any, ctx: DurableContext) -> dict[str, Any]:
    winner = ctx.race(
        lambda c: c.create_callback("approval").result(),
        lambda c: c.wait(3600, name="approval timeout"),
        name="approval or timeout",
    )
    return {"index": winner.index, "value": winner.value}


async def async_approval(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    async def answer(c: AsyncDurableContext) -> Any:
        return await (await c.create_callback("approval")).result()

    async def timeout(c: AsyncDurableContext) -> None:
        await c.wait(3600, name="approval timeout")

    winner = await ctx.race(answer, timeout, name="approval or timeout")
    return {"index": winner.index, "value": winner.value}


@pytest.mark.parametrize(
    ("answer_callbacks", "expected"),
    [(True, {"index": 0, "value": "approved"}), (False, {"index": 1, "value": None})],
    ids=["callback-wins", "timeout-wins"],
)
def test_a_race_of_a_callback_against_a_timeout_decides_alike(
    answer_callbacks: bool, expected: dict[str, Any]
) -> None:
    sync = Played(run(sync_approval)).until_done(answer_callbacks=answer_callbacks)
    async_ = Played(run(async_approval)).until_done(answer_callbacks=answer_callbacks)
    assert sync.result == expected
    assert [r["Status"] for r in sync.responses] == ["PENDING", "SUCCEEDED"]
    race = next(
        op for op in async_.backend.operations(async_.arn) if op.name == "approval or timeout"
    )
    assert (race.sub_type, race.status) == ("Race", OperationStatus.SUCCEEDED)
    assert_same_stream(sync, async_, concurrent=True)


def _boom(message: str) -> Callable[[StepContext], None]:
    """One step body for both faces, so the tracebacks recorded are the same too."""

    def boom(s: StepContext) -> None:
        raise ValueError(message)

    return boom


def _sync_failing(message: str) -> Callable[[DurableContext], None]:
    def body(c: DurableContext) -> None:
        c.step(_boom(message), name=f"fail {message}", config=NO_RETRY)

    return body


def _async_failing(message: str) -> Callable[[AsyncDurableContext], Any]:
    async def body(c: AsyncDurableContext) -> None:
        await c.step(_boom(message), name=f"fail {message}", config=NO_RETRY)

    return body


def _settled(result: Any) -> list[Any]:
    return [
        [item.status.value, item.result, item.error.error_message if item.error else None]
        for item in result.all
    ]


def sync_any_and_settle(event: Any, ctx: DurableContext) -> dict[str, Any]:
    def later(c: DurableContext) -> str:
        c.wait(5, name="later")
        return c.step(lambda s: "second", name="ok")

    def three(c: DurableContext) -> int:
        c.wait(5, name="wait then three")
        return 3

    winner = ctx.any(_sync_failing("one"), later, name="first success")
    settled = ctx.all_settled(
        _sync_failing("bad"),
        lambda c: c.step(lambda s: 2, name="two"),
        three,
        name="settle",
    )
    return {"any": [winner.index, winner.value], "settled": _settled(settled)}


async def async_any_and_settle(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    async def later(c: AsyncDurableContext) -> str:
        await c.wait(5, name="later")
        return await c.step(lambda s: "second", name="ok")

    async def two(c: AsyncDurableContext) -> int:
        return await c.step(lambda s: 2, name="two")

    async def three(c: AsyncDurableContext) -> int:
        await c.wait(5, name="wait then three")
        return 3

    winner = await ctx.any(_async_failing("one"), later, name="first success")
    settled = await ctx.all_settled(_async_failing("bad"), two, three, name="settle")
    return {"any": [winner.index, winner.value], "settled": _settled(settled)}


def test_any_and_all_settled_settle_alike() -> None:
    sync = Played(run(sync_any_and_settle)).until_done()
    async_ = Played(run(async_any_and_settle)).until_done()
    assert sync.result == {
        "any": [1, "second"],  # the first success; branch 0's failure is skipped
        "settled": [
            ["FAILED", None, "bad"],
            ["SUCCEEDED", 2, None],
            ["SUCCEEDED", 3, None],
        ],
    }
    subtypes = {op.name: op.sub_type for op in async_.backend.operations(async_.arn)}
    assert (subtypes["first success"], subtypes["settle"]) == ("Any", "AllSettled")
    assert_same_stream(sync, async_, concurrent=True)


def test_any_with_every_branch_failed_fails_alike() -> None:
    def sync_wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.any(_sync_failing("one"), _sync_failing("two"), name="all fail").value

    async def async_wf(event: Any, ctx: AsyncDurableContext) -> Any:
        winner = await ctx.any(_async_failing("one"), _async_failing("two"), name="all fail")
        return winner.value

    sync = Played(run(sync_wf)).until_done()
    async_ = Played(run(async_wf)).until_done()
    assert sync.responses[-1]["Status"] == "FAILED"
    assert sync.responses[-1]["Error"]["ErrorType"].endswith("AllBranchesFailedError")
    assert_same_stream(sync, async_, concurrent=True)


# -- error handlers ---------------------------------------------------------------------


def _failing_workflow(event: Any, ctx: DurableContext) -> Any:
    ctx.step(lambda s: "done", name="work")
    raise KeyError("missing")


def sync_recover(exc: Exception) -> dict[str, str]:
    return {"recovered": type(exc).__name__}


async def async_recover(exc: Exception) -> dict[str, str]:
    return {"recovered": type(exc).__name__}


def sync_escalate(exc: Exception) -> Any:
    raise RuntimeError(f"escalated {type(exc).__name__}")


async def async_escalate(exc: Exception) -> Any:
    raise RuntimeError(f"escalated {type(exc).__name__}")


@pytest.mark.parametrize(
    ("sync_handler", "async_handler", "expected"),
    [
        (sync_recover, async_recover, {"Status": "SUCCEEDED"}),
        (sync_escalate, async_escalate, {"Status": "FAILED"}),
    ],
    ids=["replacement", "re-raised"],
)
def test_an_async_error_handler_answers_as_the_sync_one(
    sync_handler: Callable[[Exception], Any],
    async_handler: Callable[[Exception], Any],
    expected: dict[str, str],
) -> None:
    sync = Played(run(_failing_workflow, options=ExecutionOptions(error_handler=sync_handler)))
    async_ = Played(run(_failing_workflow, options=ExecutionOptions(error_handler=async_handler)))
    built = Played(DurableBuilder(_failing_workflow).with_error_handler(async_handler).build())
    for played in (sync, async_, built):
        played.until_done()
    assert sync.responses[-1]["Status"] == expected["Status"]
    if expected["Status"] == "SUCCEEDED":
        assert sync.result == {"recovered": "KeyError"}
    else:
        assert sync.responses[-1]["Error"]["ErrorMessage"] == "escalated KeyError"
    assert_same_stream(sync, async_)
    assert_same_stream(sync, built)


def test_an_async_error_handler_also_serves_an_async_workflow() -> None:
    async def wf(event: Any, ctx: AsyncDurableContext) -> Any:
        await ctx.step(lambda s: "done", name="work")
        raise KeyError("missing")

    played = Played(run(wf, options=ExecutionOptions(error_handler=async_recover))).until_done()
    assert played.result == {"recovered": "KeyError"}
