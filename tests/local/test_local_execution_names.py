"""Names the service gives executions started without one (``execution-N``) are unique
within the function, as every execution name must be (``StartDurableExecution``'s
``DurableExecutionAlreadyStartedException``), also for a second process on one store."""

from __future__ import annotations

from pathlib import Path

from durable_closure import run
from durable_core import DurableContext
from durable_testing import LocalService, SqliteStore


def _greet(event: object, ctx: DurableContext) -> str:
    return ctx.step(lambda _: f"hello {event}", name="greet")


def _names(service: LocalService, function: str) -> list[str]:
    return [s.arn.split("/")[-2] for s in service.store.summaries(function)]


def test_a_second_process_on_a_store_does_not_reuse_its_names(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    for _ in range(2):  # two processes, one after the other
        store = SqliteStore(path)
        service = LocalService(store=store)
        service.register("greet", run(_greet))
        service.run("greet", "ana")
        store.close()
    service = LocalService(store=SqliteStore(path, read_only=True))
    assert _names(service, "greet") == ["execution-1", "execution-2"]


def test_a_given_name_of_the_generated_form_is_not_generated_again() -> None:
    service = LocalService()
    service.register("greet", run(_greet))
    service.register("other", run(_greet))
    service.start("greet", "a", execution_name="execution-3")
    for _ in range(3):
        service.start("greet", "b")
    service.start("greet", "c", execution_name="execution-9")
    service.start("greet", "d")
    service.start("other", "e")
    assert _names(service, "greet") == [
        "execution-3", "execution-4", "execution-5", "execution-6", "execution-9", "execution-10",
    ]  # fmt: skip
    assert _names(service, "other") == ["execution-1"]
