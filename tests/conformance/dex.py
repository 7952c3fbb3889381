"""Run conformance requirements on AWS's ``dex-local-runner`` (server mode), as on Lambda.

The runner invokes our handlers through a loopback Lambda ``Invoke`` endpoint and they
checkpoint back to it through ``LambdaBackend`` (boto3). Time is real
(``--no-skip-time``, see ``tests/e2e/conftest.py``), so the validator polls the runner
and answers callbacks itself, ``Delay`` seconds after they start, as against Lambda.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_core.execution import LambdaHandler

from tests.conformance.aws_validator import Invocation, InvokeError, PlaceholderContext
from tests.e2e.conftest import DEX_LOCAL_RUNNER, DUMMY_CREDENTIALS, dex_local_runner
from tests.http.support import lambda_client, start_execution, wait_for_end

__all__ = ["dex_service"]

# The longest a synchronous requirement runs in real time (its waits and retry delays).
ENDS_WITHIN = 60.0


@dataclass
class _DexService:
    url: str
    lambda_client: Any
    poll_interval_seconds: float = 0.25

    def invoke(self, call: Invocation, context: PlaceholderContext) -> str:
        name = f"{call.function}-{uuid.uuid4().hex[:12]}"
        arn = start_execution(self.url, call.function, call.input, name)
        if not call.asynchronous:  # Lambda answers a synchronous invoke at the end
            try:
                wait_for_end(self.lambda_client, arn, timeout=ENDS_WITHIN)
            except TimeoutError as exc:
                raise InvokeError(call.function, str(exc)) from exc
        return arn


_ENDPOINT = "AWS_ENDPOINT_URL_LAMBDA"
# The runner with its one fix (``tests/conformance/dex_runner.py``), or as released.
PATCHED = (sys.executable, str(Path(__file__).with_name("dex_runner.py")))
RELEASED = (str(DEX_LOCAL_RUNNER),)


@contextlib.contextmanager
def dex_service(
    handlers: Mapping[str, LambdaHandler],
    functions: Mapping[str, LambdaHandler],
    runner: tuple[str, ...] = PATCHED,
) -> Iterator[_DexService]:
    """One runner serving ``handlers`` (started by name) and ``functions`` (invoked by name).

    The handlers' boto3 clients sign with dummy credentials, as the runner's own do;
    ``AWS_ENDPOINT_URL_LAMBDA`` tells AWS's SDK (``aws_handlers.py``) where the runner is.
    """
    saved = {name: os.environ.get(name) for name in (*DUMMY_CREDENTIALS, _ENDPOINT)}
    os.environ.update(DUMMY_CREDENTIALS)
    try:
        served = {**functions, **handlers}
        with dex_local_runner(served, durable_targets=tuple(functions), runner=runner) as url:
            os.environ[_ENDPOINT] = url
            yield _DexService(url, lambda_client(url))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
