"""durable-core: the engine of durable-lambda for Python.

Most users import one of the style packages (``durable_closure``,
``durable_decorator``, ``durable_class``, ``durable_builder``); they all run on
``run_invocation`` here. Import from this module, not from the private ones.
"""

import importlib
from typing import TYPE_CHECKING, Any

from durable_core.backends.base import CheckpointResponse, DurableBackend, StatePage
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
    UnawaitedOperationError,
    ValidationError,
    WaitForConditionError,
)
from durable_core.execution import (
    DurableHandler,
    ExecutionOptions,
    HandlerResult,
    LambdaHandler,
    run_invocation,
    use_backend,
)
from durable_core.retries import Jitter, RetryDecision, RetryPolicy, exponential_backoff, no_retry
from durable_core.serdes import ExtendedSerDes, JsonSerDes, SerDes
from durable_core.typed import TypedSerDes

if TYPE_CHECKING:
    from durable_core.aio import AsyncCallback, AsyncDurableContext
    from durable_core.backends.lambda_backend import LambdaBackend
    from durable_core.backends.memory import MemoryBackend
    from durable_core.batch import (
        BatchItem,
        BatchItemStatus,
        BatchResult,
        CompletionConfig,
        CompletionReason,
        MapConfig,
        NestingType,
        ParallelBranch,
        ParallelConfig,
    )
    from durable_core.combinators import AllBranchesFailedError, Winner
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
    from durable_core.waits import (
        WaitDecision,
        WaitStrategy,
        WaitStrategyConfig,
        condition,
        create_wait_strategy,
        exponential_wait,
        fixed_wait,
    )

# What only some handlers use is imported on first use, so a cold start pays only for
# what its handler meets: asyncio (the async face), boto3 (LambdaBackend, when first
# called), batches, combinators, callbacks, sagas, payload stores and wait strategies;
# MemoryBackend is for tests.
_LAZY = {
    "durable_core.aio": ("AsyncCallback", "AsyncDurableContext"),
    "durable_core.backends.lambda_backend": ("LambdaBackend",),
    "durable_core.backends.memory": ("MemoryBackend",),
    "durable_core.batch": (
        "BatchItem",
        "BatchItemStatus",
        "BatchResult",
        "CompletionConfig",
        "CompletionReason",
        "MapConfig",
        "NestingType",
        "ParallelBranch",
        "ParallelConfig",
    ),
    "durable_core.combinators": ("AllBranchesFailedError", "Winner"),
    "durable_core.operations.callback": ("Callback",),
    "durable_core.operations.saga": ("CompensationOutcome", "CompensationResult"),
    "durable_core.payloads": (
        "MemoryPayloadStore",
        "Offload",
        "PayloadNotFoundError",
        "PayloadStore",
        "PayloadStoreError",
        "S3PayloadStore",
    ),
    "durable_core.waits": (
        "WaitDecision",
        "WaitStrategy",
        "WaitStrategyConfig",
        "condition",
        "create_wait_strategy",
        "exponential_wait",
        "fixed_wait",
    ),
}
_LAZY_MODULE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY_MODULE.get(name)
    if module is None:
        raise AttributeError(f"module 'durable_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


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
    "HandlerResult",
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
    "ParallelBranch",
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
    "UnawaitedOperationError",
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

# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
