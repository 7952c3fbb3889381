"""Class style: subclass ``DurableHandler``, override ``handle``; an instance is the Lambda handler.

State shared across invocations of a warm Lambda (clients, configuration) lives on
the instance; anything the workflow decides must still come from durable operations.
An ``async def handle`` subclasses ``AsyncDurableHandler`` instead, so that mypy holds
each ``handle`` to the context the engine passes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from durable_core import DurableContext, ExecutionOptions, HandlerResult, run_invocation

if TYPE_CHECKING:  # asyncio stays off a sync handler's cold start
    from durable_core.aio import AsyncDurableContext

__all__ = ["AsyncDurableHandler", "DurableContext", "DurableHandler"]


class DurableHandler:
    """Base class: ``handler = MyFlow()`` and point Lambda at ``module.handler``."""

    options: ExecutionOptions | None = None

    def handle(self, event: Any, ctx: DurableContext) -> HandlerResult:
        """Override with ``(self, event, ctx: DurableContext)``: the workflow."""
        raise NotImplementedError(f"{type(self).__qualname__} must override handle(event, ctx)")

    def __call__(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        return run_invocation(self.handle, event, lambda_context, self.options)


class AsyncDurableHandler:
    """As ``DurableHandler``, for ``async def handle(self, event, ctx: AsyncDurableContext)``."""

    options: ExecutionOptions | None = None

    async def handle(self, event: Any, ctx: AsyncDurableContext) -> Any:
        """Override with ``async def (self, event, ctx: AsyncDurableContext)``: the workflow."""
        raise NotImplementedError(f"{type(self).__qualname__} must override handle(event, ctx)")

    def __call__(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        return run_invocation(self.handle, event, lambda_context, self.options)


# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
