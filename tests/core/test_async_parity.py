"""One workflow written sync and ``async def``: the same checkpoints, call by call.

Both run on the same engine (the operation flows of ``durable_core.operations``), so
with ``max_concurrency=1`` nothing about the async driver may show on the wire: every
CheckpointDurableExecution call carries the same updates, in the same order, across
every invocation until the execution completes, and the results are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    ExecutionOptions,
    MemoryBackend,
    RetryPolicy,
    StepConfig,
    StepContext,
    WaitForConditionConfig,
    condition,
    fixed_wait,
    use_backend,
)
from durable_core.aio import AsyncDurableContext
from durable_core.batch import MapConfig, ParallelConfig
from durable_core.execution import LambdaHandler
from durable_core.retries import Jitter
from durable_core.types import OperationStatus, OperationType

# No jitter: the RETRY's delay is part of the stream compared.
RETRY = StepConfig[str](
    retry=RetryPolicy(max_attempts=3, initial_delay_seconds=2, jitter=Jitter.NONE)
)
ONE_AT_A_TIME = ParallelConfig[int](max_concurrency=1)
POLL = WaitForConditionConfig(
    wait_strategy=condition(lambda n: n < 3, fixed_wait(2)), initial_state=0
)


def flaky(step: StepContext) -> str:
    if step.attempt == 1:
        raise RuntimeError("first attempt fails")
    return f"ok on attempt {step.attempt}"


def sync_workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    order = ctx.step(lambda s: {"id": event["order"], "items": [3, 4, 5]}, name="load")
    retried = ctx.step(flaky, name="flaky", config=RETRY)
    ctx.wait(2, name="cool-off")

    def pack(c: DurableContext) -> str:
        box = c.step(lambda s: f"box-{order['id']}", name="box")
        return c.step(lambda s: f"{box}:taped", name="tape")

    packed = ctx.run_in_child_context(pack, name="packing")

    def branch(i: int) -> Callable[[DurableContext], int]:
        def body(c: DurableContext) -> int:
            value = c.step(lambda s: i * 10, name=f"branch-step-{i}")
            if i == 1:
                c.wait(3, name="branch-wait")
            return value

        return body

    fanned = ctx.parallel([branch(i) for i in range(3)], name="fan-out", config=ONE_AT_A_TIME)

    def price(c: DurableContext, item: int, index: int, items: Sequence[int]) -> int:
        return c.step(lambda s: item * 100 + index, name=f"price-{index}")

    priced = ctx.map(order["items"], price, name="prices", config=MapConfig(max_concurrency=1))
    callback = ctx.create_callback(name="approval")
    approval = callback.result()
    answered = ctx.wait_for_callback(lambda callback_id, s: None, name="review")
    invoked = ctx.invoke("billing", {"order": order["id"]}, name="bill")
    polled = ctx.wait_for_condition(lambda n, s: n + 1, POLL, name="poll")
    return {
        "order": order,
        "retried": retried,
        "packed": packed,
        "fanned": fanned.get_results(),
        "priced": priced.get_results(),
        "approval": approval,
        "answered": answered,
        "invoked": invoked,
        "polled": polled,
    }


async def async_workflow(event: dict[str, Any], ctx: AsyncDurableContext) -> dict[str, Any]:
    async def load(s: StepContext) -> dict[str, Any]:
        return {"id": event["order"], "items": [3, 4, 5]}

    order = await ctx.step(load, name="load")
    retried = await ctx.step(flaky, name="flaky", config=RETRY)  # a sync body, too
    await ctx.wait(2, name="cool-off")

    async def pack(c: AsyncDurableContext) -> str:
        async def box_body(s: StepContext) -> str:
            return f"box-{order['id']}"

        box = await c.step(box_body, name="box")
        return await c.step(lambda s: f"{box}:taped", name="tape")

    packed = await ctx.run_in_child_context(pack, name="packing")

    def branch(i: int) -> Callable[[AsyncDurableContext], Any]:
        async def body(c: AsyncDurableContext) -> int:
            async def value_of(s: StepContext) -> int:
                return i * 10

            value = await c.step(value_of, name=f"branch-step-{i}")
            if i == 1:
                await c.wait(3, name="branch-wait")
            return value

        return body

    fanned = await ctx.parallel([branch(i) for i in range(3)], name="fan-out", config=ONE_AT_A_TIME)

    async def price(c: AsyncDurableContext, item: int, index: int, items: Sequence[int]) -> int:
        return await c.step(lambda s: item * 100 + index, name=f"price-{index}")

    priced = await ctx.map(
        order["items"], price, name="prices", config=MapConfig(max_concurrency=1)
    )
    callback = await ctx.create_callback(name="approval")
    approval = await callback.result()

    async def submit(callback_id: str, s: StepContext) -> None:
        return None

    answered = await ctx.wait_for_callback(submit, name="review")
    invoked = await ctx.invoke("billing", {"order": order["id"]}, name="bill")

    async def poll(n: int, s: StepContext) -> int:
        return n + 1

    polled = await ctx.wait_for_condition(poll, POLL, name="poll")
    return {
        "order": order,
        "retried": retried,
        "packed": packed,
        "fanned": fanned.get_results(),
        "priced": priced.get_results(),
        "approval": approval,
        "answered": answered,
        "invoked": invoked,
        "polled": polled,
    }


def play_service(handler: LambdaHandler) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """Invoke until done, answering open callbacks and invokes, else firing timers.

    Returns every checkpoint call's updates (canonical JSON) and every response.
    """
    backend = MemoryBackend()
    event = backend.start_execution({"order": 7})
    arn = event["DurableExecutionArn"]
    responses: list[dict[str, Any]] = []
    for _ in range(40):
        with use_backend(backend):
            responses.append(handler(backend.invocation_event(arn), None))
        if responses[-1]["Status"] != "PENDING":
            calls = [
                [json.dumps(u.to_wire(), sort_keys=True) for u in call.updates]
                for call in backend.calls
            ]
            return calls, responses
        waiting = [
            op
            for op in backend.operations(arn)
            if op.type in (OperationType.CALLBACK, OperationType.CHAINED_INVOKE)
            and op.status is OperationStatus.STARTED
        ]
        for op in sorted(waiting, key=lambda op: op.id):
            answer = json.dumps(f"{op.name} answered")
            backend.complete(arn, op.id, OperationStatus.SUCCEEDED, result=answer)
        if not waiting:
            assert backend.fire_timers(arn), "PENDING with nothing to wait for"
    raise AssertionError("execution did not finish")


EXPECTED = {
    "order": {"id": 7, "items": [3, 4, 5]},
    "retried": "ok on attempt 2",
    "packed": "box-7:taped",
    "fanned": [0, 10, 20],
    "priced": [300, 401, 502],
    "approval": '"approval answered"',  # no serdes: the payload as sent (AWS's pass-through)
    "answered": '"review create callback id answered"',
    "invoked": "bill answered",
    "polled": 3,
}


@pytest.mark.parametrize("batch", [False, True], ids=["per-operation", "batched"])
def test_sync_and_async_workflows_checkpoint_identically_call_by_call(batch: bool) -> None:
    options = ExecutionOptions(batch_checkpoints=batch)
    sync_calls, sync_responses = play_service(run(sync_workflow, options=options))
    async_calls, async_responses = play_service(run(async_workflow, options=options))

    assert sync_responses[-1]["Status"] == "SUCCEEDED"
    assert json.loads(sync_responses[-1]["Result"]) == EXPECTED
    assert async_responses == sync_responses
    assert async_calls == sync_calls


def test_each_replay_of_the_async_workflow_matches_the_sync_one() -> None:
    # The invocations themselves line up: PENDING at the same points (retry, wait,
    # branch wait, callbacks, invoke, polls), so each replay re-reads the same log.
    _, responses = play_service(run(async_workflow))
    statuses = [r["Status"] for r in responses]
    # retry, cool-off, branch-wait, approval, review, bill, two polls → 8 suspensions.
    assert statuses == ["PENDING"] * 8 + ["SUCCEEDED"]


def test_concurrent_branches_send_the_same_updates_in_some_order() -> None:
    # With branches in flight together, the order of their updates is up to the
    # scheduler (threads or tasks); the updates themselves are not.
    concurrent = ParallelConfig[int](max_concurrency=3)

    def sync_fan(event: Any, ctx: DurableContext) -> list[int]:
        def branch(i: int) -> Callable[[DurableContext], int]:
            return lambda c: c.step(lambda s: i, name=f"b{i}") + c.step(lambda s: i, name="again")

        return ctx.parallel([branch(i) for i in range(4)], config=concurrent).get_results()

    async def async_fan(event: Any, ctx: AsyncDurableContext) -> list[int]:
        def branch(i: int) -> Callable[[AsyncDurableContext], Any]:
            async def body(c: AsyncDurableContext) -> int:
                return await c.step(lambda s: i, name=f"b{i}") + await c.step(
                    lambda s: i, name="again"
                )

            return body

        result = await ctx.parallel([branch(i) for i in range(4)], config=concurrent)
        return result.get_results()

    sync_calls, sync_responses = play_service(run(sync_fan))
    async_calls, async_responses = play_service(run(async_fan))
    assert json.loads(sync_responses[-1]["Result"]) == [0, 2, 4, 6]
    assert async_responses == sync_responses
    assert sorted(u for call in async_calls for u in call) == sorted(
        u for call in sync_calls for u in call
    )
