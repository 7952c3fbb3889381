"""A minimal driver for core tests: invoke, fire due timers, invoke again.

The full service (history, stores, real time) is durable-testing's LocalService;
core tests only need the service's checkpoint rules, which MemoryBackend owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from durable_core import MemoryBackend, use_backend
from durable_core.execution import LambdaHandler
from durable_core.types import Operation


@dataclass
class Driven:
    arn: str
    responses: list[dict[str, Any]]
    backend: MemoryBackend

    @property
    def final(self) -> dict[str, Any]:
        return self.responses[-1]

    def operations(self) -> list[Operation]:
        return self.backend.operations(self.arn)

    def by_name(self, name: str) -> Operation:
        return next(op for op in self.operations() if op.name == name)


def drive(
    handler: LambdaHandler,
    input_value: Any = None,
    *,
    backend: MemoryBackend | None = None,
    max_invocations: int = 50,
) -> Driven:
    backend = backend or MemoryBackend()
    event = backend.start_execution(input_value)
    arn = event["DurableExecutionArn"]
    responses: list[dict[str, Any]] = []
    for _ in range(max_invocations):
        with use_backend(backend):
            response = handler(event, None)
        responses.append(response)
        if response["Status"] != "PENDING":
            return Driven(arn, responses, backend)
        assert backend.fire_timers(arn), "PENDING with nothing to wait for"
        event = backend.invocation_event(arn)
    raise AssertionError("execution did not finish")


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()
