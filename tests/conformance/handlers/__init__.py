"""One handler per conformance requirement, keyed by requirement id, for our SDK.

Each suite module holds ``HANDLERS``; ``FUNCTIONS`` are the extra functions that
requirements invoke by name (``ctx.invoke``), registered on every service.
"""

from __future__ import annotations

from durable_core import LambdaHandler

from tests.conformance.handlers import (
    callback,
    child,
    invoke,
    map,
    parallel,
    plugin,
    step,
    wait,
    wait_for_callback,
    wait_for_condition,
)

__all__ = ["FUNCTIONS", "HANDLERS"]

HANDLERS: dict[str, LambdaHandler] = {}
FUNCTIONS: dict[str, LambdaHandler] = {}

for _suite in (
    step,
    wait,
    child,
    callback,
    invoke,
    wait_for_condition,
    wait_for_callback,
    parallel,
    map,
    plugin,
):
    HANDLERS.update(_suite.HANDLERS)
FUNCTIONS.update(invoke.FUNCTIONS)
