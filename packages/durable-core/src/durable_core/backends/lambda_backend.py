"""``LambdaBackend``: the durable execution API of AWS Lambda, through boto3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from durable_core.backends.base import CheckpointResponse, StatePage
from durable_core.errors import CheckpointError
from durable_core.types import Operation, OperationUpdate, WireFormatError

__all__ = ["LambdaBackend"]

_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "Throttling",
        "ServiceException",
        "ServiceUnavailableException",
        "InternalServerError",
        "RequestTimeout",
    }
)


class LambdaBackend:
    """Talks to CheckpointDurableExecution / GetDurableExecutionState with a boto3 client.

    Pass a ready ``client``, or an ``endpoint_url`` (a local server such as
    ``durable serve`` or AWS's ``dex-local-runner``); by default a client is made from
    the environment, as Lambda provides it. Retries are the checkpointer's job, so the
    default client does not retry by itself.
    """

    def __init__(
        self,
        client: Any | None = None,
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
    ) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "lambda",
                endpoint_url=endpoint_url,
                region_name=region_name,
                config=Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=50,
                ),
            )
        self.client = client

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        params: dict[str, Any] = {
            "DurableExecutionArn": execution_arn,
            "CheckpointToken": checkpoint_token,
            "Updates": [update.to_wire() for update in updates],
        }
        if client_token is not None:
            params["ClientToken"] = client_token
        answer = self._call("checkpoint_durable_execution", params)
        state = answer.get("NewExecutionState") or {}
        token = answer.get("CheckpointToken")
        operations = _operations(state.get("Operations"), "CheckpointDurableExecution")
        # The touched operations may come in pages, like GetDurableExecutionState's.
        marker = state.get("NextMarker")
        seen: set[str] = set()
        while marker and token:
            if marker in seen:
                raise CheckpointError(
                    f"CheckpointDurableExecution's state repeated marker {marker!r}",
                    retryable=False,
                    error_code="MalformedResponse",
                )
            seen.add(marker)
            page = self.get_state(execution_arn, token, marker)
            operations += page.operations
            marker = page.next_marker
        return CheckpointResponse(checkpoint_token=token, operations=operations)

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        answer = self._call(
            "get_durable_execution_state",
            {
                "DurableExecutionArn": execution_arn,
                "CheckpointToken": checkpoint_token,
                "Marker": marker,
                "MaxItems": 1000,
            },
        )
        return StatePage(
            operations=_operations(answer.get("Operations"), "GetDurableExecutionState"),
            next_marker=answer.get("NextMarker") or None,
        )

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self.client, method)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            retryable = code in _RETRYABLE_CODES or status == 429 or status >= 500
            raise CheckpointError(
                f"{method} failed: {code}: {error.get('Message', '')}",
                retryable=retryable,
                error_code=code,
            ) from exc
        except BotoCoreError as exc:
            raise CheckpointError(f"{method} failed: {exc}", retryable=True) from exc
        return answer


def _operations(raw: Any, api: str) -> list[Operation]:
    """Parse the operations of an answer; one the SDK cannot read is a CheckpointError."""
    try:
        return [Operation.from_wire(op) for op in raw or ()]
    except WireFormatError as exc:
        raise CheckpointError(
            f"{api} answered an operation this SDK cannot read: {exc}",
            retryable=False,
            error_code="MalformedResponse",
        ) from None
