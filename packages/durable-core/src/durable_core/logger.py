"""Replay-safe logging: messages logged while replaying are dropped.

On replay the handler re-runs from the top, so an ordinary ``logging`` call would
print again for every completed operation. ``ReplaySafeLogger`` forwards to a
standard ``logging.Logger`` (or any object with the same methods, such as AWS
Lambda Powertools' ``Logger``) only when its context is executing new work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ReplaySafeLogger"]


class ReplaySafeLogger:
    def __init__(
        self,
        logger: Any,
        is_replaying: Callable[[], bool],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._logger = logger
        self._is_replaying = is_replaying
        self._extra = dict(extra or {})

    def with_extra(self, **extra: Any) -> ReplaySafeLogger:
        """The same logger with more fields added to every record (operation id, attempt...)."""
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
        kwargs.setdefault("stacklevel", 3)
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
