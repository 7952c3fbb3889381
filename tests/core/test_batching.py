from __future__ import annotations

from typing import Any

from durable_closure import run
from durable_core import DurableContext, ExecutionOptions, MapConfig, MemoryBackend, use_backend


def _steps(event: Any, ctx: DurableContext) -> int:
    return sum(ctx.step(lambda s, i=i: i, name=f"s{i}") for i in range(20))


def test_batch_mode_sends_sequential_steps_in_one_call() -> None:
    plain, batched = MemoryBackend(), MemoryBackend()
    for backend, options in ((plain, None), (batched, ExecutionOptions(batch_checkpoints=True))):
        event = backend.start_execution(None)
        with use_backend(backend):
            assert run(_steps, options=options)(event, None)["Result"] == str(sum(range(20)))
    assert len(plain.calls) == 20
    assert len(batched.calls) == 1
    flat = [u for c in plain.calls for u in c.updates]
    assert [u for c in batched.calls for u in c.updates] == flat


def test_batch_mode_sends_a_concurrent_map_in_one_call() -> None:
    """A map's branches, too, leave their ends buffered in batch mode: none waits for
    its end to be persisted (as a branch does by default once its slot is free)."""

    def workflow(event: Any, ctx: DurableContext) -> list[int]:
        items = ctx.map(
            list(range(6)),
            lambda c, x, i, xs: c.step(lambda _: x, name="same"),
            config=MapConfig(max_concurrency=3),
        )
        return items.get_results()

    backend = MemoryBackend()
    event = backend.start_execution(None)
    with use_backend(backend):
        response = run(workflow, options=ExecutionOptions(batch_checkpoints=True))(event, None)
    assert response["Result"] == "[0, 1, 2, 3, 4, 5]"
    assert len(backend.calls) == 1


def test_batch_mode_flushes_before_suspending() -> None:
    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]

    def wf(event: Any, ctx: DurableContext) -> None:
        ctx.step(lambda s: 1, name="a")
        ctx.step(lambda s: 2, name="b")
        ctx.wait(60)

    with use_backend(backend):
        assert run(wf, options=ExecutionOptions(batch_checkpoints=True))(event, None) == {
            "Status": "PENDING"
        }
    names = {op.name for op in backend.operations(arn) if op.status.value == "SUCCEEDED"}
    assert names == {"a", "b"}
