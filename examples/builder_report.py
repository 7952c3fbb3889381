"""Builder style: a nightly report. Three sources are fetched in parallel, merged, and the
report is published; tracing logs every operation and a failure becomes a summary
instead of a failed execution.

    durable run examples/builder_report.py:handler --input '{"day": "2026-11-27"}'
"""

from __future__ import annotations

from typing import Any

from durable_builder import DurableBuilder
from durable_core import DurableContext

SOURCES = ("orders", "refunds", "signups")


def fetch(source: str, day: str) -> int:
    """Stands in for a warehouse query; returns a row count."""
    return len(source) * 100 + int(day[-2:])


def nightly_report(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    day = str(event["day"])
    batch = ctx.parallel(
        [
            lambda c, s=source: c.step(lambda _: fetch(s, day), name=f"fetch-{s}")
            for source in SOURCES
        ],
        name="fetch-all",
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
