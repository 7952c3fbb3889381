"""The service's notion of time, so tests can skip a 7-day wait and the demo can feel 2 s.

Every timestamp the local service writes (operation start and end, a wait's
``ScheduledEndTimestamp``, a retry's ``NextAttemptTimestamp``, history events) comes
from one clock. ``VirtualClock`` jumps straight to the next due timer; ``RealClock``
sleeps until it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

__all__ = ["Clock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    """What the local service asks of time: the current instant, and to let time pass."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep_until(self, instant: dt.datetime) -> None:
        """Return once ``now() >= instant`` (at once when it already is)."""
        ...


class RealClock:
    """Wall-clock time: timers fire when they are really due."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep_until(self, instant: dt.datetime) -> None:
        remaining = (instant - self.now()).total_seconds()
        if remaining > 0:
            time.sleep(remaining)


class VirtualClock:
    """Time that only moves when the service waits: a timer fires as soon as nothing else can run.

    It starts at the real current time (or ``start``) so timestamps look plausible, and
    never goes backwards.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start if start is not None else dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def sleep_until(self, instant: dt.datetime) -> None:
        if instant > self._now:
            self._now = instant

    def advance(self, seconds: float) -> None:
        """Move time forward by hand (a test that checks what is due when)."""
        self._now += dt.timedelta(seconds=seconds)
