"""``MockDurableContext``: a workflow's logic tested with no service, outcomes pre-loaded.

Written as a user would: a workflow, outcomes by name or position, one run, assertions.
What a replayed operation returns is checked against what the same workflow gets from
the engine on a real replay (``DurableTestRunner``), not against the kit's own encoding.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from durable_closure import run
from durable_core import (
    CallbackConfig,
    CallbackExternalError,
    DurableContext,
    InvokeError,
    RetryPolicy,
    StepConfig,
    StepContext,
    StepError,
    TypedSerDes,
    WaitForCallbackConfig,
    no_retry,
)
from durable_core.aio import AsyncDurableContext
from durable_testing import (
    DurableTestRunner,
    MockDurableContext,
    assert_attempts,
    assert_checkpoint_count,
    assert_no_checkpoints,
    assert_nothing_executed,
    assert_operation_names,
    assert_operations,
)

bodies: Counter[str] = Counter()


class Order(pydantic.BaseModel):
    id: int
    total: Decimal


class PaymentError(Exception):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} declined")
        self.order_id = order_id


def validate(step: StepContext) -> bool:
    bodies["validate"] += 1
    return True


def fetch(step: StepContext) -> Order:
    bodies["fetch"] += 1
    return Order(id=1, total=Decimal("9.99"))


def charge(step: StepContext) -> str:
    bodies["charge"] += 1
    return "receipt-live"


def process_order(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    valid = ctx.step(validate, name="validate")
    order = ctx.step(fetch, name="fetch")
    approval = ctx.create_callback("approval", CallbackConfig(serdes=TypedSerDes(Order)))
    approved = approval.result()
    ctx.wait(3600, name="cool-off")
    price = ctx.invoke("pricing", {"id": order.id}, name="price")
    receipt = ctx.step(charge, name="charge")
    return {
        "valid": valid,
        "order": type(order).__name__,
        "approved_total": str(approved.total),
        "price": price,
        "receipt": receipt,
    }


def everything_preloaded() -> MockDurableContext:
    return (
        MockDurableContext()
        .with_step("validate", result=True)
        .with_step("fetch", result=Order(id=7, total=Decimal("3.50")))
        .with_callback("approval", result={"id": 7, "total": "3.50"})
        .with_wait("cool-off")
        .with_invoke("price", result={"amount": 350})
        .with_step("charge", result="receipt-7")
    )


def test_a_fully_preloaded_workflow_replays_without_running_anything() -> None:
    bodies.clear()
    mock_run = everything_preloaded().run(process_order, {"order_id": 7})
    assert mock_run.status == "SUCCEEDED"
    assert mock_run.result == {
        "valid": True,
        "order": "Order",
        "approved_total": "3.50",
        "price": {"amount": 350},
        "receipt": "receipt-7",
    }
    assert bodies == Counter()
    assert_nothing_executed(mock_run)
    assert_operations(
        mock_run,
        [
            ("STEP", "validate"),
            ("STEP", "fetch"),
            ("CALLBACK", "approval"),
            ("WAIT", "cool-off"),
            ("CHAINED_INVOKE", "price"),
            ("STEP", "charge"),
        ],
    )


def test_what_is_not_preloaded_runs_and_a_wait_suspends() -> None:
    bodies.clear()
    mock_run = (
        MockDurableContext()
        .with_step("fetch", result=Order(id=7, total=Decimal("3.50")))
        .with_callback("approval", result='{"id": 7, "total": "3.50"}')
        .run(process_order)
    )
    assert mock_run.status == "PENDING"  # the cool-off wait was not preloaded
    assert bodies == Counter({"validate": 1})
    assert_operation_names(mock_run, ["validate", "fetch", "approval", "cool-off"])
    assert [op.replayed for op in mock_run.operations] == [False, True, True, False]
    # validate's result, and the wait's START before suspending.
    assert_checkpoint_count(mock_run, 2)


def test_unnamed_outcomes_answer_operations_of_their_kind_in_order() -> None:
    def three_steps(event: Any, ctx: DurableContext) -> list[int]:
        return [ctx.step(lambda _: 0, name=name) for name in ("a", "b", "c")]

    mock_run = (
        MockDurableContext()
        .with_step(result=1)
        .with_step("b", result=20)  # a named outcome wins over the positional ones
        .with_step(result=3)
        .run(three_steps)
    )
    assert mock_run.result == [1, 20, 3]
    assert_no_checkpoints(mock_run)


def test_a_preloaded_failure_raises_the_operations_own_error() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[str]:
        seen = []
        try:
            ctx.step(charge, name="charge", config=StepConfig(retry=no_retry))
        except StepError as exc:
            seen.append(f"StepError {exc.error_type}")
        try:
            ctx.step(
                charge,
                name="charge-typed",
                config=StepConfig(retry=no_retry, error_types=(PaymentError,)),
            )
        except PaymentError as exc:
            seen.append(f"PaymentError {exc.order_id}")
        try:
            ctx.create_callback("approval").result()
        except CallbackExternalError as exc:
            seen.append(f"CallbackExternalError {exc.message}")
        try:
            ctx.invoke("pricing", {}, name="price")
        except InvokeError as exc:
            seen.append(f"InvokeError {exc.message}")
        return seen

    mock_run = (
        MockDurableContext()
        .with_step("charge", error=PaymentError(7))
        .with_step("charge-typed", error=PaymentError(8))
        .with_callback("approval", error=RuntimeError("rejected by a human"))
        .with_invoke("price", error=LookupError("no price"))
        .run(wf)
    )
    assert mock_run.result == [
        f"StepError {__name__}.PaymentError",
        "PaymentError 8",
        "CallbackExternalError rejected by a human",
        "InvokeError no price",
    ]


def test_an_error_escaping_the_workflow_is_kept_with_its_record() -> None:
    def wf(event: Any, ctx: DurableContext) -> None:
        ctx.step(charge, name="charge", config=StepConfig(error_types=(PaymentError,)))

    mock_run = MockDurableContext().with_step("charge", error=PaymentError(9)).run(wf)
    assert mock_run.status == "FAILED"
    assert isinstance(mock_run.error, PaymentError) and mock_run.error.order_id == 9
    assert mock_run.error_object is not None
    assert mock_run.error_object.error_type == f"{__name__}.PaymentError"


def test_wait_for_callback_is_answered_by_its_name() -> None:
    submitted: list[str] = []

    def wf(event: Any, ctx: DurableContext) -> str:
        order = ctx.wait_for_callback(
            lambda callback_id, step: submitted.append(callback_id),
            "approval",
            WaitForCallbackConfig(serdes=TypedSerDes(Order)),
        )
        return str(order.total)

    mock_run = (
        MockDurableContext().with_callback("approval", result={"id": 1, "total": "2"}).run(wf)
    )
    assert mock_run.status == "SUCCEEDED", mock_run.error_object
    assert mock_run.result == "2"
    assert len(submitted) == 1  # the submitter step was not preloaded: it ran


async def async_flow(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    order = await ctx.step(fetch, name="fetch")
    await ctx.wait(60, name="pause")
    return {"order": type(order).__name__, "total": str(order.total)}


def test_async_workflows_run_the_same_way() -> None:
    bodies.clear()
    mock_run = (
        MockDurableContext()
        .with_step("fetch", result=Order(id=2, total=Decimal("1.25")))
        .with_wait("pause")
        .run(async_flow)
    )
    assert mock_run.result == {"order": "Order", "total": "1.25"}
    assert_nothing_executed(mock_run)


def make_order(step: StepContext) -> Order:
    return Order(id=4, total=Decimal("8.25"))


def make_data(step: StepContext) -> dict[str, Any]:
    return {"when": dt.date(2026, 1, 2), "amount": Decimal("1.5"), "pair": (1, "b")}


def replayed_values(event: Any, ctx: DurableContext) -> list[str]:
    order = ctx.step(make_order, name="order")
    data = ctx.step(make_data, name="data")
    ctx.wait(60, name="tick")  # on the local service, the values below come from a replay
    return [repr(order), repr(data)]


def test_a_preloaded_value_reads_back_as_a_real_replay_reads_it() -> None:
    # The oracle: the engine replaying what it checkpointed, on the local service.
    replayed = DurableTestRunner(run(replayed_values)).run().result
    mock_run = (
        MockDurableContext()
        .with_step("order", result=make_order(None))  # type: ignore[arg-type]
        .with_step("data", result=make_data(None))  # type: ignore[arg-type]
        .with_wait("tick")
        .run(replayed_values)
    )
    assert mock_run.result == replayed


def test_assertions_say_what_differs() -> None:
    mock_run = (
        MockDurableContext()
        .with_step("a", result=1)
        .run(lambda event, ctx: ctx.step(lambda _: 0, name="a"))
    )
    with pytest.raises(AssertionError, match=r"expected operation names \['b'\], got \['a'\]"):
        assert_operation_names(mock_run, ["b"])
    with pytest.raises(AssertionError, match="expected 1 checkpoint calls, got 0"):
        assert_checkpoint_count(mock_run, 1)
    executed = MockDurableContext().run(lambda event, ctx: ctx.step(lambda _: 0, name="a"))
    with pytest.raises(AssertionError, match=r"executed instead of replayed: \[\('STEP', 'a'\)\]"):
        assert_nothing_executed(executed)


def test_operation_and_attempt_assertions_read_a_runner_result_too() -> None:
    tries: Counter[str] = Counter()

    def flaky(step: StepContext) -> int:
        tries["flaky"] += 1
        if tries["flaky"] < 3:
            raise RuntimeError("not yet")
        return tries["flaky"]

    def wf(event: Any, ctx: DurableContext) -> int:
        retry = RetryPolicy(max_attempts=5, initial_delay_seconds=1)
        value = ctx.step(flaky, name="flaky", config=StepConfig(retry=retry))
        ctx.wait(1, name="rest")
        return value

    result = DurableTestRunner(run(wf)).run()
    assert result.status == "SUCCEEDED"
    assert_operations(result, [("STEP", "flaky"), ("WAIT", "rest")])
    assert_attempts(result, "flaky", 3)
    mock_run = MockDurableContext().with_step("flaky", result=3, attempts=3).run(wf)
    assert_attempts(mock_run, "flaky", 3)


def test_unnamed_step_outcomes_skip_the_submitter_of_wait_for_callback() -> None:
    def wf(event: Any, ctx: DurableContext) -> list[Any]:
        answer = ctx.wait_for_callback(lambda callback_id, step: None, "approval")
        return [answer, ctx.step(lambda _: "live", name="after")]

    mock_run = (
        MockDurableContext().with_callback(result="yes").with_step(result="preloaded").run(wf)
    )
    assert mock_run.result == ["yes", "preloaded"]
