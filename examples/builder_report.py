"""Builder style: a nightly report. Three sources are fetched in parallel, merged, and the
report is published; tracing logs every operation and a failure becomes a summary
instead of a failed execution.

    durable run examples/builder_report.py:handler --input '{"day": "2026-11-27"}'
"""

from __future__ import annotations

from functools import partial
from typing import Any

from durable_builder import DurableBuilder
from durable_core import DurableContext

SOURCES = ("orders", "refunds", "signups")


def fetch(source: str, day: str) -> int:
    """Stands in for a warehouse query; returns a row count."""
    return len(source) * 100 + int(day[-2:])


def fetch_branch(source: str, day: str, ctx: DurableContext) -> int:
    """One branch of the parallel fetch, in its own child context. Its source is bound
    with ``functools.partial``: a lambda in the loop would see only the last source,
    as the branches run after the loop ends."""
    return ctx.step(lambda _: fetch(source, day), name=f"fetch-{source}")


def nightly_report(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    day = str(event["day"])
    batch = ctx.parallel(
        [partial(fetch_branch, source, day) for source in SOURCES], name="fetch-all"
    )
    counts = dict(zip(SOURCES, batch.get_results(), strict=True))
    url = ctx.step(lambda _: f"s3://reports/{day}.json", name="publish")
    return {"day": day, "counts": counts, "url": url}


def summarise_failure(exc: Exception) -> dict[str, Any]:
    return {"failed": type(exc).__name__, "message": str(exc)}


handler = (
    DurableBuilder(nightly_report)
    .with_tracing()
    .with_error_handler(summarise_failure)
    .with_batch_checkpoints()
    .build()
)
