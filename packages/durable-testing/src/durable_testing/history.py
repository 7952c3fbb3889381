"""Execution history in the event format of Lambda's ``GetDurableExecutionHistory``.

Events are plain dicts with the PascalCase names of boto3's ``Event`` shape and
``datetime`` timestamps, as boto3 returns them. They are derived from what the
service observes, in the order it observes it:

* one event per checkpointed update (``START`` -> ``StepStarted``, ``RETRY`` ->
  ``StepFailed`` with ``RetryDetails``, ``SUCCEED`` -> ``ContextSucceeded`` ...);
* one per service-side completion (a wait's timer fired -> ``WaitSucceeded``, a
  callback answered or timed out -> ``CallbackSucceeded|Failed|TimedOut``, a chained
  invoke's execution ended -> ``ChainedInvokeSucceeded|Failed``);
* two for a chained invoke whose target the service rejects at ``START``:
  ``ChainedInvokeStarted`` then ``ChainedInvokeFailed``;
* ``InvocationCompleted`` when an invocation returns, which is therefore always
  before any timer or callback completion that happens after it, also with time skipped;
* ``ExecutionStarted`` first and ``ExecutionSucceeded|Failed`` last.

``EXECUTION`` updates produce no event of their own: the execution completes when
the invocation that sent them returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from durable_core.backends.memory import OperationChange
from durable_core.types import (
    ErrorObject,
    Operation,
    OperationAction,
    OperationStatus,
    OperationType,
)

__all__ = [
    "HistoryEvent",
    "append_event",
    "events_for_change",
    "execution_completed_event",
    "execution_started_event",
    "invocation_completed_event",
]

HistoryEvent = dict[str, Any]

_PREFIX = {
    OperationType.STEP: "Step",
    OperationType.WAIT: "Wait",
    OperationType.CONTEXT: "Context",
    OperationType.CALLBACK: "Callback",
    OperationType.CHAINED_INVOKE: "ChainedInvoke",
}

_SUFFIX = {
    OperationStatus.STARTED: "Started",
    OperationStatus.SUCCEEDED: "Succeeded",
    OperationStatus.FAILED: "Failed",
    OperationStatus.CANCELLED: "Cancelled",
    OperationStatus.TIMED_OUT: "TimedOut",
    OperationStatus.STOPPED: "Stopped",
}


# EventResult / EventError / EventInput carry ``Truncated``; the local service keeps
# every payload whole, so it is always false.
def _error_block(error: ErrorObject | None) -> dict[str, Any]:
    return {"Payload": error.to_wire(), "Truncated": False} if error is not None else {}


def _result_block(payload: str | None) -> dict[str, Any]:
    return {"Payload": payload, "Truncated": False} if payload is not None else {}


def _base(event_type: str, timestamp: dt.datetime, op: Operation | None) -> HistoryEvent:
    event: HistoryEvent = {"EventType": event_type, "EventId": 0, "EventTimestamp": timestamp}
    if op is not None:
        event["Id"] = op.id
        for key, value in (("Name", op.name), ("ParentId", op.parent_id), ("SubType", op.sub_type)):
            if value:
                event[key] = value
    return event


def _wait_seconds(op: Operation) -> int | None:
    end = op.wait_details.scheduled_end_timestamp if op.wait_details else None
    if end is None or op.start_timestamp is None:
        return None
    return round((end - op.start_timestamp).total_seconds())


# The version a chained invoke runs: the local service runs every function unpublished.
_EXECUTED_VERSION = "$LATEST"


def _details(
    change: OperationChange, status: OperationStatus, child_arn: str | None
) -> dict[str, Any]:
    """The ``<EventType>Details`` block of one operation event."""
    op, update = change.after, change.update
    if op.type is OperationType.STEP:
        attempt = op.step_details.attempt if op.step_details else None
        if status is OperationStatus.STARTED:
            return {}
        retry: dict[str, Any] = {"CurrentAttempt": attempt or 1}
        if update is not None and update.action is OperationAction.RETRY:
            delay = update.step_options.next_attempt_delay_seconds if update.step_options else 0
            retry["NextAttemptDelaySeconds"] = delay or 0
        if status is OperationStatus.SUCCEEDED:
            payload = update.payload if update is not None else op.result
            return {"Result": _result_block(payload), "RetryDetails": retry}
        error = update.error if update is not None else op.error
        return {"Error": _error_block(error), "RetryDetails": retry}
    if op.type is OperationType.WAIT:
        duration = _wait_seconds(op)
        if status is OperationStatus.STARTED:
            started: dict[str, Any] = {"Duration": duration}
            if op.wait_details and op.wait_details.scheduled_end_timestamp:
                started["ScheduledEndTimestamp"] = op.wait_details.scheduled_end_timestamp
            return started
        if status is OperationStatus.SUCCEEDED:
            return {"Duration": duration}
        return {"Error": _error_block(update.error if update is not None else None)}
    if op.type is OperationType.CALLBACK and status is OperationStatus.STARTED:
        started = {}
        if op.callback_details and op.callback_details.callback_id:
            started["CallbackId"] = op.callback_details.callback_id
        options = update.callback_options if update is not None else None
        if options is not None:
            if options.timeout_seconds:
                started["Timeout"] = options.timeout_seconds
            if options.heartbeat_timeout_seconds:
                started["HeartbeatTimeout"] = options.heartbeat_timeout_seconds
        return started
    if op.type is OperationType.CHAINED_INVOKE and status is OperationStatus.STARTED:
        options_ci = update.chained_invoke_options if update is not None else None
        started = {}
        if options_ci is not None:
            started["FunctionName"] = options_ci.function_name
            if options_ci.tenant_id:
                started["TenantId"] = options_ci.tenant_id
        if update is not None and update.payload is not None:
            started["Input"] = _result_block(update.payload)
        if child_arn is not None:
            started["ExecutedVersion"] = _EXECUTED_VERSION
            started["DurableExecutionArn"] = child_arn
        return started
    if status is OperationStatus.STARTED:
        return {}
    if status is OperationStatus.SUCCEEDED:
        return {"Result": _result_block(op.result)}
    return {"Error": _error_block(op.error)}


def events_for_change(
    change: OperationChange, timestamp: dt.datetime, *, child_arn: str | None = None
) -> list[HistoryEvent]:
    """The events one applied update or service-side transition adds to the history.

    A step ``RETRY`` leaves the operation ``PENDING`` but is reported as the failed
    (or, without an error, succeeded) attempt it records; a step made ``READY`` again
    by the service adds nothing: the next attempt's ``START`` will. ``child_arn`` is
    the execution a started chained invoke runs (its ``DurableExecutionArn``).
    """
    op = change.after
    if op.type is OperationType.EXECUTION or op.type not in _PREFIX:
        return []
    update = change.update
    if (
        update is not None
        and update.action is OperationAction.START
        and op.type is OperationType.CHAINED_INVOKE
        and op.status.is_terminal
    ):
        # As the service: no input is stored for a target it could not resolve.
        started = OperationChange(
            change.before,
            dataclasses.replace(op, status=OperationStatus.STARTED),
            dataclasses.replace(update, payload=None),
        )
        return [
            _event(started, OperationStatus.STARTED, timestamp, None),
            _event(change, op.status, timestamp, None),
        ]
    status = op.status
    if change.update is not None and change.update.action is OperationAction.RETRY:
        status = OperationStatus.FAILED if change.update.error else OperationStatus.SUCCEEDED
    if status not in _SUFFIX:
        return []
    if change.update is None and change.before is not None and change.before.status is status:
        return []
    return [_event(change, status, timestamp, child_arn)]


def _event(
    change: OperationChange, status: OperationStatus, timestamp: dt.datetime, child_arn: str | None
) -> HistoryEvent:
    event_type = _PREFIX[change.after.type] + _SUFFIX[status]
    event = _base(event_type, timestamp, change.after)
    event[f"{event_type}Details"] = _details(change, status, child_arn)
    return event


def execution_started_event(
    execution_op: Operation, name: str, timestamp: dt.datetime
) -> HistoryEvent:
    """``ExecutionStarted``: the EXECUTION operation's id, and the execution's name."""
    event = _base("ExecutionStarted", timestamp, execution_op)
    event["Name"] = name
    payload = (
        execution_op.execution_details.input_payload if execution_op.execution_details else None
    )
    event["ExecutionStartedDetails"] = {"Input": _result_block(payload)}
    return event


def execution_completed_event(
    execution_op: Operation,
    name: str,
    timestamp: dt.datetime,
    *,
    result: str | None = None,
    error: ErrorObject | None = None,
    outcome: str,
) -> HistoryEvent:
    """``ExecutionSucceeded``, ``ExecutionFailed`` or ``ExecutionStopped`` (``outcome`` is
    the execution's terminal status)."""
    event_type = f"Execution{outcome.title()}"
    event = _base(event_type, timestamp, execution_op)
    event["Name"] = name
    succeeded = outcome == "SUCCEEDED"
    details = {"Result": _result_block(result)} if succeeded else {"Error": _error_block(error)}
    event[f"{event_type}Details"] = details
    return event


def invocation_completed_event(
    start: dt.datetime, end: dt.datetime, request_id: str, error: ErrorObject | None = None
) -> HistoryEvent:
    details: dict[str, Any] = {
        "StartTimestamp": start,
        "EndTimestamp": end,
        "RequestId": request_id,
    }
    if error is not None:
        details["Error"] = _error_block(error)
    event = _base("InvocationCompleted", end, None)
    event["InvocationCompletedDetails"] = details
    return event


def append_event(events: list[HistoryEvent], event: HistoryEvent) -> None:
    """Append with the next 1-based ``EventId``: ids follow recorded order from 1."""
    event["EventId"] = len(events) + 1
    events.append(event)
