"""Typed results: declared pydantic models and dataclasses come back as themselves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pydantic
from aws_durable_execution_sdk_python.serdes import ExtendedTypeSerDes
from durable_closure import run
from durable_core import DurableContext, SerDesError, StepConfig, StepContext
from durable_core.typed import TypedSerDes, inferred_serdes

from .conftest import drive


class Order(pydantic.BaseModel):
    id: int
    total: float
    placed: dt.date


@dataclasses.dataclass
class Label:
    tracking: str
    weight_kg: float


def fetch_order(step: StepContext) -> Order:
    return Order(id=7, total=12.5, placed=dt.date(2026, 11, 27))


def make_label(ctx: DurableContext) -> Label:
    return ctx.step(
        lambda s: Label("1Z99", 2.5), name="label", config=StepConfig(serdes=TypedSerDes(Label))
    )


def test_models_and_dataclasses_come_back_typed_on_first_run_and_replay() -> None:
    seen: list[tuple[Any, Any, Any]] = []

    def wf(event: Any, ctx: DurableContext) -> dict[str, Any]:
        order = ctx.step(fetch_order, name="fetch")
        label = ctx.run_in_child_context(make_label, name="ship")
        orders = ctx.step(_two_orders, name="many")
        seen.append((order, label, orders))
        ctx.wait(1)
        return {"order": order.id, "tracking": label.tracking, "count": len(orders)}

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == {"order": 7, "tracking": "1Z99", "count": 2}
    assert len(seen) == 2  # the first run and the replay after the wait
    for order, label, orders in seen:
        assert order == Order(id=7, total=12.5, placed=dt.date(2026, 11, 27))
        assert isinstance(label, Label) and label == Label("1Z99", 2.5)
        assert all(isinstance(o, Order) for o in orders)


def _two_orders(step: StepContext) -> list[Order]:
    return [
        Order(id=1, total=1.0, placed=dt.date(2026, 1, 1)),
        Order(id=2, total=2.0, placed=dt.date(2026, 1, 2)),
    ]


def test_the_payload_is_plain_json_data_that_aws_sdk_reads() -> None:
    payload = TypedSerDes(Order).serialize(Order(id=7, total=12.5, placed=dt.date(2026, 11, 27)))
    assert ExtendedTypeSerDes().deserialize(payload) == {
        "id": 7,
        "total": 12.5,
        "placed": "2026-11-27",
    }


def test_inference_reads_the_return_annotation_only_when_it_needs_validation() -> None:
    def plain(step: StepContext) -> dict[str, int]:
        return {}

    assert inferred_serdes(fetch_order) is not None
    assert inferred_serdes(_two_orders) is not None
    assert inferred_serdes(plain) is None
    assert inferred_serdes(lambda s: 1) is None


def test_a_recorded_value_that_is_not_a_valid_model_is_a_serdes_error() -> None:
    serdes = TypedSerDes(Order)
    try:
        serdes.deserialize('{"t":"m","v":{"id":{"t":"s","v":"x"}}}')
    except SerDesError as exc:
        assert "Order" in exc.message
    else:
        raise AssertionError("an invalid Order was accepted")


def price(ctx: DurableContext, item: int, index: int, items: Any) -> Order:
    return ctx.step(
        lambda s: Order(id=item, total=item * 1.5, placed=dt.date(2026, 1, item)),
        name="price",
        config=StepConfig(serdes=TypedSerDes(Order)),
    )


def test_map_items_declared_as_models_come_back_typed_and_aws_reads_the_batch() -> None:
    seen: list[list[Any]] = []

    def wf(event: Any, ctx: DurableContext) -> list[float]:
        orders = ctx.map([1, 2, 3], price, name="prices").get_results()
        seen.append(orders)
        ctx.wait(1)
        return [o.total for o in orders]

    driven = drive(run(wf))
    assert json.loads(driven.final["Result"]) == [1.5, 3.0, 4.5]
    assert len(seen) == 2  # first run, then the replay of the recorded batch
    for orders in seen:
        assert all(isinstance(o, Order) for o in orders)
        assert [o.placed for o in orders] == [dt.date(2026, 1, d) for d in (1, 2, 3)]
    recorded = driven.by_name("prices").result
    assert recorded is not None
    batch = ExtendedTypeSerDes().deserialize(recorded)
    assert [item.result for item in batch.all] == [
        {"id": d, "total": d * 1.5, "placed": f"2026-01-0{d}"} for d in (1, 2, 3)
    ]
