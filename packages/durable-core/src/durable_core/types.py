"""Wire types of the Lambda durable execution API, as pydantic models.

Field names are snake_case in Python and PascalCase on the wire (the names of
boto3's service model), so ``Operation.model_validate(boto3_dict)`` and
``op.to_wire()`` round-trip exactly. Timestamps arrive either as datetimes
(boto3) or as Unix milliseconds (the JSON Lambda event); both parse.
"""

from __future__ import annotations

import datetime as _dt
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_pascal

__all__ = [
    "CallbackDetails",
    "CallbackOptions",
    "ChainedInvokeDetails",
    "ChainedInvokeOptions",
    "ContextDetails",
    "ContextOptions",
    "ErrorObject",
    "ExecutionDetails",
    "InvocationInput",
    "InvocationStatus",
    "Operation",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "StepDetails",
    "StepOptions",
    "ValidationError",
    "WaitDetails",
    "WaitOptions",
]


class OperationType(StrEnum):
    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationStatus(StrEnum):
    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """A terminal operation never changes again; replay returns or raises its outcome."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
        OperationStatus.STOPPED,
    }
)


class OperationAction(StrEnum):
    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class OperationSubType(StrEnum):
    """The subtypes AWS's SDK records for its own operations (the same strings here)."""

    STEP = "Step"
    WAIT = "Wait"
    CALLBACK = "Callback"
    RUN_IN_CHILD_CONTEXT = "RunInChildContext"
    MAP = "Map"
    MAP_ITERATION = "MapIteration"
    PARALLEL = "Parallel"
    PARALLEL_BRANCH = "ParallelBranch"
    WAIT_FOR_CALLBACK = "WaitForCallback"
    WAIT_FOR_CONDITION = "WaitForCondition"
    CHAINED_INVOKE = "ChainedInvoke"


class InvocationStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


class WireModel(BaseModel):
    """Base of every wire shape: PascalCase aliases, unknown fields ignored, immutable."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        # Build each model's validator and serializer when it is first used: a cold
        # start then pays only for the shapes its invocation meets, not all of them.
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The PascalCase dict boto3 and the JSON API expect (unset fields omitted)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _millis(value: _dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


class ErrorObject(WireModel):
    error_message: str | None = None
    error_type: str | None = None
    error_data: str | None = None
    stack_trace: list[str] | None = None


class ExecutionDetails(WireModel):
    input_payload: str | None = None


class ContextDetails(WireModel):
    replay_children: bool | None = None
    result: str | None = None
    error: ErrorObject | None = None


class StepDetails(WireModel):
    attempt: int | None = None
    next_attempt_timestamp: _dt.datetime | None = None
    result: str | None = None
    error: ErrorObject | None = None


class WaitDetails(WireModel):
    scheduled_end_timestamp: _dt.datetime | None = None


class CallbackDetails(WireModel):
    callback_id: str | None = None
    result: str | None = None
    error: ErrorObject | None = None


class ChainedInvokeDetails(WireModel):
    result: str | None = None
    error: ErrorObject | None = None


class Operation(WireModel):
    """One operation of the checkpoint log, as GetDurableExecutionState returns it."""

    id: str = Field(min_length=1)
    parent_id: str | None = None
    name: str | None = None
    type: OperationType
    sub_type: str | None = None
    start_timestamp: _dt.datetime | None = None
    end_timestamp: _dt.datetime | None = None
    status: OperationStatus
    execution_details: ExecutionDetails | None = None
    context_details: ContextDetails | None = None
    step_details: StepDetails | None = None
    wait_details: WaitDetails | None = None
    callback_details: CallbackDetails | None = None
    chained_invoke_details: ChainedInvokeDetails | None = None

    def to_event_json(self) -> dict[str, Any]:
        """The JSON-event form: like ``to_wire`` but timestamps as Unix milliseconds."""
        data = self.to_wire()
        for key, value in (
            ("StartTimestamp", self.start_timestamp),
            ("EndTimestamp", self.end_timestamp),
        ):
            if value is not None:
                data[key] = _millis(value)
        if self.step_details and self.step_details.next_attempt_timestamp:
            data["StepDetails"]["NextAttemptTimestamp"] = _millis(
                self.step_details.next_attempt_timestamp
            )
        if self.wait_details and self.wait_details.scheduled_end_timestamp:
            data["WaitDetails"]["ScheduledEndTimestamp"] = _millis(
                self.wait_details.scheduled_end_timestamp
            )
        return data

    @property
    def result(self) -> str | None:
        """The recorded result payload, whatever the operation type."""
        details = self._details()
        return None if details is None else details.result

    @property
    def error(self) -> ErrorObject | None:
        """The recorded error, whatever the operation type."""
        details = self._details()
        return None if details is None else details.error

    def _details(
        self,
    ) -> StepDetails | ContextDetails | CallbackDetails | ChainedInvokeDetails | None:
        return (
            self.step_details
            or self.context_details
            or self.callback_details
            or self.chained_invoke_details
        )


class ContextOptions(WireModel):
    replay_children: bool | None = None


class StepOptions(WireModel):
    next_attempt_delay_seconds: int | None = None


class WaitOptions(WireModel):
    wait_seconds: int


class CallbackOptions(WireModel):
    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None


class ChainedInvokeOptions(WireModel):
    function_name: str
    tenant_id: str | None = None
    # X-Ray trace header a tracing plugin attaches so the target joins the caller's trace.
    x_amzn_trace_id: str | None = None


class OperationUpdate(WireModel):
    """One change sent in CheckpointDurableExecution's ``Updates``."""

    id: str
    parent_id: str | None = None
    name: str | None = None
    type: OperationType
    sub_type: str | None = None
    action: OperationAction
    payload: str | None = None
    error: ErrorObject | None = None
    context_options: ContextOptions | None = None
    step_options: StepOptions | None = None
    wait_options: WaitOptions | None = None
    callback_options: CallbackOptions | None = None
    chained_invoke_options: ChainedInvokeOptions | None = None


class InitialExecutionState(WireModel):
    """The first page of the checkpoint log, as the event carries it.

    ``operations`` stay the event's wire dicts: ``CheckpointLog.add_wire`` checks their
    identity and validates each one when the engine reads it, so a large log is never
    turned into models all at once.
    """

    operations: list[Any] = Field(default_factory=list)
    next_marker: str | None = None


class InvocationInput(WireModel):
    """The Lambda event of a durable invocation (the operations unparsed, see above)."""

    durable_execution_arn: str = Field(min_length=1)
    checkpoint_token: str = Field(min_length=1)
    initial_execution_state: InitialExecutionState = Field(default_factory=InitialExecutionState)
    # Operations the service changed while the execution was suspended.
    updated_operation_ids: list[str] = Field(default_factory=list)

    @field_validator("initial_execution_state", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value
