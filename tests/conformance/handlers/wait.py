"""Handlers of the wait suite (2-x), written from each requirement's prose."""

from __future__ import annotations

import datetime as dt

from durable_closure import run
from durable_core import DurableContext, LambdaHandler

HANDLERS: dict[str, LambdaHandler] = {}


def wait_basic(event: None, ctx: DurableContext) -> None:
    ctx.wait(2)


def wait_named(event: None, ctx: DurableContext) -> None:
    ctx.wait(2, name="custom_wait_name")


def sequential_waits(event: None, ctx: DurableContext) -> dict[str, int]:
    ctx.wait(2, name="wait-1")
    ctx.wait(2, name="wait-2")
    return {"completedWaits": 2}


def wait_minutes(event: None, ctx: DurableContext) -> None:
    ctx.wait(dt.timedelta(minutes=1))


def wait_hours(event: None, ctx: DurableContext) -> None:
    ctx.wait(dt.timedelta(hours=1))


HANDLERS["2-1"] = run(wait_basic)
HANDLERS["2-2"] = run(wait_named)
HANDLERS["2-3"] = run(sequential_waits)
HANDLERS["2-4"] = run(wait_minutes)
HANDLERS["2-5"] = run(wait_hours)
