"""durable_testing: run durable handlers locally, as Lambda's durable execution service would.

``LocalService`` invokes registered handlers in-process, applies their checkpoints,
fires timers in real or virtual time, re-invokes crashed invocations and records the
history in the format of ``GetDurableExecutionHistory``; ``SqliteStore`` lets an
execution survive the process that started it.
"""

from durable_testing.clock import Clock, RealClock, VirtualClock
from durable_testing.history import HistoryEvent
from durable_testing.local_service import (
    ExecutionResult,
    LocalLambdaContext,
    LocalService,
)
from durable_testing.stores import (
    ExecutionStatus,
    ExecutionStore,
    MemoryStore,
    SqliteStore,
    StoredExecution,
)
from durable_testing.table import format_history_table

__all__ = [
    "Clock",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionStore",
    "HistoryEvent",
    "LocalLambdaContext",
    "LocalService",
    "MemoryStore",
    "RealClock",
    "SqliteStore",
    "StoredExecution",
    "VirtualClock",
    "format_history_table",
]
