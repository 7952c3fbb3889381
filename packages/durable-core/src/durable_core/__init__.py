"""durable-core: the engine of durable-lambda for Python.

Most users import one of the style packages (``durable_closure``,
``durable_decorator``, ``durable_class``, ``durable_builder``); they all run on
``run_invocation`` here. Import from this module, not from the private ones.
"""

from typing import TYPE_CHECKING, Any

from durable_core.backends import (
    CheckpointResponse,
    DurableBackend,
    LambdaBackend,
    MemoryBackend,
    StatePage,
)
from durable_core.batch import (
    BatchItem,
    BatchItemStatus,
    BatchResult,
    CompletionConfig,
    CompletionReason,
    MapConfig,
    NestingType,
    ParallelConfig,
)
from durable_core.combinators import AllBranchesFailedError, Winner
from durable_core.config import (
    CallbackConfig,
    ChildConfig,
    InvokeConfig,
    StepConfig,
    StepSemantics,
    WaitForCallbackConfig,
    WaitForConditionConfig,
)
from durable_core.context import DurableContext, StepContext
from durable_core.errors import (
    CallbackError,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    CheckpointError,
    ChildContextError,
    DurableError,
    DurableOperationError,
    InvalidEventError,
    InvokeError,
    NonDeterministicExecutionError,
    PayloadTooLargeError,
    SerDesError,
    StepError,
    StepInterruptedError,
    StepTimeoutError,
    SuspendExecution,
    ValidationError,
    WaitForConditionError,
)
from durable_core.execution import (
    DurableHandler,
    ExecutionOptions,
    LambdaHandler,
    run_invocation,
    use_backend,
)
from durable_core.operations.callback import Callback
from durable_core.operations.saga import CompensationOutcome, CompensationResult
from durable_core.payloads import (
    MemoryPayloadStore,
    Offload,
    PayloadNotFoundError,
    PayloadStore,
    PayloadStoreError,
    S3PayloadStore,
)
from durable_core.retries import Jitter, RetryDecision, RetryPolicy, exponential_backoff, no_retry
from durable_core.serdes import ExtendedSerDes, JsonSerDes, SerDes
from durable_core.typed import TypedSerDes
from durable_core.waits import (
    WaitDecision,
    WaitStrategy,
    WaitStrategyConfig,
    condition,
    create_wait_strategy,
    exponential_wait,
    fixed_wait,
)

if TYPE_CHECKING:
    from durable_core.aio import AsyncCallback, AsyncDurableContext

# The asyncio face is imported on first use: a sync handler's cold start skips asyncio.
_LAZY = {"AsyncCallback", "AsyncDurableContext"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from durable_core import aio

        return getattr(aio, name)
    raise AttributeError(f"module 'durable_core' has no attribute {name!r}")


__all__ = [
    "AllBranchesFailedError",
    "AsyncCallback",
    "AsyncDurableContext",
    "BatchItem",
    "BatchItemStatus",
    "BatchResult",
    "Callback",
    "CallbackConfig",
    "CallbackError",
    "CallbackExternalError",
    "CallbackSubmitterError",
    "CallbackTimeoutError",
    "CheckpointError",
    "CheckpointResponse",
    "ChildConfig",
    "ChildContextError",
    "CompensationOutcome",
    "CompensationResult",
    "CompletionConfig",
    "CompletionReason",
    "DurableBackend",
    "DurableContext",
    "DurableError",
    "DurableHandler",
    "DurableOperationError",
    "ExecutionOptions",
    "ExtendedSerDes",
    "InvalidEventError",
    "InvokeConfig",
    "InvokeError",
    "Jitter",
    "JsonSerDes",
    "LambdaBackend",
    "LambdaHandler",
    "MapConfig",
    "MemoryBackend",
    "MemoryPayloadStore",
    "NestingType",
    "NonDeterministicExecutionError",
    "Offload",
    "ParallelConfig",
    "PayloadNotFoundError",
    "PayloadStore",
    "PayloadStoreError",
    "PayloadTooLargeError",
    "RetryDecision",
    "RetryPolicy",
    "S3PayloadStore",
    "SerDes",
    "SerDesError",
    "StatePage",
    "StepConfig",
    "StepContext",
    "StepError",
    "StepInterruptedError",
    "StepSemantics",
    "StepTimeoutError",
    "SuspendExecution",
    "TypedSerDes",
    "ValidationError",
    "WaitDecision",
    "WaitForCallbackConfig",
    "WaitForConditionConfig",
    "WaitForConditionError",
    "WaitStrategy",
    "WaitStrategyConfig",
    "Winner",
    "condition",
    "create_wait_strategy",
    "exponential_backoff",
    "exponential_wait",
    "fixed_wait",
    "no_retry",
    "run_invocation",
    "use_backend",
]
