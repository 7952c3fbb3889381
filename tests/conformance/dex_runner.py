"""``dex-local-runner`` with one fix, for the conformance column: run as its CLI.

``Event.from_event_with_id`` (aws-durable-execution-sdk-python-testing 1.4.0,
``model.py``) rebuilds every history event when the runner renumbers them and leaves
out ``invocation_completed_details``, so every ``InvocationCompleted`` event the runner
serves lacks ``InvocationCompletedDetails``, whatever the SDK: every requirement would
fail on that alone. ``tests/conformance/test_dex.py`` shows it with a handler written
with AWS's own SDK on the unpatched runner. Nothing else is changed.
"""

from __future__ import annotations

import dataclasses
import sys

from aws_durable_execution_sdk_python_testing import cli
from aws_durable_execution_sdk_python_testing.model import Event

_renumber = Event.from_event_with_id.__func__  # type: ignore[attr-defined]


def _renumber_keeping_details(cls: type[Event], event: Event, event_id: int) -> Event:
    renumbered: Event = _renumber(cls, event, event_id)
    return dataclasses.replace(
        renumbered, invocation_completed_details=event.invocation_completed_details
    )


if __name__ == "__main__":
    Event.from_event_with_id = classmethod(_renumber_keeping_details)  # type: ignore[method-assign,assignment]
    sys.exit(cli.main())
