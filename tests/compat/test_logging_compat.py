"""Log records: the keys AWS's SDK adds, and the user's line as the record's location.

AWS's SDK is the oracle for the keys: the same workflow logs from the root context,
a named and an unnamed step, a step inside a child context and a condition check, on
both SDKs; every record must carry the same extra fields with the same values. Lambda's
JSON log format lifts those fields to the top level, where CloudWatch queries and AWS's
conformance validator look for them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aws_durable_execution_sdk_python.execution import durable_execution
from durable_core import ExecutionOptions, MemoryBackend, run_invocation

from tests.compat.conftest import aws_invoker, start
from tests.compat.test_ops_compat import aws_condition, our_condition

# The fields a LogRecord has whatever the caller passes: what is left are the extras.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class Recording(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def extras(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (r.getMessage(), {k: v for k, v in vars(r).items() if k not in _STANDARD})
            for r in self.records
        ]


@pytest.fixture
def recording() -> Iterator[Recording]:
    """Records of the root logger (AWS's SDK's default) and of ``durable`` (ours)."""
    handler, root = Recording(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def workflow(condition: Any) -> Any:
    def handler(event: Any, ctx: Any) -> str:
        ctx.logger.info("root")
        ctx.step(lambda s: s.logger.info("named step"), name="charge")
        ctx.step(lambda s: s.logger.info("unnamed step"))

        def child(child_ctx: Any) -> None:
            child_ctx.logger.info("child")
            child_ctx.step(lambda s: s.logger.info("step in child"), name="inner")

        ctx.run_in_child_context(child, name="group")

        def check(state: dict[str, int], check_ctx: Any) -> dict[str, int]:
            check_ctx.logger.info("check")
            return {"n": 3}

        ctx.wait_for_condition(check, condition, name="poll")
        return "done"

    return handler


def test_records_carry_the_keys_and_values_aws_sdk_logs(recording: Recording) -> None:
    aws_run = start()
    aws_response = aws_invoker(durable_execution(workflow(aws_condition())))(
        aws_run, aws_run.backend.invocation_event(aws_run.arn)
    )
    aws_records = recording.extras()
    recording.records.clear()

    backend = MemoryBackend()
    event = backend.start_execution(None, name="compat")
    response = run_invocation(
        workflow(our_condition()), event, None, ExecutionOptions(backend=backend)
    )
    ours = recording.extras()

    assert aws_response["Status"] == response["Status"] == "SUCCEEDED"
    assert [message for message, _ in aws_records] == [
        "root",
        "named step",
        "unnamed step",
        "child",
        "step in child",
        "check",
    ]
    # The ids derive from the same counters; only the ARNs differ (two executions).
    assert ours == [
        (message, {**extra, "executionArn": event["DurableExecutionArn"]})
        for message, extra in aws_records
    ]
    assert set(ours[1][1]) == {"executionArn", "operationId", "operationName", "attempt"}


class PowertoolsStyleLogger:
    """How AWS Lambda Powertools' ``Logger`` (3.x) forwards a call to its stdlib logger:
    ``def info(self, msg, *args, exc_info=None, stack_info=False, stacklevel=2,
    extra=None, **kwargs)`` calls ``self._logger.info(msg, *args, ..., stacklevel=stacklevel,
    extra=extra)`` from inside its own method, so its ``stacklevel=2`` is its caller."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def info(
        self,
        msg: object,
        *args: object,
        stacklevel: int = 2,
        extra: dict[str, object] | None = None,
    ) -> None:
        self._logger.info(msg, *args, stacklevel=stacklevel, extra=extra)


@pytest.mark.parametrize("kind", ["stdlib", "powertools"])
def test_the_location_of_a_record_is_the_users_line(kind: str, recording: Recording) -> None:
    logger = logging.getLogger("orders")
    lines: list[int] = []

    def handler(event: Any, ctx: Any) -> None:
        lines.append(sys._getframe().f_lineno + 1)
        ctx.logger.info("from the handler")

        def body(step_ctx: Any) -> None:
            lines.append(sys._getframe().f_lineno + 1)
            step_ctx.logger.info("from a step")

        ctx.step(body)

    wrapped: Any = logger if kind == "stdlib" else PowertoolsStyleLogger(logger)
    backend = MemoryBackend()
    event = backend.start_execution(None, name="location")
    run_invocation(handler, event, None, ExecutionOptions(backend=backend, logger=wrapped))

    located = [(r.pathname, r.lineno, r.funcName) for r in recording.records]
    assert located == [(__file__, lines[0], "handler"), (__file__, lines[1], "body")]
