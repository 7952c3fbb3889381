"""Closure style: ``handler = run(my_workflow)``, the simplest way to write a durable function."""

from __future__ import annotations

from typing import Any

from durable_core import (
    DurableContext,
    DurableHandler,
    ExecutionOptions,
    LambdaHandler,
    run_invocation,
)

__all__ = ["DurableContext", "run"]


def run(
    handler: DurableHandler,
    *,
    options: ExecutionOptions | None = None,
) -> LambdaHandler:
    """Wrap ``handler(event, ctx)`` into the Lambda handler ``(event, lambda_context) -> dict``."""

    def lambda_handler(event: Any, lambda_context: Any = None) -> dict[str, Any]:
        return run_invocation(handler, event, lambda_context, options)

    lambda_handler.__name__ = getattr(handler, "__name__", "lambda_handler")
    lambda_handler.__doc__ = handler.__doc__
    return lambda_handler


# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
