"""The service client of an invocation handed over by AWS's test runner, as our backend.

AWS's in-process ``DurableFunctionTestRunner`` (aws-durable-execution-sdk-python-testing)
calls the handler with an invocation object instead of the Lambda event: the event's
fields as attributes, and a ``service_client`` that checkpoints into the runner. So a team
moving from AWS's SDK keeps its tests, ``run_invocation`` reads that object as the event
(``invocation_event``) and checkpoints through its client with this adapter.

The client speaks AWS's SDK's types; they are taken from the module of the object the
runner handed us, so AWS's package is never imported unless it is already running.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from durable_core.backends.base import CheckpointResponse, StatePage
from durable_core.errors import CheckpointError
from durable_core.types import Operation, OperationUpdate

__all__ = ["AwsServiceClientBackend", "invocation_event"]

_AWS_TYPES = "aws_durable_execution_sdk_python.lambda_service"


def invocation_event(event: Any) -> tuple[Any, AwsServiceClientBackend | None]:
    """The Lambda event an invocation object stands for, and a backend over its client.

    Anything but such an object (a dict, above all) is returned as it is, with no backend.
    """
    if isinstance(event, dict) or not hasattr(event, "initial_execution_state"):
        return event, None
    to_dict = getattr(event, "to_dict", None)
    if not callable(to_dict):
        return event, None
    client = getattr(event, "service_client", None)
    return dict(to_dict()), AwsServiceClientBackend(client) if client is not None else None


class AwsServiceClientBackend:
    """``DurableBackend`` over AWS's ``DurableServiceClient`` protocol (``checkpoint`` and
    ``get_execution_state`` in AWS's SDK's types)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._update_type: Any = importlib.import_module(_AWS_TYPES).OperationUpdate

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        theirs = [self._update_type.from_dict(update.to_wire()) for update in updates]
        try:
            output = self._client.checkpoint(execution_arn, checkpoint_token, theirs, client_token)
        except Exception as exc:
            retryable = getattr(exc, "is_retryable", None)
            raise CheckpointError(
                f"the runner's service client refused the checkpoint: {exc}",
                retryable=bool(retryable()) if callable(retryable) else True,
            ) from exc
        state = output.new_execution_state
        operations = [] if state is None else _ours(state.operations)
        return CheckpointResponse(output.checkpoint_token, operations)

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        output = self._client.get_execution_state(execution_arn, checkpoint_token, marker)
        return StatePage(_ours(output.operations), output.next_marker or None)


def _ours(operations: Sequence[Any]) -> list[Operation]:
    return [Operation.from_wire(op.to_dict()) for op in operations]
