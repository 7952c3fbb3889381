"""The pytest plugin of durable-testing: the ``durable_runner`` fixture.

Installed with the package (a ``pytest11`` entry point), so any test can ask for it::

    def test_order(durable_runner):
        result = durable_runner(handler).run({"order_id": "o-1"})
        assert result.operation("charge").status == "SUCCEEDED"
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from durable_core.execution import LambdaHandler

from durable_testing.runner import DurableTestRunner

__all__ = ["durable_runner"]


@pytest.fixture
def durable_runner() -> Callable[[LambdaHandler], DurableTestRunner]:
    """A factory: ``durable_runner(handler)`` is a ``DurableTestRunner`` with time skipped."""

    def make(handler: LambdaHandler) -> DurableTestRunner:
        return DurableTestRunner(handler)

    return make
