"""An order workflow on the local durable execution service, with real time and a SQLite store.

Watch one execution suspend and resume: ``charge`` fails its first attempt and is
retried after 1 s, ``fulfil`` runs in a child context, and a 2 s wait suspends the
execution without holding an invocation. Every re-invocation replays the completed
steps from the checkpoint log instead of running them again. Stop the process
during the wait (Ctrl-C) and run it again with the same ``--store``: it resumes.

    python examples/order_demo.py --store .demo/durable.sqlite3
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from durable_closure import run
from durable_core import DurableContext, Jitter, RetryPolicy, StepConfig, StepContext
from durable_testing import LocalService, RealClock, SqliteStore, format_history_table

FUNCTION = "process-order"
RETRY_AFTER_1S = StepConfig[str](
    retry=RetryPolicy(max_attempts=3, initial_delay_seconds=1, jitter=Jitter.NONE)
)
say = logging.getLogger("demo").info


def traced_step(
    ctx: DurableContext, name: str, body: Any, config: StepConfig[Any] | None = None
) -> Any:
    """Run a step and say whether its body ran now or its result came from the log."""
    ran: list[bool] = []

    def body_once(step: StepContext) -> Any:
        # Only for the display: the flag says whether the body ran in this invocation.
        ran.append(True)  # durable: ignore[DL006]
        step.logger.info("step %s: executing (attempt %d)", name, step.attempt)
        return body(step)

    value = ctx.step(body_once, name=name, config=config)
    if not ran:
        say("step %s: replayed from checkpoint -> %r", name, value)
    return value


def charge(step: StepContext) -> str:
    if step.attempt == 1:
        step.logger.warning("step charge: card processor timed out, the service will retry")
        raise ConnectionError("card processor timed out")
    return "ch_1001"


def fulfil(ctx: DurableContext) -> str:
    ctx.logger.info("child context fulfil: executing")
    traced_step(ctx, "pack", lambda _: "box-7")
    return str(traced_step(ctx, "label", lambda _: "1Z999AA10123456784"))


def process_order(order: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    say("handler starts, replaying=%s", ctx.is_replaying)
    traced_step(ctx, "validate", lambda _: order["items"] > 0)
    reservation = traced_step(ctx, "reserve", lambda _: f"res-{order['id']}")
    charge_id = traced_step(ctx, "charge", charge, RETRY_AFTER_1S)
    tracking = ctx.run_in_child_context(fulfil, name="fulfil")
    ctx.logger.info("waiting 2 s for the courier (the invocation ends here)")
    ctx.wait(2, name="await-courier")
    traced_step(ctx, "notify", lambda _: f"mail sent to {order['email']}")
    return {
        "order": order["id"],
        "reservation": reservation,
        "charge": charge_id,
        "tracking": tracking,
    }


class _Prefix(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        who = "service" if record.name.startswith("durable_testing") else "handler"
        return f"{record.relativeCreated / 1000:6.2f}s  {who:<7} | {record.getMessage()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=".demo/durable.sqlite3", help="SQLite file of the store")
    args = parser.parse_args()
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(_Prefix())
    logging.basicConfig(level=logging.INFO, handlers=[out])

    service = LocalService(
        store=SqliteStore(args.store), clock=RealClock(), invocation_retry_delay=1
    )
    service.register(FUNCTION, run(process_order))
    try:
        if service.store.list_executions(unfinished_only=True):
            say("found an unfinished execution in %s: resuming it", args.store)
            result = service.resume_all(timeout=120)[0]
        else:
            order = {"id": 1001, "items": 2, "email": "ada@example.com"}
            # Each run its own name, so `durable history NAME` finds exactly this one.
            name = f"order-1001-{len(service.store.list_executions()) + 1}"
            result = service.run(FUNCTION, order, execution_name=name, timeout=120)
    except KeyboardInterrupt:
        say("stopped; the execution is saved in %s, run me again to resume it", args.store)
        return 130
    print(f"\n{result.status.value}: {result.result or result.error}\n")
    print(format_history_table(result.history))
    name = result.arn.split("/durable-execution/")[1].split("/")[0]
    print(f"\nshow it again: {_durable_command()} history --store {args.store} {name}")
    return 0 if result.status.value == "SUCCEEDED" else 1


def _durable_command() -> str:
    """The ``durable`` script of the environment running this demo (no ``uv`` needed)."""
    script = Path(sys.executable).parent / "durable"
    if not script.exists():
        return f"{sys.executable} -m durable_testing.cli"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)


if __name__ == "__main__":
    sys.exit(main())
