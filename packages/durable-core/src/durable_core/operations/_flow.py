"""Operations as flows: their decisions and updates written once, for both drivers.

An operation is a generator: it decides from the checkpoint log (``_replay``), builds
its updates, and *yields* what it needs done: an update sent (``Send``), a result sent
(``SendResult``), the buffer flushed (``Flush``), or the user's code run (``Body``).
The driver performs the effect and resumes the flow with its value, or throws its
exception into the flow at the ``yield``, so the operation's own ``try``/``except``
sees a failing body as a plain call would. ``run_flow`` is the sync driver (every
effect a plain call); ``durable_core.aio`` is the asyncio driver (checkpoint calls off
the loop, ``async def`` bodies awaited). Neither driver decides anything.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from durable_core.checkpoint import Checkpointer
from durable_core.errors import StepTimeoutError
from durable_core.types import OperationUpdate

__all__ = [
    "Body",
    "Effect",
    "Flow",
    "Flush",
    "Send",
    "SendResult",
    "is_coroutine_function",
    "no_body",
    "run_flow",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    """``Checkpointer.send``: ``sync`` returns only once the update is persisted."""

    update: OperationUpdate
    sync: bool


@dataclass(frozen=True, slots=True)
class SendResult:
    """``Checkpointer.send_result``: an operation's outcome (batched or pipelined per options)."""

    update: OperationUpdate
    pipelined: bool = False


@dataclass(frozen=True, slots=True)
class Flush:
    """``Checkpointer.flush``: everything buffered persisted (before suspending)."""


@dataclass(frozen=True, slots=True)
class Body:
    """Run the user's code with ``args``; the flow resumes with what it returned.

    ``timeout`` (a step's) bounds one attempt: past it the attempt fails with
    ``StepTimeoutError`` (the body itself cannot be stopped, only abandoned).
    """

    args: tuple[Any, ...]
    timeout: float | None = None
    where: str = ""
    attempt: int = 1

    def timeout_error(self) -> StepTimeoutError:
        return StepTimeoutError(f"{self.where} attempt {self.attempt} exceeded {self.timeout} s")


Effect = Send | SendResult | Flush | Body
Flow = Generator[Effect, Any, T]


def perform_checkpoint(checkpointer: Checkpointer, effect: Send | SendResult | Flush) -> None:
    """The checkpointer call an effect stands for (blocking: the backend may be remote)."""
    if isinstance(effect, Send):
        checkpointer.send(effect.update, sync=effect.sync)
    elif isinstance(effect, SendResult):
        checkpointer.send_result(effect.update, pipelined=effect.pipelined)
    else:
        checkpointer.flush()


def is_coroutine_function(func: Any) -> bool:
    """Whether calling ``func`` makes a coroutine: ``async def``, wrapped or as ``__call__``."""
    return inspect.iscoroutinefunction(inspect.unwrap(func)) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )


def no_body(*args: Any) -> NoReturn:
    """The body of an operation that runs no user code (it never yields ``Body``)."""
    raise AssertionError("this operation runs no user code")


def run_flow(flow: Flow[T], checkpointer: Checkpointer, body: Callable[..., Any] = no_body) -> T:
    """Drive ``flow`` synchronously: effects are plain calls, the body runs in this thread."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            if isinstance(effect, Body):
                value = _call_body(body, effect)
            else:
                perform_checkpoint(checkpointer, effect)
        except BaseException as exc:
            error = exc


def _call_body(body: Callable[..., Any], effect: Body) -> Any:
    if effect.timeout is None:
        return body(*effect.args)
    box: dict[str, Any] = {}
    done = threading.Event()

    def attempt() -> None:
        try:
            box["value"] = body(*effect.args)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=attempt, name="durable-step-attempt", daemon=True).start()
    if not done.wait(effect.timeout):
        raise effect.timeout_error()
    if "error" in box:
        raise box["error"]
    return box["value"]
