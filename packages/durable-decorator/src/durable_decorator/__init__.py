"""Decorator style: ``@durable_execution`` makes ``def handler(event, ctx)`` a Lambda handler."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload

from durable_core import (
    DurableContext,
    DurableHandler,
    ExecutionOptions,
    LambdaHandler,
    run_invocation,
)

__all__ = ["DurableContext", "durable_execution"]


@overload
def durable_execution(handler: DurableHandler, /) -> LambdaHandler: ...


@overload
def durable_execution(
    *, options: ExecutionOptions | None = None
) -> Callable[[DurableHandler], LambdaHandler]: ...


def durable_execution(
    handler: DurableHandler | None = None, /, *, options: ExecutionOptions | None = None
) -> LambdaHandler | Callable[[DurableHandler], LambdaHandler]:
    """Use bare (``@durable_execution``) or configured (``@durable_execution(options=...)``)."""

    def decorate(func: DurableHandler) -> LambdaHandler:
        @functools.wraps(func)
        def lambda_handler(event: Any, lambda_context: Any = None) -> dict[str, Any]:
            return run_invocation(func, event, lambda_context, options)

        return lambda_handler

    return decorate(handler) if handler is not None else decorate


# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
