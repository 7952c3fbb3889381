"""The core tests' fixtures; the driver itself is ``tests.driver.Execution``.

The full service (history, stores, real time) is durable-testing's LocalService;
core tests only need the service's checkpoint rules, which MemoryBackend owns.
"""

from __future__ import annotations

from typing import Any

import pytest
from durable_core import MemoryBackend
from durable_core.execution import LambdaHandler

from tests.driver import Execution, start


def drive(
    handler: LambdaHandler,
    input_value: Any = None,
    *,
    backend: MemoryBackend | None = None,
    max_invocations: int = 50,
) -> Execution:
    """Start an execution and run it to its end, firing timers between invocations."""
    return start(handler, input_value, backend=backend).run_to_end(max_invocations=max_invocations)


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()
