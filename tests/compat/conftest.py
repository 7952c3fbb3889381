"""The compat tests' helpers: the AWS peer adapter lives in ``tests.compat.aws_peer``, the
driver (``Run``) in ``tests.driver``.

It is re-exported here so the tests keep importing from ``tests.compat.conftest``; the
benchmarks (``benchmarks/run.py``) import the same adapter from ``aws_peer`` directly.
"""

from __future__ import annotations

from tests.compat.aws_peer import (
    AwsServiceClient,
    Invoker,
    LambdaHandler,
    Run,
    aws_invoker,
    execution_id_of,
    our_invoker,
    start,
    to_aws_operation,
    to_our_update,
)
from tests.driver import without_stack_trace

__all__ = [
    "AwsServiceClient",
    "Invoker",
    "LambdaHandler",
    "Run",
    "aws_invoker",
    "execution_id_of",
    "our_invoker",
    "start",
    "to_aws_operation",
    "to_our_update",
    "without_stack_trace",
]
