"""The durable execution operations of the Lambda API, answered by a ``LocalService``.

Each method takes a request's members by their model names (already checked against
the model) and returns the response's members. Checkpoints and state reads go to the
service's ``handler_backend``, everything else to the service or its store; each of
them locks what it needs, and none is held while a handler runs, so a handler invoked
by the scheduler can call any route while its invocation runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from durable_core.backends.base import DurableBackend
from durable_core.backends.memory import ServiceError
from durable_core.errors import CheckpointError
from durable_core.types import ErrorObject, OperationUpdate

from durable_testing.http.errors import (
    ApiError,
    from_checkpoint_error,
    invalid_parameter,
    not_found,
)
from durable_testing.local_service import LocalService
from durable_testing.stores import ExecutionSummary, StoredExecution

__all__ = ["START_EXECUTION_PATH", "DurableApi", "Route"]

START_EXECUTION_PATH = "/start-durable-execution"
"""Where AWS's ``dex-local-runner`` starts executions; its body is mirrored here."""

# The members dex-local-runner requires in a start request.
_START_REQUIRED = (
    "AccountId",
    "FunctionName",
    "FunctionQualifier",
    "ExecutionName",
    "ExecutionTimeoutSeconds",
    "ExecutionRetentionPeriodDays",
)
_EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True)
class Route:
    """An operation's HTTP binding: method and a regex over the raw (still quoted) path."""

    operation: str
    method: str
    path: re.Pattern[str]

    @classmethod
    def from_uri(cls, operation: str, method: str, request_uri: str) -> Route:
        """``/2025-12-01/durable-executions/{DurableExecutionArn}/state`` -> a regex.

        botocore percent-encodes a non-greedy label, so a label is one path segment.
        """
        parts = re.split(r"(\{[^}]+\})", request_uri.split("?")[0])
        regex = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in parts
        )
        return cls(operation, method, re.compile(regex + "$"))


def checkpoint_answer(backend: DurableBackend, params: dict[str, Any]) -> dict[str, Any]:
    """CheckpointDurableExecution on ``backend``, request and answer in boto3's shapes
    (the server's route, and an in-process boto3-shaped client such as the benchmark's)."""
    answer = backend.checkpoint(
        params["DurableExecutionArn"],
        params["CheckpointToken"],
        [OperationUpdate.from_wire(u) for u in params.get("Updates") or ()],
        params.get("ClientToken"),
    )
    return {
        "CheckpointToken": answer.checkpoint_token,
        "NewExecutionState": {"Operations": [op.to_wire() for op in answer.operations]},
    }


def state_answer(backend: DurableBackend, params: dict[str, Any]) -> dict[str, Any]:
    """GetDurableExecutionState on ``backend``, in boto3's shapes (see ``checkpoint_answer``)."""
    page = backend.get_state(
        params["DurableExecutionArn"], params["CheckpointToken"], params.get("Marker", "")
    )
    return {"Operations": [op.to_wire() for op in page.operations], "NextMarker": page.next_marker}


class DurableApi:
    """The operations the server routes to, by their model names."""

    def __init__(self, service: LocalService) -> None:
        self.service = service

    def handler(self, operation: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        method: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
            self, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        )
        return method

    # -- the handler's side -------------------------------------------------------

    def checkpoint_durable_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        with _backend_errors():
            return checkpoint_answer(self.service.handler_backend, params)

    def get_durable_execution_state(self, params: dict[str, Any]) -> dict[str, Any]:
        with _backend_errors():
            return state_answer(self.service.handler_backend, params)

    # -- the caller's side --------------------------------------------------------

    def start_durable_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /start-durable-execution`` with dex-local-runner's body; answers 201."""
        missing = [name for name in _START_REQUIRED if name not in body]
        if missing:
            raise invalid_parameter(f"Missing required field: {missing[0]}")
        name, execution_name = body["FunctionName"], body["ExecutionName"]
        if not isinstance(execution_name, str) or not _EXECUTION_NAME.fullmatch(execution_name):
            raise invalid_parameter("ExecutionName must match [a-zA-Z0-9_-]{1,64}")
        raw_input = body.get("Input")
        try:
            input_value = json.loads(raw_input) if raw_input else None
        except (TypeError, ValueError) as exc:
            raise invalid_parameter(f"Input is not a JSON document: {exc}") from None
        try:
            arn = self.service.start(str(name), input_value, execution_name=execution_name)
        except KeyError:
            raise not_found(f"Function not found: {name}") from None
        except ServiceError as exc:
            raise ApiError(exc.code, exc.message) from None
        return {"ExecutionArn": arn}

    def get_durable_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self._stored(params["DurableExecutionArn"])
        include_data = params.get("IncludeExecutionData", True)
        answer = {
            **_summary(execution),
            "ExecutionDataIncluded": include_data,
            "Version": "$LATEST",
        }
        if include_data:
            first = execution.operations[0] if execution.operations else None
            details = first.execution_details if first else None
            answer["InputPayload"] = details.input_payload if details else None
            answer["Result"] = execution.result
        answer["Error"] = execution.error.to_wire() if execution.error else None
        return answer

    def get_durable_execution_history(self, params: dict[str, Any]) -> dict[str, Any]:
        events = list(self._stored(params["DurableExecutionArn"]).events)
        if params.get("ReverseOrder"):
            events.reverse()
        page, marker = _page(events, params)
        return {"Events": page, "NextMarker": marker}

    def list_durable_executions_by_function(self, params: dict[str, Any]) -> dict[str, Any]:
        function = _function_name(params["FunctionName"])
        statuses = params.get("Statuses")
        name = params.get("DurableExecutionName")
        after, before = params.get("StartedAfter"), params.get("StartedBefore")
        executions = [
            e
            for e in self.service.store.summaries(function)
            if (statuses is None or e.status.value in statuses)
            and (name is None or _name_of(e.arn) == name)
            and (after is None or e.start_timestamp > after)
            and (before is None or e.start_timestamp < before)
        ]
        executions.sort(key=lambda e: e.start_timestamp, reverse=bool(params.get("ReverseOrder")))
        page, marker = _page([_summary(e) for e in executions], params)
        return {"DurableExecutions": page, "NextMarker": marker}

    def stop_durable_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["DurableExecutionArn"]
        error = ErrorObject.from_wire(params["Error"]) if params.get("Error") else None
        self._stored(arn)
        with _callback_errors():
            return {"StopTimestamp": self.service.stop(arn, error=error)}

    def send_durable_execution_callback_success(self, params: dict[str, Any]) -> dict[str, Any]:
        with _callback_errors():
            self.service.send_callback_success(params["CallbackId"], payload=params.get("Result"))
        return {}

    def send_durable_execution_callback_failure(self, params: dict[str, Any]) -> dict[str, Any]:
        error = ErrorObject.from_wire(params.get("Error") or {})
        with _callback_errors():
            self.service.send_callback_failure(
                params["CallbackId"],
                error_type=error.error_type,
                error_message=error.error_message,
                error_data=error.error_data,
            )
        return {}

    def send_durable_execution_callback_heartbeat(self, params: dict[str, Any]) -> dict[str, Any]:
        with _callback_errors():
            self.service.send_callback_heartbeat(params["CallbackId"])
        return {}

    def _stored(self, arn: str) -> StoredExecution:
        execution = self.service.store.load(arn)
        if execution is None:
            raise not_found(f"Durable execution not found: {arn}")
        return execution


@contextmanager
def _backend_errors() -> Iterator[None]:
    try:
        yield
    except CheckpointError as exc:
        raise from_checkpoint_error(exc) from None


@contextmanager
def _callback_errors() -> Iterator[None]:
    """The service names the API error of a callback call it refuses (unknown, closed)."""
    try:
        yield
    except ServiceError as exc:
        raise ApiError(exc.code, exc.message) from None


def _summary(execution: StoredExecution | ExecutionSummary) -> dict[str, Any]:
    """The ``Execution`` shape of ``ListDurableExecutionsByFunction``."""
    return {
        "DurableExecutionArn": execution.arn,
        "DurableExecutionName": _name_of(execution.arn),
        "FunctionArn": execution.arn.split("/durable-execution/")[0],
        "Status": execution.status.value,
        "StartTimestamp": execution.start_timestamp,
        "EndTimestamp": execution.end_timestamp,
    }


def _name_of(arn: str) -> str:
    return arn.split("/durable-execution/")[-1].split("/")[0]


def _function_name(name_or_arn: str) -> str:
    """``my-fn``, ``my-fn:alias`` or ``arn:...:function:my-fn[:qualifier]`` -> ``my-fn``."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:")[1].split(":")[0]
    return name_or_arn.split(":")[0]


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """``Marker`` is the index of the next item; ``MaxItems`` 0 or absent means 1000."""
    marker = params.get("Marker") or "0"
    if not marker.isdigit():
        raise invalid_parameter(f"Invalid Marker {marker!r}")
    start = int(marker)
    end = start + (params.get("MaxItems") or 1000)
    return items[start:end], str(end) if end < len(items) else None
