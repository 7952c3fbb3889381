"""Run AWS's Python SDK and ours on the very same ``MemoryBackend`` (the AWS peer adapter).

Shared by the compat tests (re-exported by ``tests/compat/conftest.py``) and by
``benchmarks/run.py``, so both drive AWS's SDK through one adapter.

``AwsServiceClient`` implements AWS's ``DurableServiceClient`` protocol on top of our
``MemoryBackend``: AWS's ``OperationUpdate``s go in through their PascalCase dict form
(``to_dict`` -> our ``OperationUpdate.from_wire``) and our ``Operation``s come back
through their boto3 form (``to_wire`` with datetimes -> their ``Operation.from_dict``).
So every checkpoint either SDK sends is recorded in ``MemoryBackend.calls``, validated by
the same service rules, and replayable by the other SDK.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python.exceptions import CheckpointError as AwsCheckpointError
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    StateOutput,
)
from aws_durable_execution_sdk_python.lambda_service import Operation as AwsOperation
from aws_durable_execution_sdk_python.lambda_service import (
    OperationUpdate as AwsOperationUpdate,
)
from durable_core import CheckpointError, ExecutionOptions, MemoryBackend, run_invocation
from durable_core.execution import LambdaHandler
from durable_core.types import Operation, OperationUpdate

Invoker = Callable[["Run", dict[str, Any]], dict[str, Any]]


# -- conversions between the two SDKs' wire models ---------------------------------


def _parse_ts(value: Any) -> Any:
    """boto3 hands timestamps to AWS's SDK as datetimes; ``to_wire`` writes ISO strings."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def to_aws_operation(op: Operation) -> AwsOperation:
    data = op.to_wire()
    for key in ("StartTimestamp", "EndTimestamp"):
        if key in data:
            data[key] = _parse_ts(data[key])
    if "NextAttemptTimestamp" in data.get("StepDetails", {}):
        data["StepDetails"]["NextAttemptTimestamp"] = _parse_ts(
            data["StepDetails"]["NextAttemptTimestamp"]
        )
    if "ScheduledEndTimestamp" in data.get("WaitDetails", {}):
        data["WaitDetails"]["ScheduledEndTimestamp"] = _parse_ts(
            data["WaitDetails"]["ScheduledEndTimestamp"]
        )
    return AwsOperation.from_dict(data)


def to_our_update(update: AwsOperationUpdate) -> OperationUpdate:
    return OperationUpdate.from_wire(update.to_dict())


class AwsServiceClient:
    """AWS's ``DurableServiceClient`` protocol, served by our ``MemoryBackend``."""

    def __init__(
        self, backend: MemoryBackend, sink: list[list[dict[str, Any]]] | None = None
    ) -> None:
        self.backend = backend
        # AWS's own dict form of every call's updates, before our model parses them.
        self.raw_updates: list[list[dict[str, Any]]] = sink if sink is not None else []

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[AwsOperationUpdate],
        client_token: str | None,
    ) -> CheckpointOutput:
        self.raw_updates.append([dict(u.to_dict()) for u in updates])
        ours = [to_our_update(u) for u in updates]
        try:
            response = self.backend.checkpoint(
                durable_execution_arn, checkpoint_token, ours, client_token
            )
        except CheckpointError as exc:
            raise AwsCheckpointError(str(exc)) from exc
        return CheckpointOutput(
            checkpoint_token=response.checkpoint_token,
            new_execution_state=CheckpointUpdatedExecutionState(
                operations=[to_aws_operation(op) for op in response.operations]
            ),
        )

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> StateOutput:
        page = self.backend.get_state(durable_execution_arn, checkpoint_token, next_marker)
        return StateOutput(
            operations=[to_aws_operation(op) for op in page.operations],
            next_marker=page.next_marker,
        )


# -- invoking either SDK -------------------------------------------------------------


def aws_invoker(handler: LambdaHandler) -> Invoker:
    """Invoke a handler decorated with AWS's ``@durable_execution`` against ``backend``.

    The JSON event our backend produces is parsed by AWS's own event parser, then the
    service client is injected the way AWS's testing framework does it.
    """

    def invoke(run: Run, event: dict[str, Any]) -> dict[str, Any]:
        parsed = DurableExecutionInvocationInput.from_json_dict(event)
        client = AwsServiceClient(run.backend, run.aws_raw_updates)
        inject = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input
        with_client = inject(parsed, client)
        return dict(handler(with_client, None))

    return invoke


def our_invoker(handler: Callable[[Any, Any], Any]) -> Invoker:
    """Invoke a handler ``(event, ctx)`` with our engine against ``backend``."""

    def invoke(run: Run, event: dict[str, Any]) -> dict[str, Any]:
        return run_invocation(handler, event, None, ExecutionOptions(backend=run.backend))

    return invoke


@dataclass
class Run:
    """One execution driven on one backend, possibly by several invokers."""

    backend: MemoryBackend
    arn: str
    responses: list[dict[str, Any]] = field(default_factory=list)
    aws_raw_updates: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, Any]:
        return self.responses[-1]

    def invoke(self, invoker: Invoker) -> dict[str, Any]:
        """One invocation; on PENDING, time passes (due timers fire) afterwards."""
        event = self.backend.invocation_event(self.arn)
        response = invoker(self, event)
        self.responses.append(response)
        if response["Status"] == "PENDING":
            assert self.backend.fire_timers(self.arn), "suspended with nothing to fire"
        return response

    def until_done(self, invoker: Invoker, max_invocations: int = 20) -> dict[str, Any]:
        for _ in range(max_invocations):
            if self.invoke(invoker)["Status"] != "PENDING":
                return self.final
        raise AssertionError(f"no terminal status after {max_invocations} invocations")

    def updates(self, *, stack_traces: bool = False) -> list[list[dict[str, Any]]]:
        """Every non-empty checkpoint call's updates, in the wire form, call by call.

        Error StackTraces are left out unless asked for: ours records the traceback of the
        user's exception there (issue 13), AWS's SDK leaves the field empty; every other
        field must be equal.
        """
        return [
            [
                without_stack_trace(u.to_wire()) if not stack_traces else u.to_wire()
                for u in call.updates
            ]
            for call in self.backend.calls
            if call.execution_arn == self.arn and call.updates
        ]

    def operations(self) -> list[Operation]:
        return self.backend.operations(self.arn)

    def by_name(self, name: str) -> Operation:
        return next(op for op in self.operations() if op.name == name)


def without_stack_trace(update: dict[str, Any]) -> dict[str, Any]:
    """An update or a response with its error's StackTrace left out."""
    error = update.get("Error")
    if error is None or "StackTrace" not in error:
        return update
    return {**update, "Error": {k: v for k, v in error.items() if k != "StackTrace"}}


def execution_id_of(arn: str) -> str:
    """The id of the EXECUTION operation, as AWS's SDK derives it: the ARN's last segment.

    (``ExecutionState.get_execution_operation`` in AWS's SDK: the service names the
    EXECUTION operation after the invocation id at the end of the execution ARN.)
    """
    return arn.split("/")[-1]


def start(input_value: Any = None, *, name: str = "compat") -> Run:
    """A fresh backend with one execution started with ``input_value``."""
    backend = MemoryBackend()
    event = backend.start_execution(input_value, name=name)
    return Run(backend, event["DurableExecutionArn"])
