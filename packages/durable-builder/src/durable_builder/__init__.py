"""Builder style: ``DurableBuilder(handler).with_tracing().with_error_handler(fn).build()``."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from durable_core import (
    DurableBackend,
    DurableContext,
    DurableHandler,
    ExecutionOptions,
    LambdaHandler,
    run_invocation,
)
from durable_core.plugins import PluginEntry

__all__ = ["DurableBuilder", "DurableContext"]


# Whether the builder has its handler yet: ``None`` or ``DurableHandler``, so mypy knows
# whether ``build()`` gives the Lambda handler or a decorator.
H = TypeVar("H")


class DurableBuilder(Generic[H]):
    """Collects options step by step; ``build()`` returns the Lambda handler.

    The handler may be given to the constructor or to ``handler()``; without one,
    ``build()`` returns a decorator (``@DurableBuilder().with_tracing().build()``). Each
    ``with_*`` returns a new builder, so a configured builder can be shared as a template.
    """

    @overload
    def __init__(
        self: DurableBuilder[None], *, options: ExecutionOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self: DurableBuilder[DurableHandler],
        handler: DurableHandler,
        options: ExecutionOptions | None = None,
    ) -> None: ...

    def __init__(
        self, handler: DurableHandler | None = None, options: ExecutionOptions | None = None
    ) -> None:
        self._handler = handler
        self._options = options or ExecutionOptions()

    def _with(self, **changes: Any) -> DurableBuilder[H]:
        built = copy.copy(self)
        built._options = dataclasses.replace(self._options, **changes)
        return built

    def handler(self, handler: DurableHandler) -> DurableBuilder[DurableHandler]:
        return DurableBuilder(handler, self._options)

    def with_tracing(self, enabled: bool = True) -> DurableBuilder[H]:
        """OpenTelemetry spans (when installed) and ``durable.trace`` log records."""
        return self._with(tracing=enabled)

    def with_plugins(self, *plugins: PluginEntry) -> DurableBuilder[H]:
        """Add plugins (or per-invocation factories) after those already configured."""
        return self._with(plugins=(*self._options.plugins, *plugins))

    def with_error_handler(
        self, error_handler: Callable[[Exception], Any] | Callable[[Exception], Awaitable[Any]]
    ) -> DurableBuilder[H]:
        """Turn an exception the handler raised into a result (or raise the one to report).

        An ``async def`` error handler is awaited on a loop of its own, after the handler.
        """
        return self._with(error_handler=error_handler)

    def with_batch_checkpoints(self, enabled: bool = True) -> DurableBuilder[H]:
        return self._with(batch_checkpoints=enabled)

    def with_pipelined_checkpoints(self, enabled: bool = True) -> DurableBuilder[H]:
        return self._with(pipeline_checkpoints=enabled)

    def with_backend(self, backend: DurableBackend) -> DurableBuilder[H]:
        return self._with(backend=backend)

    def with_logger(self, logger: Any) -> DurableBuilder[H]:
        return self._with(logger=logger)

    @overload
    def build(self: DurableBuilder[None]) -> Callable[[DurableHandler], LambdaHandler]: ...

    @overload
    def build(self: DurableBuilder[DurableHandler]) -> LambdaHandler: ...

    def build(self) -> LambdaHandler | Callable[[DurableHandler], LambdaHandler]:
        """The Lambda handler; without a handler, a decorator that makes one."""
        options = self._options
        if self._handler is None:

            def decorate(handler: DurableHandler) -> LambdaHandler:
                return DurableBuilder(handler, options).build()

            return decorate
        handler = self._handler

        def lambda_handler(event: Any, lambda_context: Any = None) -> dict[str, Any]:
            return run_invocation(handler, event, lambda_context, options)

        return lambda_handler


# The version of this package, as in its pyproject.toml (tests/packaging checks they agree).
__version__ = "0.1.0"
