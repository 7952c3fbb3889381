"""durable_testing: run durable handlers locally, as Lambda's durable execution service would.

``LocalService`` invokes registered handlers in-process, applies their checkpoints,
fires timers in real or virtual time, takes callback answers, runs chained invokes,
re-invokes crashed invocations and records the history in the format of
``GetDurableExecutionHistory``; ``SqliteStore`` lets an execution survive the process
that started it. ``ServiceError`` is what the callback API raises (``.code`` is the
Lambda API's error code).
"""

from durable_core.backends.memory import ServiceError

from durable_testing.clock import Clock, RealClock, VirtualClock
from durable_testing.history import HistoryEvent
from durable_testing.local_service import (
    ExecutionResult,
    LocalLambdaContext,
    LocalService,
    PendingCallback,
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
    "PendingCallback",
    "RealClock",
    "ServiceError",
    "SqliteStore",
    "StoredExecution",
    "VirtualClock",
    "format_history_table",
]
