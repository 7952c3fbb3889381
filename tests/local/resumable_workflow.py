"""A workflow with a long wait, run in a subprocess that a test kills mid-wait.

``python resumable_workflow.py STORE`` starts it on a SQLite store with real time.
"""

from __future__ import annotations

import sys
from typing import Any

from durable_closure import run
from durable_core import DurableContext
from durable_testing import LocalService, RealClock, SqliteStore

FUNCTION = "resumable"
WAIT_SECONDS = 3600


def workflow(event: dict[str, Any], ctx: DurableContext) -> str:
    booked = ctx.step(lambda _: f"booked {event['room']}", name="book")
    ctx.wait(WAIT_SECONDS, name="until-check-in")
    return str(ctx.step(lambda _: f"{booked}, checked in", name="check-in"))


if __name__ == "__main__":
    service = LocalService(store=SqliteStore(sys.argv[1]), clock=RealClock())
    service.register(FUNCTION, run(workflow))
    service.run(FUNCTION, {"room": 12}, timeout=WAIT_SECONDS * 2)
