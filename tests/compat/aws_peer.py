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

from tests.driver import Execution, Invoker
from tests.driver import start as start_execution

#: An execution driven on one backend, possibly by several invokers (the tests' driver).
Run = Execution


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


def execution_id_of(arn: str) -> str:
    """The id of the EXECUTION operation, as AWS's SDK derives it: the ARN's last segment.

    (``ExecutionState.get_execution_operation`` in AWS's SDK: the service names the
    EXECUTION operation after the invocation id at the end of the execution ARN.)
    """
    return arn.split("/")[-1]


def start(input_value: Any = None, *, name: str = "compat") -> Run:
    """A fresh backend with one execution started with ``input_value``; time passes
    (due timers fire) after each PENDING answer, whichever SDK gave it."""
    return start_execution(None, input_value, name=name, fires_timers=True)
