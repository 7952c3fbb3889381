"""``ParallelBranch`` names the branches of ``race``, ``any`` and ``all_settled`` too.

``parallel``'s names are compared with AWS's SDK in tests/compat; the combinators have
no AWS counterpart, so their names are checked here against the rule: a named branch
records its name, an unnamed one ``<combinator>-branch-<i>``; renaming a branch of a
running execution is a non-deterministic change, as in AWS's SDK (its
``OperationIdentifier.validate_checkpoint`` compares names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    AsyncDurableContext,
    DurableContext,
    MemoryBackend,
    ParallelBranch,
    use_backend,
)
from durable_core.types import OperationType

from .conftest import drive


def _names(backend: MemoryBackend, arn: str) -> list[str | None]:
    return [
        op.name
        for op in backend.operations(arn)
        if op.type is OperationType.CONTEXT and op.sub_type == "ParallelBranch"
    ]


def race_sync(event: Any, ctx: DurableContext) -> Any:
    return ctx.race(
        ParallelBranch(lambda c: c.step(lambda _: "fast", name="quick"), name="fast path"),
        lambda c: c.wait(60, name="slow"),
        name="who wins",
    ).value


async def race_async(event: Any, ctx: AsyncDurableContext) -> Any:
    async def fast(c: AsyncDurableContext) -> Any:
        return await c.step(lambda _: "fast", name="quick")

    async def slow(c: AsyncDurableContext) -> None:
        await c.wait(60, name="slow")

    winner = await ctx.race(ParallelBranch(fast, name="fast path"), slow, name="who wins")
    return winner.value


def settled_sync(event: Any, ctx: DurableContext) -> Any:
    result = ctx.all_settled(
        ParallelBranch(lambda c: 1, name="one"), ParallelBranch(lambda c: 2), name="both"
    )
    first = ctx.any(_no_three, ParallelBranch(lambda c: 4, name="four"), name="either")
    return [result.get_results(), first.value]


def _no_three(c: Any) -> int:
    """``any``'s first branch fails, so the second, named one runs whatever the timing
    (a branch not yet started when ``any`` has its winner is never started)."""
    raise ValueError("no three")


async def settled_async(event: Any, ctx: AsyncDurableContext) -> Any:
    async def value(n: int) -> int:
        return n

    result = await ctx.all_settled(
        ParallelBranch(lambda c: value(1), name="one"),
        ParallelBranch(lambda c: value(2)),
        name="both",
    )
    first = await ctx.any(
        lambda c: value(_no_three(c)),
        ParallelBranch(lambda c: value(4), name="four"),
        name="either",
    )
    return [result.get_results(), first.value]


@pytest.mark.parametrize("handler", [race_sync, race_async], ids=["sync", "async"])
def test_a_named_race_branch_records_its_name(handler: Any) -> None:
    driven = drive(run(handler))
    assert driven.final == {"Status": "SUCCEEDED", "Result": '"fast"'}
    assert _names(driven.backend, driven.arn) == ["fast path", "race-branch-1"]


@pytest.mark.parametrize("handler", [settled_sync, settled_async], ids=["sync", "async"])
def test_all_settled_and_any_name_their_branches(handler: Any) -> None:
    driven = drive(run(handler))
    assert driven.final == {"Status": "SUCCEEDED", "Result": "[[1, 2], 4]"}
    assert _names(driven.backend, driven.arn) == [
        "one",
        "all-settled-branch-1",
        "any-branch-0",
        "four",
    ]


def test_renaming_a_branch_of_a_running_execution_is_non_deterministic() -> None:
    def deployed(name: str) -> Any:
        def workflow(event: Any, ctx: DurableContext) -> Any:
            return ctx.parallel(
                [ParallelBranch(lambda c: c.wait(5, name="w"), name=name)], name="fan"
            ).get_results()

        return run(workflow)

    backend = MemoryBackend()
    event = backend.start_execution(None)
    with use_backend(backend):
        assert deployed("before")(event, None)["Status"] == "PENDING"
        backend.fire_timers(event["DurableExecutionArn"])
        response = deployed("after")(backend.invocation_event(event["DurableExecutionArn"]), None)
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.errors.NonDeterministicExecutionError"
    assert "'before'" in response["Error"]["ErrorMessage"]


@dataclass
class Parcel:
    tracking: str


def _parcel(c: DurableContext) -> Parcel:
    return Parcel("1Z")


async def _async_parcel(c: AsyncDurableContext) -> Parcel:
    return Parcel("1Z")


def typed_sync(event: Any, ctx: DurableContext) -> Any:
    result = ctx.parallel([ParallelBranch(_parcel, name="ship"), _parcel]).get_results()
    ctx.wait(1)  # the next invocation reads the batch back from its checkpoint
    return [type(value).__name__ for value in result]


async def typed_async(event: Any, ctx: AsyncDurableContext) -> Any:
    result = await ctx.parallel([ParallelBranch(_async_parcel, name="ship"), _async_parcel])
    await ctx.wait(1)
    return [type(value).__name__ for value in result.get_results()]


@pytest.mark.parametrize("handler", [typed_sync, typed_async], ids=["sync", "async"])
def test_a_named_branch_declared_to_return_a_type_gives_it(handler: Any) -> None:
    """As for plain branches (test_typed_edges): the type is read from the branch's
    function, through its ParallelBranch."""
    driven = drive(run(handler))
    assert [r["Status"] for r in driven.responses] == ["PENDING", "SUCCEEDED"]
    assert driven.final["Result"] == '["Parcel", "Parcel"]'
