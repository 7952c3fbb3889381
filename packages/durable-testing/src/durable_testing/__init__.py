"""durable_testing: run durable handlers locally, as Lambda's durable execution service would.

``LocalService`` invokes registered handlers in-process, applies their checkpoints,
fires timers in real or virtual time, takes callback answers, runs chained invokes,
re-invokes crashed invocations and records the history in the format of
``GetDurableExecutionHistory``; ``SqliteStore`` lets an execution survive the process
that started it. ``ServiceError`` is what the callback API raises (``.code`` is the
Lambda API's error code). ``DurableTestRunner`` runs one handler to completion with
time skipped (the ``durable_runner`` pytest fixture hands one out); ``FaultyBackend``
injects throttling, 5xx, lost answers, stale tokens and crashes into any backend.
``MockDurableContext`` unit-tests a workflow's logic with no service: outcomes
pre-loaded by name or position, one invocation, and ``assert_*`` helpers on the result.
"""

from durable_core.backends.memory import ServiceError

from durable_testing.clock import Clock, RealClock, VirtualClock
from durable_testing.faults import Fault, FaultSchedule, FaultyBackend, SimulatedCrash
from durable_testing.history import HistoryEvent
from durable_testing.local_service import (
    ExecutionResult,
    LocalLambdaContext,
    LocalService,
    PendingCallback,
)
from durable_testing.mock import (
    MockDurableContext,
    MockOperation,
    MockRun,
    assert_attempts,
    assert_checkpoint_count,
    assert_no_checkpoints,
    assert_nothing_executed,
    assert_operation_names,
    assert_operations,
)
from durable_testing.runner import DurableTestRunner, OperationResult, TestResult
from durable_testing.stores import (
    ExecutionStatus,
    ExecutionStore,
    MemoryStore,
    SqliteStore,
    StoredExecution,
    StoreInUseError,
)
from durable_testing.table import format_history_table

__all__ = [
    "Clock",
    "DurableTestRunner",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionStore",
    "Fault",
    "FaultSchedule",
    "FaultyBackend",
    "HistoryEvent",
    "LocalLambdaContext",
    "LocalService",
    "MemoryStore",
    "MockDurableContext",
    "MockOperation",
    "MockRun",
    "OperationResult",
    "PendingCallback",
    "RealClock",
    "ServiceError",
    "SimulatedCrash",
    "SqliteStore",
    "StoreInUseError",
    "StoredExecution",
    "TestResult",
    "VirtualClock",
    "assert_attempts",
    "assert_checkpoint_count",
    "assert_no_checkpoints",
    "assert_nothing_executed",
    "assert_operation_names",
    "assert_operations",
    "format_history_table",
]

# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
