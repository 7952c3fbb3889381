"""Plugins see AWS's hook contract: invocations, operations, attempts, changes; isolated.

The expected sequences follow the contract of AWS's plugin API
(``aws_durable_execution_sdk_python.plugin``): the invocation start before any
operation, an operation's start before its attempts, an attempt's end before the
operation's end, an end only for a terminal operation, a replayed unfinished operation
started again with ``is_replayed``, a finished one not reported again, the changes
before the invocation's end.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    Jitter,
    RetryPolicy,
    StepConfig,
    StepContext,
)
from durable_core.plugins import (
    DurablePlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationChangeInfo,
    OperationEndInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)

from tests.core.conftest import drive

RETRY_ONCE = RetryPolicy(
    max_attempts=2, initial_delay_seconds=1, backoff_rate=1, jitter=Jitter.NONE
)


class Recorder(DurablePlugin):
    """Every hook as a short tuple, in the order it was called."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.events.append(("invocation-start", info.is_first_invocation))

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.events.append(("invocation-end", info.status.value))

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self.events.append(("operation-start", info.name, info.is_replayed))

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self.events.append(("operation-end", info.name, info.status.value))

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        changed = sorted(f"{op.name}:{op.status.value}" for op in info.updated_operations.values())
        self.events.append(("change", *changed))

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        self.events.append(("attempt-start", info.name, info.attempt))

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        self.events.append(("attempt-end", info.name, info.attempt, info.outcome.value))


class Faulty(DurablePlugin):
    """Raises from every hook."""

    def __getattribute__(self, name: str) -> Any:
        if name.startswith(("on_", "provide_")):

            def fail(info: object) -> None:
                raise RuntimeError(f"faulty plugin in {name}")

            return fail
        return super().__getattribute__(name)


def workflow(event: Any, ctx: DurableContext) -> str:
    def flaky(step: StepContext) -> str:
        if step.attempt == 1:
            raise RuntimeError("first attempt fails")
        return "a"

    first = ctx.step(flaky, name="a", config=StepConfig(retry=RETRY_ONCE))
    ctx.wait(5, name="w")
    return first + ctx.step(lambda _: "b", name="b")


EXPECTED = [
    # invocation 1: attempt 1 fails, the step waits for its retry (PENDING, not terminal)
    ("invocation-start", True),
    ("operation-start", "a", False),
    ("attempt-start", "a", 1),
    ("attempt-end", "a", 1, "FAILED"),
    ("change", "a:PENDING"),
    ("invocation-end", "PENDING"),
    # invocation 2: the service made the retry due while suspended (UpdatedOperationIds,
    # not a change of this invocation); the unfinished step is replayed (started again),
    # attempt 2 succeeds
    ("invocation-start", False),
    ("operation-start", "a", True),
    ("attempt-start", "a", 2),
    ("attempt-end", "a", 2, "SUCCEEDED"),
    ("operation-end", "a", "SUCCEEDED"),
    ("operation-start", "w", False),
    ("change", "a:SUCCEEDED", "w:STARTED"),
    ("invocation-end", "PENDING"),
    # invocation 3: the timer fired while suspended: w's end when the replay reaches it;
    # a finished before and is not reported again
    ("invocation-start", False),
    ("operation-end", "w", "SUCCEEDED"),
    ("operation-start", "b", False),
    ("attempt-start", "b", 1),
    ("attempt-end", "b", 1, "SUCCEEDED"),
    ("operation-end", "b", "SUCCEEDED"),
    ("change", "b:SUCCEEDED"),
    ("invocation-end", "SUCCEEDED"),
]


def test_hooks_follow_the_contract_across_invocations() -> None:
    recorder = Recorder()
    driven = drive(run(workflow, options=ExecutionOptions(plugins=[recorder])))
    assert driven.final == {"Status": "SUCCEEDED", "Result": '"ab"'}
    assert recorder.events == EXPECTED


def test_a_factory_builds_one_plugin_per_invocation() -> None:
    built: list[Recorder] = []
    infos: list[InvocationStartInfo] = []

    class Factory:
        def create_plugin(self, info: InvocationStartInfo, /) -> DurablePlugin:
            infos.append(info)
            built.append(Recorder())
            return built[-1]

    drive(run(workflow, options=ExecutionOptions(plugins=[Factory()])))
    assert len(built) == 3  # one per invocation
    assert [info.is_first_invocation for info in infos] == [True, False, False]
    for recorder in built:
        assert recorder.events[0][0] == "invocation-start"
        assert recorder.events[-1][0] == "invocation-end"
    assert [event for recorder in built for event in recorder.events] == EXPECTED


def test_a_faulty_plugin_breaks_neither_the_execution_nor_other_plugins(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    with caplog.at_level(logging.ERROR, logger="durable.plugins"):
        driven = drive(run(workflow, options=ExecutionOptions(plugins=[Faulty(), recorder])))
    plain = drive(run(workflow))
    assert driven.final == plain.final
    assert [(op.name, op.status) for op in driven.operations()] == [
        (op.name, op.status) for op in plain.operations()
    ]
    assert recorder.events == EXPECTED
    failures = [r for r in caplog.records if r.name == "durable.plugins"]
    # every hook the recorder saw, the faulty plugin failed first
    assert len(failures) == len(EXPECTED)
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in failures)


def test_a_faulty_factory_is_skipped() -> None:
    class Broken:
        def create_plugin(self, info: InvocationStartInfo, /) -> DurablePlugin:
            raise RuntimeError("cannot build")

    recorder = Recorder()
    driven = drive(run(workflow, options=ExecutionOptions(plugins=[Broken(), recorder])))
    assert driven.final["Status"] == "SUCCEEDED"
    assert recorder.events == EXPECTED


def test_invocation_infos_carry_input_and_outcome_but_keep_payloads_out_of_repr() -> None:
    starts: list[InvocationStartInfo] = []
    ends: list[InvocationEndInfo] = []
    seen: list[Any] = []

    class Capture(DurablePlugin):
        def on_invocation_start(self, info: InvocationStartInfo) -> None:
            starts.append(info)
            info.execution_input["secret"] = "changed by the plugin"

        def on_invocation_end(self, info: InvocationEndInfo) -> None:
            ends.append(info)

    def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        seen.append(dict(event))
        return {"echo": event["secret"]}

    driven = drive(run(handler, options=ExecutionOptions(plugins=[Capture()])), {"secret": "s3"})
    assert seen == [{"secret": "s3"}]  # the plugin's copy is its own
    assert driven.final["Result"] == '{"echo": "s3"}'
    (start,), (end,) = starts, ends
    assert end.execution_result == '{"echo": "s3"}'
    assert end.status.value == "SUCCEEDED" and end.error is None
    assert start.execution_arn == driven.arn
    assert "s3" not in repr(start) and "s3" not in repr(end)
    assert [op.operation_type.value for op in start.operations.values()] == ["EXECUTION"]


def test_a_failed_execution_ends_with_its_error() -> None:
    ends: list[InvocationEndInfo] = []

    class Capture(DurablePlugin):
        def on_invocation_end(self, info: InvocationEndInfo) -> None:
            ends.append(info)

    def handler(event: Any, ctx: DurableContext) -> None:
        raise ValueError("no such order")

    driven = drive(run(handler, options=ExecutionOptions(plugins=[Capture()])))
    assert driven.final["Status"] == "FAILED"
    (end,) = ends
    assert end.status.value == "FAILED"
    assert end.error is not None
    assert (end.error.error_type, end.error.error_message) == ("ValueError", "no such order")


def test_an_escaping_exception_ends_the_invocation_as_retry() -> None:
    ends: list[InvocationEndInfo] = []

    class Capture(DurablePlugin):
        def on_invocation_end(self, info: InvocationEndInfo) -> None:
            ends.append(info)

    def handler(event: Any, ctx: DurableContext) -> None:
        raise SystemExit(1)  # the process goes down: Lambda re-drives the invocation

    with pytest.raises(SystemExit):
        drive(run(handler, options=ExecutionOptions(plugins=[Capture()])))
    assert [end.status.value for end in ends] == ["RETRY"]
