"""A handler result over Lambda's response limit, on AWS's SDK and on ours.

AWS's SDK checkpoints it as an EXECUTION SUCCEED update whose id is
``execution-result-<epoch ms>`` and answers ``SUCCEEDED`` with an empty Result; AWS's
runners key that update by its id, so the execution operation's own id must not be used.
"""

from __future__ import annotations

import re
import time
from typing import Any

from aws_durable_execution_sdk_python.execution import durable_execution

from tests.compat.conftest import Run, aws_invoker, execution_id_of, our_invoker, start

# Lambda's response limit less AWS's 50 bytes of envelope, plus one.
OVER_THE_RESPONSE_LIMIT = 6 * 1024 * 1024 - 50 + 1


def big(event: Any, ctx: Any) -> str:
    return "x" * (OVER_THE_RESPONSE_LIMIT - 2)  # its JSON has two quotes more


def result_update(run: Run) -> dict[str, Any]:
    (update,) = [u for call in run.updates_by_call() for u in call]
    return update


def test_a_result_over_the_response_limit_is_checkpointed_as_aws_checkpoints_it() -> None:
    before_ms = time.time_ns() // 1_000_000
    aws_run, our_run = start({}), start({})
    aws_run.until_done(aws_invoker(durable_execution(big)))
    our_run.until_done(our_invoker(big))
    after_ms = time.time_ns() // 1_000_000

    assert our_run.final == aws_run.final == {"Status": "SUCCEEDED", "Result": ""}
    aws_update, our_update = result_update(aws_run), result_update(our_run)
    for update in (aws_update, our_update):
        match = re.fullmatch(r"execution-result-(\d+)", update["Id"])
        assert match is not None, update["Id"]
        assert before_ms <= int(match.group(1)) <= after_ms
    strip = [{k: v for k, v in u.items() if k != "Id"} for u in (our_update, aws_update)]
    assert strip[0] == strip[1]
    assert len(our_update["Payload"]) == OVER_THE_RESPONSE_LIMIT
    # The service applied it to the execution operation, which keeps its own id.
    (execution,) = [op for op in our_run.operations() if op.type.value == "EXECUTION"]
    assert execution.id == execution_id_of(our_run.arn)
    assert execution.status.value == "SUCCEEDED"
