"""One Lambda cold start, in this fresh interpreter: import an SDK, run its first invocation.

``python benchmarks/first_invocation.py ours|theirs [steps]`` prints one JSON object:
``import_s`` (importing the SDK, as a handler module does), ``invoke_s`` (the first
invocation: a new execution running ``steps`` trivial steps to completion, which builds
whatever each SDK builds on first use), their sum ``total_s``, and ``cpu_s``, the
process CPU time over the same span. ``benchmarks/run.py`` (figure 5b) runs it in fresh
interpreters and takes medians.

Only the standard library is imported before the clock starts. The service is a stub
written against each SDK's own backend interface, so neither SDK's import pulls in the
other (``benchmarks/run.py`` and ``tests/compat/aws_peer.py`` import both) and the
timing holds only what a Lambda function running that SDK pays: the stub accepts every
checkpoint and answers with a new token.
"""

from __future__ import annotations

import time

START = time.perf_counter()
CPU_START = time.process_time()

import json  # noqa: E402 - the clock starts first
import sys  # noqa: E402
from typing import Any  # noqa: E402

EXECUTION_ID = "0123456789abcdef0123456789abcdef"
ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:bench:$LATEST"
    f"/durable-execution/first/{EXECUTION_ID}"
)


def event() -> dict[str, Any]:
    """The first event of a new execution, as the service sends it (JSON form)."""
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-0",
        "InitialExecutionState": {
            "Operations": [
                {
                    "Id": EXECUTION_ID,
                    "Type": "EXECUTION",
                    "Status": "STARTED",
                    "StartTimestamp": 1_795_000_000_000,
                    "ExecutionDetails": {"InputPayload": "{}"},
                }
            ]
        },
    }


def workflow(steps: int) -> Any:
    """``steps`` sequential steps, step i returning i; the result is their sum."""

    def handler(event: Any, ctx: Any) -> int:
        return sum(ctx.step(lambda _, i=i: i) for i in range(steps))

    return handler


def ours(steps: int) -> tuple[float, dict[str, Any]]:
    import durable_closure
    from durable_core import CheckpointResponse, ExecutionOptions, StatePage

    class Service:
        """Our ``DurableBackend``: every checkpoint accepted, a new token each time."""

        def __init__(self) -> None:
            self.calls = 0

        def checkpoint(
            self,
            execution_arn: str,
            checkpoint_token: str,
            updates: Any,
            client_token: str | None = None,
        ) -> CheckpointResponse:
            self.calls += 1
            return CheckpointResponse(checkpoint_token=f"token-{self.calls}")

        def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
            return StatePage(operations=[])

    handler = durable_closure.run(workflow(steps), options=ExecutionOptions(backend=Service()))
    imported = time.perf_counter()
    return imported, handler(event(), None)


def theirs(steps: int) -> tuple[float, dict[str, Any]]:
    from aws_durable_execution_sdk_python.execution import (
        DurableExecutionInvocationInput,
        DurableExecutionInvocationInputWithClient,
        durable_execution,
    )
    from aws_durable_execution_sdk_python.lambda_service import (
        CheckpointOutput,
        CheckpointUpdatedExecutionState,
        StateOutput,
    )

    class Service:
        """AWS's ``DurableServiceClient``: every checkpoint accepted, a new token each time."""

        def __init__(self) -> None:
            self.calls = 0

        def checkpoint(
            self,
            durable_execution_arn: str,
            checkpoint_token: str,
            updates: Any,
            client_token: str | None,
        ) -> CheckpointOutput:
            self.calls += 1
            return CheckpointOutput(
                checkpoint_token=f"token-{self.calls}",
                new_execution_state=CheckpointUpdatedExecutionState(operations=[]),
            )

        def get_execution_state(
            self,
            durable_execution_arn: str,
            checkpoint_token: str,
            next_marker: str,
            max_items: int = 1000,
        ) -> StateOutput:
            return StateOutput(operations=[], next_marker=None)

    handler = durable_execution(workflow(steps))
    inject = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input
    imported = time.perf_counter()
    parsed = DurableExecutionInvocationInput.from_json_dict(event())
    no_lambda_context: Any = None  # AWS's handler is typed to take one; it needs none here
    return imported, dict(handler(inject(parsed, Service()), no_lambda_context))


def main(argv: list[str]) -> int:
    sdk = argv[1]
    steps = int(argv[2]) if len(argv) > 2 else 3
    imported, response = {"ours": ours, "theirs": theirs}[sdk](steps)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "sdk": sdk,
                "import_s": imported - START,
                "invoke_s": done - imported,
                "total_s": done - START,
                "cpu_s": time.process_time() - CPU_START,
                "response": response,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
