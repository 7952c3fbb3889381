"""Run a conformance requirement on ``LocalService``: the invoker side of AWS's validator.

The validator starts an execution and reads it back through the Lambda API. Here the
service runs on a virtual clock that this runner hands out in slices, so a 1-hour wait
costs nothing and callbacks are still answered at the moment their ``CallbackActions``
entry says (``Delay`` seconds after the callback started), before a later timer (a
wait, a callback's timeout) fires: the run is driven to its end before the validator
looks, and the callbacks are chosen and sent with the validator's own code
(``find_matching_action``, ``CallbackSender``) through the server's Lambda API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from durable_testing import ExecutionStatus, LocalService, VirtualClock
from durable_testing.http import LambdaApiServer

from tests.conformance.aws_validator import (
    CallbackAction,
    CallbackSender,
    Invocation,
    InvokeError,
    PlaceholderContext,
    find_matching_action,
)
from tests.conformance.handlers import FUNCTIONS, HANDLERS
from tests.http.support import lambda_client

__all__ = ["local_service"]

# The server's scheduler never gets a turn: this runner alone moves the virtual clock.
_NEVER = 10.0**6


class _LimitReached(Exception):
    """The service asked to move time past the runner's limit (``next_due`` is when)."""

    def __init__(self, next_due: dt.datetime) -> None:
        super().__init__(f"next timer due at {next_due.isoformat()}")
        self.next_due = next_due


class _SteppedClock(VirtualClock):
    """Virtual time that the runner hands out in slices, as AWS's poller lives through it.

    The service may skip ahead only up to ``limit``; asked to go further it stops the
    drive, so callbacks are answered at the moment their action's ``Delay`` says.
    """

    limit: dt.datetime | None = None

    def sleep_until(self, instant: dt.datetime) -> None:
        if self.limit is not None and instant > self.limit:
            raise _LimitReached(instant)
        super().sleep_until(instant)


@dataclass
class _Driver:
    """Drives one execution and answers its callbacks as AWS's validator would.

    Each new CallbackStarted gets the first unused action that matches its name; the
    action is sent ``Delay`` seconds later. A heartbeat leaves the callback open so a
    later action can complete it.
    """

    service: LocalService
    clock: _SteppedClock
    sender: CallbackSender
    arn: str
    actions: list[CallbackAction]
    context: PlaceholderContext
    handled: set[str] = field(default_factory=set)
    used: set[int] = field(default_factory=set)

    def run(self) -> None:
        next_due = self._run_until(self.clock.now())
        while self.service.describe(self.arn).status is ExecutionStatus.RUNNING:
            if self._respond(self.service.describe(self.arn).history):
                next_due = self._run_until(self.clock.now())
            elif next_due is None:
                return
            else:
                next_due = self._run_until(next_due)

    def _run_until(self, limit: dt.datetime) -> dt.datetime | None:
        """Run what is due up to ``limit``; return when the next timer is due, if any."""
        self.clock.limit = limit
        try:
            self.service.run_until_complete(self.arn, time_out_callbacks=True)
        except _LimitReached as reached:
            return reached.next_due
        finally:
            self.clock.limit = None
        return None

    def _respond(self, history: list[dict[str, Any]]) -> bool:
        sent = False
        for event in history:
            callback_id = event.get("CallbackStartedDetails", {}).get("CallbackId")
            if event.get("EventType") != "CallbackStarted" or callback_id in self.handled:
                continue
            action, index = find_matching_action(event, self.actions, self.used, self.context)
            if action is None or index is None:
                if self.actions:
                    raise InvokeError(self.arn, f"no CallbackAction for {event.get('Name')!r}")
                self.handled.add(callback_id)
                continue
            self.used.add(index)
            if action.operation != "heartbeat":
                self.handled.add(callback_id)
            at = self.clock.now() + dt.timedelta(seconds=action.delay_seconds)
            self._run_until(at)
            self.clock.sleep_until(at)
            payload = self.context.substitute(action.payload)
            self.sender.send(
                callback_id, CallbackAction(action.callback_name, action.operation, payload)
            )
            sent = True
        return sent


@dataclass
class _LocalService:
    """The validator's view of a ``LocalService`` served by ``LambdaApiServer``."""

    service: LocalService
    clock: _SteppedClock
    lambda_client: Any
    poll_interval_seconds: float = 0.0

    def invoke(self, call: Invocation, context: PlaceholderContext) -> str:
        arn = self.service.start(call.function, call.input)
        actions = [CallbackAction.from_dict(raw) for raw in call.callback_actions]
        sender = CallbackSender(self.lambda_client)
        try:
            _Driver(self.service, self.clock, sender, arn, actions, context).run()
        except InvokeError:
            raise
        except Exception as exc:  # a missing service feature: a failed run, not a crash
            raise InvokeError(call.function, f"the run raised {type(exc).__name__}: {exc}") from exc
        return arn


@contextlib.contextmanager
def local_service() -> Iterator[_LocalService]:
    """A service with every requirement's handler and every invoked function registered.

    Executions are independent, so requirements share it (and its one server).
    """
    clock = _SteppedClock()
    service = LocalService(clock=clock)
    for name, function in {**FUNCTIONS, **HANDLERS}.items():
        service.register(name, function)
    with LambdaApiServer(service, poll_interval=_NEVER) as server:
        yield _LocalService(service, clock, lambda_client(server.endpoint_url))
