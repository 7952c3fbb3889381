"""Replay-safe logging: messages logged while replaying are dropped.

On replay the handler re-runs from the top, so an ordinary ``logging`` call would
print again for every completed operation. ``ReplaySafeLogger`` forwards to a
standard ``logging.Logger`` (or any object with the same methods, such as AWS
Lambda Powertools' ``Logger``) only when its context is executing new work.

Every record carries the keys AWS's SDK adds (``executionArn``, ``parentId``,
``operationId``, ``operationName``, ``attempt``), as ``extra``: Lambda's JSON log
format and Powertools lift them to the top level of the line, where CloudWatch
queries, AWS's conformance validator and users' dashboards already look for them.
A key whose value is unknown (the root context has no parent) is left out, as AWS's
SDK leaves it out. The record's location (``pathname``, ``lineno``, ``funcName``) is
the user's line, not this module's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ReplaySafeLogger"]

# Frames between the wrapped logger's method and the user's call: ``_log`` and the
# level method below. The stdlib counts ``stacklevel=1`` as the caller of its method
# (its own frames are skipped); a wrapper such as Powertools' ``Logger`` forwards its
# ``stacklevel`` from inside its own method, one frame deeper.
_OUR_FRAMES = 2
_STDLIB = (logging.Logger, logging.LoggerAdapter)


class ReplaySafeLogger:
    def __init__(
        self,
        logger: Any,
        is_replaying: Callable[[], bool],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._logger = logger
        self._is_replaying = is_replaying
        self._extra = {key: value for key, value in (extra or {}).items() if value is not None}
        self._stacklevel = _OUR_FRAMES + (1 if isinstance(logger, _STDLIB) else 2)

    @classmethod
    def for_context(
        cls,
        logger: Any,
        is_replaying: Callable[[], bool],
        execution_arn: str,
        parent_id: str | None,
    ) -> ReplaySafeLogger:
        """The logger of a context: its records name the execution and the parent operation."""
        return cls(logger, is_replaying, {"executionArn": execution_arn, "parentId": parent_id})

    def for_operation(
        self, operation_id: str, name: str | None, attempt: int | None = None
    ) -> ReplaySafeLogger:
        """The logger a step or condition check receives: its records name the operation."""
        return self.with_extra(operationId=operation_id, operationName=name, attempt=attempt)

    def with_extra(self, **extra: Any) -> ReplaySafeLogger:
        """The same logger with more fields added to every record."""
        return ReplaySafeLogger(self._logger, self._is_replaying, {**self._extra, **extra})

    def with_replay_logging(self) -> ReplaySafeLogger:
        """The same logger, logging while replaying too: for what must be seen on every
        invocation (a child context re-run because its result was too large to record)."""
        return ReplaySafeLogger(self._logger, _never, self._extra)

    def _log(self, method: str, msg: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._is_replaying():
            return
        if self._extra:
            kwargs["extra"] = {**self._extra, **kwargs.get("extra", {})}
        kwargs.setdefault("stacklevel", self._stacklevel)
        getattr(self._logger, method)(msg, *args, **kwargs)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("debug", msg, args, kwargs)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("info", msg, args, kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("warning", msg, args, kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("error", msg, args, kwargs)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log("exception", msg, args, kwargs)


def _never() -> bool:
    return False


def default_logger() -> logging.Logger:
    return logging.getLogger("durable")
