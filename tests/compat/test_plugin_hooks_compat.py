"""The plugin hook stream of AWS's SDK and ours on the same workflows, call by call.

Each workflow is written for AWS's SDK (3.0.0, the reference) and for ours, sync and
``async def``, and run on its own ``MemoryBackend`` with a recording plugin registered;
what the service does between invocations (fire timers, answer a callback) is done
identically on both. The streams of ``on_invocation_*``, ``on_operation_start/end`` and
``on_user_function_start/end`` must be equal hook by hook, with every field AWS's SDK
sets (ids, types, subtypes, names, parents, ``is_replayed``, status, attempt,
``is_replay_children``, outcome, result and error type).

``on_operation_change`` is compared per invocation: AWS's SDK delivers it on a thread
of its own and merges notifications while a plugin is busy, so the number of calls is
not part of its contract (``DurableInstrumentationPlugin``'s docstring); what is, is
the newest status of every operation the invocation changed, delivered before
``on_invocation_end``: recorded as one ``changes`` entry just before it.

Batches run with ``max_concurrency=1`` so the order between branches is deterministic.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import ChildConfig as AwsChildConfig
from aws_durable_execution_sdk_python.config import CompletionConfig as AwsCompletionConfig
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.config import MapConfig as AwsMapConfig
from aws_durable_execution_sdk_python.config import NestingType as AwsNestingType
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.config import StepConfig as AwsStepConfig
from aws_durable_execution_sdk_python.config import (
    WaitForCallbackConfig as AwsWaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.execution import durable_execution
from aws_durable_execution_sdk_python.plugin import DurableInstrumentationPlugin
from aws_durable_execution_sdk_python.retries import RetryDecision as AwsRetryDecision
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig as AwsWaitForConditionConfig,
)
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionDecision as AwsWaitForConditionDecision,
)
from durable_core import (
    ChildConfig,
    ExecutionOptions,
    Jitter,
    MemoryBackend,
    RetryPolicy,
    StepConfig,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    no_retry,
    run_invocation,
)
from durable_core.batch import CompletionConfig, MapConfig, NestingType, ParallelConfig
from durable_core.plugins import DurablePlugin
from durable_core.types import ErrorObject, OperationStatus, OperationType
from durable_core.waits import WaitDecision

from tests.compat.conftest import Run, start

Handler = Callable[[Any, Any], Any]
Between = Callable[[Run], None]
Hook = tuple[Any, ...]

BIG = "x" * (300 * 1024)  # over the 256 KiB a child context records: ReplayChildren


def _value(enum_or_none: Any) -> Any:
    return getattr(enum_or_none, "value", enum_or_none)


def _error_type(info: Any) -> str | None:
    """The error's type; for a child context only whether it failed: the type a child
    context records is issue 12's point 6 (AWS's SDK records its own exception class)."""
    error = info.error
    if error is None:
        return None
    if _value(info.operation_type) == "CONTEXT":
        return "<error>"
    return getattr(error, "type", None) or getattr(error, "error_type", None)


def _result(info: Any) -> str | None:
    """The serialised result; a batch's is compared by test_batch_compat (its items'
    error types are point 6's too)."""
    return None if info.sub_type in ("Map", "Parallel") else info.result


def _operation(hook: str, info: Any) -> Hook:
    return (
        hook,
        info.operation_id,
        _value(info.operation_type),
        info.sub_type,
        info.name,
        info.parent_id,
        info.is_replayed,
        _value(info.status),
        info.attempt,
    )


class _Recording:
    """The hooks of one run, normalised to tuples both SDKs' infos produce alike."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self._changes: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, hook: Hook) -> None:
        with self._lock:
            self.hooks.append(hook)

    def on_invocation_start(self, info: Any) -> None:
        self.add(("invocation-start", info.is_first_invocation))

    def on_invocation_end(self, info: Any) -> None:
        with self._lock:
            changes, self._changes = self._changes, {}
        self.add(("changes", tuple(sorted(changes.items()))))
        self.add(("invocation-end", _value(info.status)))

    def on_operation_change(self, info: Any) -> None:
        with self._lock:
            for operation_id, operation in info.updated_operations.items():
                self._changes[operation_id] = _value(operation.status)

    def on_operation_start(self, info: Any) -> None:
        self.add(_operation("operation-start", info))

    def on_operation_end(self, info: Any) -> None:
        self.add((*_operation("operation-end", info), _result(info), _error_type(info)))

    def on_user_function_start(self, info: Any) -> None:
        self.add((*_operation("function-start", info), info.is_replay_children))

    def on_user_function_end(self, info: Any) -> None:
        self.add(
            (
                *_operation("function-end", info),
                info.is_replay_children,
                _value(info.outcome),
                _error_type(info),
            )
        )


class _Forwarding:
    """A plugin whose every hook is the recording's."""

    def __init__(self, recording: _Recording) -> None:
        self.recording = recording

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            return getattr(object.__getattribute__(self, "recording"), name)
        return super().__getattribute__(name)


class AwsRecorder(_Forwarding, DurableInstrumentationPlugin):
    pass


class OurRecorder(_Forwarding, DurablePlugin):
    pass


class _AwsFactory:
    def __init__(self, recording: _Recording) -> None:
        self.recording = recording

    def create_plugin(self, info: Any, /) -> DurableInstrumentationPlugin:
        return AwsRecorder(self.recording)


def _drive(
    invoke: Callable[[Run, dict[str, Any]], dict[str, Any]], between: Between, run: Run | None
) -> Run:
    run = run or start({"n": 1})
    for _ in range(12):
        response = invoke(run, run.backend.invocation_event(run.arn))
        run.responses.append(response)
        if response["Status"] != "PENDING":
            return run
        between(run)
    raise AssertionError("no terminal status after 12 invocations")


def aws_hooks(
    workflow: Handler, between: Between, run: Run | None = None
) -> tuple[list[Hook], Run]:
    from aws_durable_execution_sdk_python.execution import (
        DurableExecutionInvocationInput,
        DurableExecutionInvocationInputWithClient,
    )

    from tests.compat.aws_peer import AwsServiceClient

    recording = _Recording()
    handler = durable_execution(workflow, plugins=[_AwsFactory(recording)])

    def invoke(run: Run, event: dict[str, Any]) -> dict[str, Any]:
        parsed = DurableExecutionInvocationInput.from_json_dict(event)
        inject = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input
        return dict(handler(inject(parsed, AwsServiceClient(run.backend)), None))

    return recording.hooks, _drive(invoke, between, run)


def our_hooks(
    workflow: Handler, between: Between, run: Run | None = None
) -> tuple[list[Hook], Run]:
    recording = _Recording()

    def invoke(run: Run, event: dict[str, Any]) -> dict[str, Any]:
        options = ExecutionOptions(backend=run.backend, plugins=[OurRecorder(recording)])
        return run_invocation(workflow, event, None, options)

    return recording.hooks, _drive(invoke, between, run)


def fire_timers(run: Run) -> None:
    assert run.backend.fire_timers(run.arn), "suspended with nothing to fire"


def answer_callback(run: Run) -> None:
    (callback,) = [op for op in run.operations() if op.type is OperationType.CALLBACK]
    assert callback.status is OperationStatus.STARTED
    run.backend.complete(run.arn, callback.id, OperationStatus.SUCCEEDED, result='"yes"')


def assert_same_hooks(aws: Handler, ours: Handler, ours_async: Handler, between: Between) -> None:
    expected, aws_run = aws_hooks(aws, between)
    assert any(h[0] == "function-start" for h in expected), "the workflow runs no user code"
    for workflow in (ours, ours_async):
        actual, our_run = our_hooks(workflow, between)
        assert our_run.responses == aws_run.responses
        assert actual == expected


# -- the workflows -----------------------------------------------------------------------


def _aws_wait(c: Any, name: str) -> None:
    c.wait(Duration.from_seconds(1), name=name)


def aws_parallel(event: Any, ctx: Any) -> Any:
    def branch(i: int) -> Callable[[Any], Any]:
        def body(c: Any) -> Any:
            value = c.step(lambda _: i * 10, name=f"s{i}")
            _aws_wait(c, f"w{i}")
            return value

        return body

    result = ctx.parallel(
        [branch(0), branch(1)], name="fan", config=AwsParallelConfig(max_concurrency=1)
    )
    _aws_wait(ctx, "then")  # the next invocation replays the finished parallel
    return result.get_results()


def our_parallel(event: Any, ctx: Any) -> Any:
    def branch(i: int) -> Callable[[Any], Any]:
        def body(c: Any) -> Any:
            value = c.step(lambda _: i * 10, name=f"s{i}")
            c.wait(1, name=f"w{i}")
            return value

        return body

    result = ctx.parallel(
        [branch(0), branch(1)], name="fan", config=ParallelConfig(max_concurrency=1)
    )
    ctx.wait(1, name="then")
    return result.get_results()


async def our_parallel_async(event: Any, ctx: Any) -> Any:
    def branch(i: int) -> Callable[[Any], Any]:
        async def body(c: Any) -> Any:
            value = await c.step(lambda _: i * 10, name=f"s{i}")
            await c.wait(1, name=f"w{i}")
            return value

        return body

    result = await ctx.parallel(
        [branch(0), branch(1)], name="fan", config=ParallelConfig(max_concurrency=1)
    )
    await ctx.wait(1, name="then")
    return result.get_results()


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two")
    return x * 3


def aws_map(event: Any, ctx: Any) -> Any:
    no = AwsStepConfig(retry_strategy=lambda error, attempts: AwsRetryDecision.no_retry())
    result = ctx.map(
        [1, 2, 3],
        lambda c, x, i, xs: c.step(lambda _: _fail_on_two(x), name="triple", config=no),
        name="m",
        config=AwsMapConfig(max_concurrency=1),
    )
    return [result.get_results(), len(result.get_errors())]


def our_map(event: Any, ctx: Any) -> Any:
    no = StepConfig[Any](retry=no_retry)
    result = ctx.map(
        [1, 2, 3],
        lambda c, x, i, xs: c.step(lambda _: _fail_on_two(x), name="triple", config=no),
        name="m",
        config=MapConfig(max_concurrency=1),
    )
    return [result.get_results(), len(result.get_errors())]


async def our_map_async(event: Any, ctx: Any) -> Any:
    no = StepConfig[Any](retry=no_retry)

    async def item(c: Any, x: int, i: int, xs: Any) -> Any:
        return await c.step(lambda _: _fail_on_two(x), name="triple", config=no)

    result = await ctx.map([1, 2, 3], item, name="m", config=MapConfig(max_concurrency=1))
    return [result.get_results(), len(result.get_errors())]


def _nested(wait: Callable[[Any, str], None]) -> Handler:
    def workflow(event: Any, ctx: Any) -> Any:
        def inner(c: Any) -> Any:
            value = c.step(lambda _: "deep", name="leaf")
            wait(c, "nap")
            return value

        return ctx.run_in_child_context(
            lambda c: c.run_in_child_context(inner, name="inner"), name="outer"
        )

    return workflow


async def our_nested_async(event: Any, ctx: Any) -> Any:
    async def inner(c: Any) -> Any:
        value = await c.step(lambda _: "deep", name="leaf")
        await c.wait(1, name="nap")
        return value

    async def outer(c: Any) -> Any:
        return await c.run_in_child_context(inner, name="inner")

    return await ctx.run_in_child_context(outer, name="outer")


def _replay_children(wait: Callable[[Any, str], None], config: Any) -> Handler:
    def workflow(event: Any, ctx: Any) -> Any:
        big = ctx.run_in_child_context(
            lambda c: c.step(lambda _: BIG, name="big step"), name="big", config=config
        )
        wait(ctx, "after")
        return len(big)

    return workflow


async def our_replay_children_async(event: Any, ctx: Any) -> Any:
    async def body(c: Any) -> Any:
        return await c.step(lambda _: BIG, name="big step")

    big = await ctx.run_in_child_context(body, name="big", config=ChildConfig())
    await ctx.wait(1, name="after")
    return len(big)


def aws_wait_for_callback(event: Any, ctx: Any) -> Any:
    return ctx.wait_for_callback(lambda callback_id, c: None, name="approval")


def our_wait_for_callback(event: Any, ctx: Any) -> Any:
    return ctx.wait_for_callback(lambda callback_id, c: None, name="approval")


async def our_wait_for_callback_async(event: Any, ctx: Any) -> Any:
    return await ctx.wait_for_callback(lambda callback_id, c: None, name="approval")


def _poll(state: int, check: Any) -> int:
    return state + 1


def aws_wait_for_condition(event: Any, ctx: Any) -> Any:
    def strategy(state: int, attempt: int) -> Any:
        if state >= 2:
            return AwsWaitForConditionDecision.stop_polling()
        return AwsWaitForConditionDecision.continue_waiting(Duration.from_seconds(1))

    config = AwsWaitForConditionConfig(wait_strategy=strategy, initial_state=0)
    return ctx.wait_for_condition(_poll, config, name="poll")


def _our_condition() -> WaitForConditionConfig[int]:
    def strategy(state: int, attempt: int) -> WaitDecision:
        return WaitDecision.stop_polling() if state >= 2 else WaitDecision.continue_waiting(1)

    return WaitForConditionConfig(wait_strategy=strategy, initial_state=0)


def our_wait_for_condition(event: Any, ctx: Any) -> Any:
    return ctx.wait_for_condition(_poll, _our_condition(), name="poll")


async def our_wait_for_condition_async(event: Any, ctx: Any) -> Any:
    return await ctx.wait_for_condition(_poll, _our_condition(), name="poll")


def _flat_branches(fail: Any) -> list[Callable[[Any], Any]]:
    def broken(c: Any) -> Any:
        return c.step(lambda _: _fail_on_two(2), name="broken", config=fail)

    return [lambda c: c.step(lambda _: "flat", name="fine"), broken]


def aws_flat_parallel(event: Any, ctx: Any) -> Any:
    no = AwsStepConfig(retry_strategy=lambda error, attempts: AwsRetryDecision.no_retry())
    config = AwsParallelConfig(
        max_concurrency=1,
        nesting_type=AwsNestingType.FLAT,
        completion_config=AwsCompletionConfig.all_completed(),
    )
    result = ctx.parallel(_flat_branches(no), name="flat", config=config)
    _aws_wait(ctx, "after")
    return [result.get_results(), len(result.get_errors())]


def _our_flat_config() -> ParallelConfig[Any]:
    return ParallelConfig(
        max_concurrency=1,
        nesting_type=NestingType.FLAT,
        completion_config=CompletionConfig.all_completed(),
    )


def our_flat_parallel(event: Any, ctx: Any) -> Any:
    result = ctx.parallel(_flat_branches(StepConfig(retry=no_retry)), "flat", _our_flat_config())
    ctx.wait(1, name="after")
    return [result.get_results(), len(result.get_errors())]


async def our_flat_parallel_async(event: Any, ctx: Any) -> Any:
    no = StepConfig[Any](retry=no_retry)

    async def fine(c: Any) -> Any:
        return await c.step(lambda _: "flat", name="fine")

    async def broken(c: Any) -> Any:
        return await c.step(lambda _: _fail_on_two(2), name="broken", config=no)

    result = await ctx.parallel([fine, broken], "flat", _our_flat_config())
    await ctx.wait(1, name="after")
    return [result.get_results(), len(result.get_errors())]


def _flaky(step: Any) -> str:
    if step.attempt == 1:
        raise RuntimeError("first attempt fails")
    return f"attempt {step.attempt}"


AWS_RETRY_ONCE = AwsStepConfig(
    retry_strategy=lambda error, attempts: (
        AwsRetryDecision.retry(Duration.from_seconds(1))
        if attempts < 2
        else AwsRetryDecision.no_retry()
    )
)
OUR_RETRY_ONCE = StepConfig[str](
    retry=RetryPolicy(max_attempts=2, initial_delay_seconds=1, backoff_rate=1, jitter=Jitter.NONE)
)


async def our_retry_async(event: Any, ctx: Any) -> Any:
    return await ctx.step(_flaky, name="flaky", config=OUR_RETRY_ONCE)


HALF = "y" * (150 * 1024)  # two of them make a batch result too large to record


def _big_map(config: Any, wait: Callable[[Any, str], None]) -> Handler:
    def workflow(event: Any, ctx: Any) -> Any:
        result = ctx.map(
            [0, 1],
            lambda c, x, i, xs: c.step(lambda _: HALF, name="half"),
            name="big map",
            config=config,
        )
        wait(ctx, "after")
        return [len(r) for r in result.get_results()]

    return workflow


async def our_big_map_async(event: Any, ctx: Any) -> Any:
    async def item(c: Any, x: int, i: int, xs: Any) -> Any:
        return await c.step(lambda _: HALF, name="half")

    result = await ctx.map([0, 1], item, name="big map", config=MapConfig(max_concurrency=1))
    await ctx.wait(1, name="after")
    return [len(r) for r in result.get_results()]


def finish_invoke(run: Run) -> None:
    (invoke,) = [op for op in run.operations() if op.type is OperationType.CHAINED_INVOKE]
    run.backend.complete(run.arn, invoke.id, OperationStatus.SUCCEEDED, result='{"id": 7}')


def invoke_then_callback(event: Any, ctx: Any) -> Any:
    """The same for both SDKs: an invoke, then a callback awaited after a step."""
    receipt = ctx.invoke("charge-card", {"order": 7}, name="charge")
    callback = ctx.create_callback(name="approval")
    ctx.step(lambda _: callback.callback_id is not None, name="send")
    return [receipt, callback.result()]


async def invoke_then_callback_async(event: Any, ctx: Any) -> Any:
    receipt = await ctx.invoke("charge-card", {"order": 7}, name="charge")
    callback = await ctx.create_callback(name="approval")
    await ctx.step(lambda _: callback.callback_id is not None, name="send")
    return [receipt, await callback.result()]


def finish_invoke_or_answer(run: Run) -> None:
    kinds = {op.type: op for op in run.operations()}
    if OperationType.CALLBACK in kinds:
        answer_callback(run)
    else:
        finish_invoke(run)


def fail_callback(run: Run) -> None:
    (callback,) = [
        op
        for op in run.operations()
        if op.type is OperationType.CALLBACK and op.name == "rejected create callback id"
    ]
    run.backend.complete(
        run.arn,
        callback.id,
        OperationStatus.FAILED,
        error=ErrorObject(error_type="Rejected", error_message="no"),
    )


def _refuse(callback_id: str, context: Any) -> None:
    raise PermissionError("cannot submit")


def aws_failing_callbacks(event: Any, ctx: Any) -> Any:
    no = AwsWaitForCallbackConfig(retry_strategy=lambda e, n: AwsRetryDecision.no_retry())
    with contextlib.suppress(Exception):
        ctx.wait_for_callback(_refuse, name="refused", config=no)
    with contextlib.suppress(Exception):
        ctx.wait_for_callback(lambda callback_id, c: None, name="rejected")
    return "both failed"


def our_failing_callbacks(event: Any, ctx: Any) -> Any:
    no = WaitForCallbackConfig[Any](retry=no_retry)
    with contextlib.suppress(Exception):
        ctx.wait_for_callback(_refuse, name="refused", config=no)
    with contextlib.suppress(Exception):
        ctx.wait_for_callback(lambda callback_id, c: None, name="rejected")
    return "both failed"


async def our_failing_callbacks_async(event: Any, ctx: Any) -> Any:
    no = WaitForCallbackConfig[Any](retry=no_retry)
    with contextlib.suppress(Exception):
        await ctx.wait_for_callback(_refuse, name="refused", config=no)
    with contextlib.suppress(Exception):
        await ctx.wait_for_callback(lambda callback_id, c: None, name="rejected")
    return "both failed"


CASES = [
    pytest.param(
        aws_failing_callbacks,
        our_failing_callbacks,
        our_failing_callbacks_async,
        fail_callback,
        id="wait-for-callback-failures",
    ),
    pytest.param(
        invoke_then_callback,
        invoke_then_callback,
        invoke_then_callback_async,
        finish_invoke_or_answer,
        id="invoke-and-callback",
    ),
    pytest.param(
        _big_map(AwsMapConfig(max_concurrency=1), _aws_wait),
        _big_map(MapConfig(max_concurrency=1), lambda c, name: c.wait(1, name=name)),
        our_big_map_async,
        fire_timers,
        id="map-replay-children",
    ),
    pytest.param(
        lambda event, ctx: ctx.step(_flaky, name="flaky", config=AWS_RETRY_ONCE),
        lambda event, ctx: ctx.step(_flaky, name="flaky", config=OUR_RETRY_ONCE),
        our_retry_async,
        fire_timers,
        id="step-retry",
    ),
    pytest.param(
        aws_flat_parallel, our_flat_parallel, our_flat_parallel_async, fire_timers, id="flat"
    ),
    pytest.param(aws_parallel, our_parallel, our_parallel_async, fire_timers, id="parallel"),
    pytest.param(aws_map, our_map, our_map_async, fire_timers, id="map"),
    pytest.param(
        _nested(_aws_wait),
        _nested(lambda c, name: c.wait(1, name=name)),
        our_nested_async,
        fire_timers,
        id="nested-child",
    ),
    pytest.param(
        _replay_children(lambda c, name: _aws_wait(c, name), AwsChildConfig()),
        _replay_children(lambda c, name: c.wait(1, name=name), ChildConfig()),
        our_replay_children_async,
        fire_timers,
        id="replay-children",
    ),
    pytest.param(
        aws_wait_for_callback,
        our_wait_for_callback,
        our_wait_for_callback_async,
        answer_callback,
        id="wait-for-callback",
    ),
    pytest.param(
        aws_wait_for_condition,
        our_wait_for_condition,
        our_wait_for_condition_async,
        fire_timers,
        id="wait-for-condition",
    ),
]


@pytest.mark.parametrize(("aws", "ours", "ours_async", "between"), CASES)
def test_hook_streams_equal_aws(
    aws: Handler, ours: Handler, ours_async: Handler, between: Between
) -> None:
    assert_same_hooks(aws, ours, ours_async, between)


# -- a branch resumed in the invocation that started it --------------------------------


class TimersFireDuringCalls(MemoryBackend):
    """A service whose timers fire while the function runs: every checkpoint answer also
    carries the operations that changed meanwhile, as the real service's answers do."""

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        fired = [change.after for change in self.fire_timers(args[0])]
        response = super().checkpoint(*args, **kwargs)
        return type(response)(response.checkpoint_token, [*fired, *response.operations])


def _resumed_in_invocation(config: Any, wait: Callable[[Any], None], hold: float) -> Handler:
    """Branch 0 waits 1 s; branch 1 works until that wait has started, then ``hold`` s
    more (AWS's SDK resumes a wait in the invocation only while a sibling still runs)."""
    backend_of: dict[str, Any] = {}

    def waiter(c: Any) -> str:
        wait(c)
        return "waited"

    def after_the_wait_started(_: Any) -> None:
        backend = backend_of["backend"]
        deadline = time.monotonic() + 5
        while not any(op.name == "short" for op in backend.operations(backend_of["arn"])):
            assert time.monotonic() < deadline, "the wait never started"
            time.sleep(0.001)
        time.sleep(hold)

    def worker(c: Any) -> str:
        c.step(after_the_wait_started, name="work-1")
        return str(c.step(lambda _: "worked", name="work-2"))

    def workflow(event: Any, ctx: Any) -> Any:
        return ctx.parallel([waiter, worker], name="fan", config=config).get_results()

    workflow.backend_of = backend_of  # type: ignore[attr-defined]
    return workflow


def _by_operation(hooks: list[Hook]) -> dict[str, list[Hook]]:
    grouped: dict[str, list[Hook]] = {}
    for hook in hooks:
        key = (
            hook[1] if hook[0] not in ("invocation-start", "invocation-end", "changes") else hook[0]
        )
        grouped.setdefault(key, []).append(hook)
    return grouped


def test_a_branch_resumed_in_the_same_invocation_is_not_replayed() -> None:
    """The branch is started once (not replayed) and its body runs again (attempt None)."""
    streams = []
    for workflow, hooks_of in (
        (
            _resumed_in_invocation(
                AwsParallelConfig(max_concurrency=2),
                lambda c: c.wait(Duration.from_seconds(1), name="short"),
                hold=1.3,
            ),
            aws_hooks,
        ),
        (
            _resumed_in_invocation(
                ParallelConfig(max_concurrency=2), lambda c: c.wait(1, name="short"), hold=0
            ),
            our_hooks,
        ),
    ):
        backend = TimersFireDuringCalls()
        arn = backend.start_execution(None)["DurableExecutionArn"]
        workflow.backend_of.update(backend=backend, arn=arn)  # type: ignore[attr-defined]
        hooks, run = hooks_of(workflow, fire_timers, Run(backend, arn))
        assert run.responses == [{"Status": "SUCCEEDED", "Result": '["waited", "worked"]'}]
        streams.append(hooks)
    expected, actual = streams
    assert sorted(map(repr, actual)) == sorted(map(repr, expected))
    assert _by_operation(actual) == _by_operation(expected)
    branch = next(h[1] for h in expected if h[4:5] == ("parallel-branch-0",))
    assert [h[0] for h in _by_operation(expected)[branch]] == [
        "operation-start",
        "function-start",
        "function-end",  # suspended in its wait
        "function-start",  # resumed: run again, not started again
        "function-end",
        "operation-end",
    ]


# -- branches running at the same time ---------------------------------------------------


def _concurrent(parallel_config: Any, map_config: Any, wait: Callable[[Any, str], None]) -> Handler:
    def workflow(event: Any, ctx: Any) -> Any:
        def branch(i: int) -> Callable[[Any], Any]:
            def body(c: Any) -> Any:
                value = c.step(lambda _: i, name=f"s{i}")
                wait(c, f"w{i}")
                return value

            return body

        fanned = ctx.parallel([branch(i) for i in range(3)], name="fan", config=parallel_config)
        mapped = ctx.map(
            [1, 2, 3],
            lambda c, x, i, xs: c.step(lambda _: x * 2, name="double"),
            name="m",
            config=map_config,
        )
        return [fanned.get_results(), mapped.get_results()]

    return workflow


async def our_concurrent_async(event: Any, ctx: Any) -> Any:
    def branch(i: int) -> Callable[[Any], Any]:
        async def body(c: Any) -> Any:
            value = await c.step(lambda _: i, name=f"s{i}")
            await c.wait(1, name=f"w{i}")
            return value

        return body

    async def double(c: Any, x: int, i: int, xs: Any) -> Any:
        return await c.step(lambda _: x * 2, name="double")

    fanned = await ctx.parallel([branch(i) for i in range(3)], name="fan")
    mapped = await ctx.map([1, 2, 3], double, name="m")
    return [fanned.get_results(), mapped.get_results()]


def test_concurrent_branches_report_as_aws_per_operation() -> None:
    """Branches run at once: the order between them is the scheduler's, so the streams
    are compared per operation (each in order) and as a whole (as multisets)."""
    expected, aws_run = aws_hooks(
        _concurrent(AwsParallelConfig(), AwsMapConfig(), _aws_wait), fire_timers
    )
    for workflow in (
        _concurrent(ParallelConfig(), MapConfig(), lambda c, name: c.wait(1, name=name)),
        our_concurrent_async,
    ):
        actual, our_run = our_hooks(workflow, fire_timers)
        assert our_run.responses == aws_run.responses
        assert _by_operation(actual) == _by_operation(expected)
        assert sorted(map(repr, actual)) == sorted(map(repr, expected))
