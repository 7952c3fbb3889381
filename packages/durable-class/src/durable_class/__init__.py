"""Class style: subclass ``DurableHandler``, override ``handle``; an instance is the Lambda handler.

State shared across invocations of a warm Lambda (clients, configuration) lives on
the instance; anything the workflow decides must still come from durable operations.
"""

from __future__ import annotations

from typing import Any

from durable_core import DurableContext, ExecutionOptions, run_invocation

__all__ = ["DurableContext", "DurableHandler"]


class DurableHandler:
    """Base class: ``handler = MyFlow()`` and point Lambda at ``module.handler``."""

    options: ExecutionOptions | None = None

    def handle(self, event: Any, ctx: Any) -> Any:
        """Override with ``(self, event, ctx: DurableContext)``, or ``async def`` with
        ``ctx: AsyncDurableContext``: the engine passes the context the override expects."""
        raise NotImplementedError(f"{type(self).__qualname__} must override handle(event, ctx)")

    def __call__(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        return run_invocation(self.handle, event, lambda_context, self.options)
