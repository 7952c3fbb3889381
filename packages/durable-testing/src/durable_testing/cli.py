"""The ``durable`` command: inspect executions kept in a local SQLite store.

``durable list --store PATH`` lists executions; ``durable history --store PATH ARN``
prints one execution's history as a table (``--json`` for the raw events, as
``GetDurableExecutionHistory`` returns them, timestamps in ISO 8601).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from durable_testing.stores import SqliteStore
from durable_testing.table import format_history_table

__all__ = ["main"]


def _iso(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _names(arn: str, query: str) -> bool:
    """An ARN is named by itself, its unique suffix, or its execution name."""
    return arn == query or arn.endswith("/" + query) or f"/durable-execution/{query}/" in arn


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="durable", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list the executions of a store")
    listing.add_argument("--store", required=True, type=Path, help="SQLite file of the store")
    history = commands.add_parser("history", help="print the history of one execution")
    history.add_argument("--store", required=True, type=Path, help="SQLite file of the store")
    history.add_argument("arn", help="DurableExecutionArn, its last part, or the execution name")
    history.add_argument("--json", action="store_true", help="print the events as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.store.exists():
        print(f"durable: no store at {args.store}", file=sys.stderr)
        return 2
    store = SqliteStore(args.store)
    executions = store.list_executions()
    if args.command == "list":
        for execution in executions:
            print(f"{execution.status.value:<10} {execution.function_name:<20} {execution.arn}")
        return 0
    matches = [e for e in executions if _names(e.arn, args.arn)]
    if len(matches) != 1:
        problem = "no execution matches" if not matches else "several executions match"
        print(f"durable: {problem} {args.arn!r}", file=sys.stderr)
        for execution in matches:
            print(f"  {execution.arn}", file=sys.stderr)
        return 1
    events = matches[0].events
    print(json.dumps(events, default=_iso, indent=2) if args.json else format_history_table(events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
