"""``ParallelBranch`` keeps a batch's result type, sync and ``async def`` (issue 12, point
5): checked by ``make typecheck`` (``mypy --strict``; each ``assert_type`` fails the gate
if the inferred type differs)."""

from __future__ import annotations

from typing import assert_type

from durable_core import AsyncDurableContext, BatchResult, DurableContext, ParallelBranch
from durable_core.combinators import Winner


def fetch(c: DurableContext) -> str:
    return "user"


async def fetch_async(c: AsyncDurableContext) -> str:
    return "user"


def sync_workflow(ctx: DurableContext) -> None:
    assert_type(ctx.parallel([ParallelBranch(fetch, name="user")]), BatchResult[str])
    assert_type(ctx.race(ParallelBranch(fetch, name="user"), fetch), Winner[str])
    assert_type(ctx.all_settled(ParallelBranch(fetch), fetch), BatchResult[str])


async def async_workflow(ctx: AsyncDurableContext) -> None:
    named = [ParallelBranch(fetch_async, name="user"), ParallelBranch(fetch_async)]
    assert_type(await ctx.parallel(named), BatchResult[str])
    assert_type(await ctx.race(ParallelBranch(fetch_async, name="a"), fetch_async), Winner[str])
    assert_type(await ctx.any(ParallelBranch(fetch_async), fetch_async), Winner[str])
