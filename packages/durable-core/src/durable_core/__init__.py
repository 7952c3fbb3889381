"""durable-core: the engine of durable-lambda for Python.

Most users import one of the style packages (``durable_closure``,
``durable_decorator``, ``durable_class``, ``durable_builder``); they all run on
``run_invocation`` here. Import from this module, not from the private ones.
"""

from durable_core.backends import (
    CheckpointResponse,
    DurableBackend,
    LambdaBackend,
    MemoryBackend,
    StatePage,
)
from durable_core.config import ChildConfig, StepConfig, StepSemantics
from durable_core.context import DurableContext, StepContext
from durable_core.errors import (
    CheckpointError,
    ChildContextError,
    DurableError,
    DurableOperationError,
    InvalidEventError,
    NonDeterministicExecutionError,
    PayloadTooLargeError,
    SerDesError,
    StepError,
    StepInterruptedError,
    StepTimeoutError,
    SuspendExecution,
    ValidationError,
)
from durable_core.execution import (
    DurableHandler,
    ExecutionOptions,
    LambdaHandler,
    run_invocation,
    use_backend,
)
from durable_core.retries import Jitter, RetryDecision, RetryPolicy, exponential_backoff, no_retry
from durable_core.serdes import ExtendedSerDes, JsonSerDes, SerDes

__all__ = [
    "CheckpointError",
    "CheckpointResponse",
    "ChildConfig",
    "ChildContextError",
    "DurableBackend",
    "DurableContext",
    "DurableError",
    "DurableHandler",
    "DurableOperationError",
    "ExecutionOptions",
    "ExtendedSerDes",
    "InvalidEventError",
    "Jitter",
    "JsonSerDes",
    "LambdaBackend",
    "LambdaHandler",
    "MemoryBackend",
    "NonDeterministicExecutionError",
    "PayloadTooLargeError",
    "RetryDecision",
    "RetryPolicy",
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
    "ValidationError",
    "exponential_backoff",
    "no_retry",
    "run_invocation",
    "use_backend",
]
