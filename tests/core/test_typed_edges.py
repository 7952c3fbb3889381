"""Typed results at the edges: what outside systems send is read into the declared type.

A callback is answered by whatever system holds its id, with plain JSON
(SendDurableExecutionCallbackSuccess's ``Result``), and an invoked function returns
plain JSON (what Lambda returns); neither is AWS's typed envelope. With
``TypedSerDes(Order)`` both come back as ``Order``, sync and async, on the first run
and on replay. Parallel branches declared to return models come back as models, as
map items do.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from aws_durable_execution_sdk_python.serdes import ExtendedTypeSerDes
from durable_closure import run
from durable_core import (
    CallbackConfig,
    DurableContext,
    InvokeConfig,
    SerDesError,
    TypedSerDes,
    WaitForCallbackConfig,
)
from durable_core.aio import AsyncDurableContext
from durable_core.types import OperationStatus, OperationType

from tests.driver import start

from .conftest import drive


class Order(pydantic.BaseModel):
    id: int
    total: Decimal


@dataclasses.dataclass
class Parcel:
    tracking: str


# What an external system posts, and what an invoked function returns: plain JSON.
PLAIN = '{"id": 2, "total": "3.50"}'


def _describe(order: Order) -> dict[str, Any]:
    return {"type": type(order).__name__, "id": order.id, "total": str(order.total)}


def _sync_callback(event: Any, ctx: DurableContext) -> dict[str, Any]:
    callback = ctx.create_callback("approval", CallbackConfig(serdes=TypedSerDes(Order)))
    order = callback.result()
    ctx.wait(1)  # the next invocation replays the callback's answer
    return _describe(order)


async def _async_callback(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    callback = await ctx.create_callback("approval", CallbackConfig(serdes=TypedSerDes(Order)))
    order = await callback.result()
    await ctx.wait(1)
    return _describe(order)


def _sync_wait_for_callback(event: Any, ctx: DurableContext) -> dict[str, Any]:
    config = WaitForCallbackConfig(serdes=TypedSerDes(Order))
    order = ctx.wait_for_callback(lambda callback_id, step: None, "approval", config)
    ctx.wait(1)  # the next invocation replays the completed wait_for_callback
    return _describe(order)


async def _async_wait_for_callback(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    config = WaitForCallbackConfig(serdes=TypedSerDes(Order))
    order = await ctx.wait_for_callback(lambda callback_id, step: None, "approval", config)
    await ctx.wait(1)
    return _describe(order)


@pytest.mark.parametrize(
    "handler",
    [_sync_callback, _async_callback, _sync_wait_for_callback, _async_wait_for_callback],
    ids=["callback-sync", "callback-async", "wait_for_callback-sync", "wait_for_callback-async"],
)
def test_a_callback_answered_with_plain_json_reads_as_the_model(handler: Any) -> None:
    execution = start(run(handler))
    assert execution.invoke()["Status"] == "PENDING"
    execution.complete(
        execution.only(OperationType.CALLBACK), OperationStatus.SUCCEEDED, result=PLAIN
    )
    assert execution.invoke()["Status"] == "PENDING"  # the wait
    execution.fire_timers()
    final = execution.invoke()
    assert final["Status"] == "SUCCEEDED", final
    assert json.loads(final["Result"]) == {"type": "Order", "id": 2, "total": "3.50"}


def _sync_invoke(event: Any, ctx: DurableContext) -> dict[str, Any]:
    order = ctx.invoke("pricing", {"id": 2}, config=InvokeConfig(result_serdes=TypedSerDes(Order)))
    return _describe(order)


async def _async_invoke(event: Any, ctx: AsyncDurableContext) -> dict[str, Any]:
    config = InvokeConfig[Any, Order](result_serdes=TypedSerDes(Order))
    return _describe(await ctx.invoke("pricing", {"id": 2}, config=config))


@pytest.mark.parametrize("handler", [_sync_invoke, _async_invoke], ids=["sync", "async"])
def test_an_invoked_functions_plain_json_result_reads_as_the_model(handler: Any) -> None:
    execution = start(run(handler))
    assert execution.invoke()["Status"] == "PENDING"
    execution.complete(
        execution.only(OperationType.CHAINED_INVOKE), OperationStatus.SUCCEEDED, result=PLAIN
    )
    final = execution.invoke()
    assert final["Status"] == "SUCCEEDED", final
    assert json.loads(final["Result"]) == {"type": "Order", "id": 2, "total": "3.50"}


def test_what_aws_sdk_writes_still_reads_as_the_model() -> None:
    # AWS's SDK checkpoints a dict in its envelope ({"t": "m", "v": {...}}).
    enveloped = ExtendedTypeSerDes().serialize({"id": 2, "total": "3.50"})
    assert json.loads(enveloped)["t"] == "m"
    assert TypedSerDes(Order).deserialize(enveloped) == Order(id=2, total=Decimal("3.50"))


def test_plain_json_shaped_like_an_envelope_is_still_plain_data() -> None:
    @dataclasses.dataclass
    class Pair:
        t: str
        v: int

    assert TypedSerDes(Pair).deserialize('{"t": "s", "v": 5}') == Pair("s", 5)


def test_plain_json_that_is_not_the_model_is_a_serdes_error() -> None:
    with pytest.raises(SerDesError, match="not a valid Order"):
        TypedSerDes(Order).deserialize('{"id": "two"}')


def _order_branch(c: DurableContext) -> Order:
    return Order(id=1, total=Decimal("1.50"))


def _parcel_branch(c: DurableContext) -> Parcel:
    return Parcel("1Z")


async def _async_order_branch(c: AsyncDurableContext) -> Order:
    return Order(id=1, total=Decimal("1.50"))


async def _async_parcel_branch(c: AsyncDurableContext) -> Parcel:
    return Parcel("1Z")


def _sync_parallel(event: Any, ctx: DurableContext) -> list[str]:
    same = ctx.parallel([_order_branch, _order_branch]).get_results()
    mixed = ctx.parallel([_order_branch, _parcel_branch]).get_results()
    ctx.wait(1)  # the next invocation reads both batches back from their checkpoints
    return [type(value).__name__ for value in (*same, *mixed)]


async def _async_parallel(event: Any, ctx: AsyncDurableContext) -> list[str]:
    same = (await ctx.parallel([_async_order_branch, _async_order_branch])).get_results()
    mixed = (await ctx.parallel([_async_order_branch, _async_parcel_branch])).get_results()
    await ctx.wait(1)
    return [type(value).__name__ for value in (*same, *mixed)]


@pytest.mark.parametrize("handler", [_sync_parallel, _async_parallel], ids=["sync", "async"])
def test_parallel_branches_declared_to_return_models_give_models(handler: Any) -> None:
    driven = drive(run(handler))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert json.loads(driven.final["Result"]) == ["Order", "Order", "Order", "Parcel"]
