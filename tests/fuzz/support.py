"""What a fuzzed input may produce: a durable response or one of the SDK's typed errors."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from durable_core import DurableError

from tests.property.harness import STATS

# The ErrorType of an SDK error in a FAILED response: durable_core.errors.<Class>, or the
# name of AWS's SDK for the errors both SDKs define (SerDesError, StepError...).
SDK_ERROR_PREFIXES = ("durable_core.errors.", "aws_durable_execution_sdk_python.exceptions.")


class Hang(BaseException):
    """An example ran past its bound."""


@contextlib.contextmanager
def bounded(seconds: float = 5.0) -> Iterator[None]:
    """Fail an example that runs longer than ``seconds`` instead of hanging the suite."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"example still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(label: str, call: Any, *args: Any) -> dict[str, Any] | DurableError:
    """Run ``call``; return its durable response or the typed error it raised.

    Anything else (an untyped exception, a malformed response, a hang) fails the test.
    """
    with bounded():
        try:
            response = call(*args)
        except DurableError as exc:
            STATS[f"{label}: {type(exc).__name__}"] += 1
            return exc
    assert isinstance(response, dict), response
    assert response.get("Status") in ("SUCCEEDED", "FAILED", "PENDING"), response
    if response["Status"] == "FAILED":
        error_type = response["Error"]["ErrorType"]
        assert error_type.startswith(SDK_ERROR_PREFIXES), response["Error"]
        STATS[f"{label}: FAILED {error_type.rsplit('.', 1)[-1]}"] += 1
    else:
        STATS[f"{label}: {response['Status']}"] += 1
    return response
