"""Callbacks, chained invokes, parallel, map and wait_for_condition through ``LambdaBackend``.

Every test runs twice: against our ``LambdaApiServer`` (real time, so callback and
heartbeat timeouts mean what they say) and against AWS's ``dex-local-runner``. Each
handler checkpoints over HTTP with boto3; the test drives the execution only through the
Lambda API as a user would: ``POST /start-durable-execution``, ``GetDurableExecution``,
``GetDurableExecutionHistory`` (where it finds a callback's id) and a plain boto3 client's
``SendDurableExecutionCallback*``. Expected results are arithmetic on the input; the
parallel, map and wait_for_condition workflows are also run on the embedded
``LocalService`` and must agree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    Callback,
    CallbackConfig,
    CallbackError,
    DurableContext,
    InvokeError,
    MapConfig,
    ParallelConfig,
    StepConfig,
    StepContext,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    condition,
    fixed_wait,
    no_retry,
)
from durable_core.execution import LambdaHandler
from durable_testing import LocalService
from durable_testing.clock import RealClock

from tests.e2e.conftest import dex_local_runner, events_of, names_of, our_server
from tests.http.support import lambda_client, start_execution, wait_for_end, wait_for_operation

# Every wait below is real time on both services; bounded polls stay well above it.
ENDS_WITHIN = 30.0


# -- callbacks ------------------------------------------------------------------------


def approval(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """Create a callback, let the outside answer it; a failure is left to fail the run."""
    callback = ctx.create_callback(name="approval", config=CallbackConfig(timeout_seconds=60))
    answer = callback.result()  # the payload string as the sender sent it
    return {"order": event["order"], "approval": json.loads(answer)}


def approval_by_submitter(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """``wait_for_callback`` with a heartbeat timeout shorter than the whole wait."""
    config = WaitForCallbackConfig[str](timeout_seconds=60, heartbeat_timeout_seconds=2)
    answer = ctx.wait_for_callback(lambda callback_id, _: None, name="review", config=config)
    return {"order": event["order"], "review": json.loads(answer)}


def unanswered(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """Nobody answers: one callback times out, the other misses its heartbeat."""
    ignored = ctx.create_callback(name="ignored", config=CallbackConfig(timeout_seconds=1))
    silent = ctx.create_callback(
        name="silent", config=CallbackConfig(timeout_seconds=60, heartbeat_timeout_seconds=1)
    )
    return {"ignored": callback_failure(ignored), "silent": callback_failure(silent)}


def callback_failure(callback: Callback[Any]) -> dict[str, Any]:
    """How ``result()`` fails: the exception's class and the type the service recorded."""
    try:
        return {"result": callback.result()}
    except CallbackError as exc:
        return {"raised": type(exc).__name__, "type": exc.error_type}


# -- chained invokes ------------------------------------------------------------------


def pricing(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """The invoked durable function: a step and a wait, so it suspends once."""
    net = ctx.step(lambda _: event["quantity"] * event["unit_price"], name="net")
    ctx.wait(1, name="settle")
    return {"net": net, "gross": net + net // 5}


FAIL_AT_ONCE = StepConfig[int](retry=no_retry)


def rejecting(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    def refuse(_: StepContext) -> int:
        raise PermissionError(f"quantity {event['quantity']} is over the limit")

    return {"never": ctx.step(refuse, name="refuse", config=FAIL_AT_ONCE)}


def checkout(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    """Invokes ``pricing`` by name, then the failing ``rejecting`` and an unknown function."""
    quote = ctx.invoke("pricing", {"quantity": event["quantity"], "unit_price": 15}, name="quote")
    refused = [
        invoke_error(ctx, "rejecting", {"quantity": event["quantity"]}, "limit"),
        invoke_error(ctx, "no-such-function", {}, "nowhere"),
    ]
    return {"quote": quote, "refused": refused}


def invoke_error(ctx: DurableContext, function: str, payload: Any, name: str) -> Any:
    """The type and message of the ``InvokeError`` invoking ``function`` raises."""
    try:
        return {"result": ctx.invoke(function, payload, name=name)}
    except InvokeError as exc:
        return {"type": exc.error_type, "message": exc.message}


# -- parallel, map, wait_for_condition --------------------------------------------------


def fan_out(event: dict[str, Any], ctx: DurableContext) -> list[int]:
    """Four branches, two at a time; each waits between two steps."""
    base: int = event["base"]

    def branch(i: int) -> Callable[[DurableContext], int]:
        def body(c: DurableContext) -> int:
            square = c.step(lambda _: (base + i) ** 2, name=f"square {i}")
            c.wait(1, name=f"rest {i}")
            return c.step(lambda _: square + i, name=f"add {i}")

        return body

    batch = ctx.parallel(
        [branch(i) for i in range(4)], name="fan", config=ParallelConfig(max_concurrency=2)
    )
    return batch.get_results()


def per_item(event: dict[str, Any], ctx: DurableContext) -> list[int]:
    """Five items, three at a time; each waits between two steps."""
    rate: int = event["rate"]

    def price(c: DurableContext, item: int, index: int, _: Any) -> int:
        cents = c.step(lambda _: item * rate, name=f"cents {index}")
        c.wait(1, name=f"cool {index}")
        return c.step(lambda _: cents - index, name=f"discount {index}")

    batch = ctx.map(event["items"], price, name="prices", config=MapConfig(max_concurrency=3))
    return batch.get_results()


def poll(event: dict[str, Any], ctx: DurableContext) -> dict[str, int]:
    """Poll every second until the counter reaches ``event["target"]``."""
    config = WaitForConditionConfig[dict[str, int]](
        wait_strategy=condition(lambda s: s["count"] < event["target"], fixed_wait(1)),
        initial_state={"count": 0, "total": 0},
    )
    return ctx.wait_for_condition(
        lambda s, _: {"count": s["count"] + 1, "total": s["total"] + s["count"] + 1},
        config=config,
        name="until ready",
    )


# -- a branch whose wait ends while the invocation still runs ----------------------------


def slow_step(_: StepContext) -> str:
    time.sleep(1.5)  # outlasts the other branch's 1 s wait, inside one invocation
    return "slow"


def straggler(event: dict[str, Any], ctx: DurableContext) -> list[str]:
    """One branch waits 1 s while the other's step runs 1.5 s in the same invocation."""

    def short(c: DurableContext) -> str:
        c.wait(1, name="short")
        return "waited"

    batch = ctx.parallel([short, lambda c: c.step(slow_step, name="slow")], name="both")
    return batch.get_results()


class AnswerLog:
    """A handler that records the Status it answered each invocation, by execution."""

    def __init__(self, handler: LambdaHandler) -> None:
        self.handler = handler
        self.statuses: dict[str, list[str]] = {}

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        answer = self.handler(event, context)
        self.statuses.setdefault(event["DurableExecutionArn"], []).append(answer["Status"])
        return answer

    def first(self, arn: str, timeout: float = ENDS_WITHIN) -> str:
        deadline = time.monotonic() + timeout
        while not self.statuses.get(arn):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{arn} was not invoked within {timeout} s")
            time.sleep(0.05)
        return self.statuses[arn][0]


STRAGGLER = AnswerLog(run(straggler))
HANDLERS: dict[str, LambdaHandler] = {
    "straggler": STRAGGLER,
    "approval": run(approval),
    "approval-by-submitter": run(approval_by_submitter),
    "unanswered": run(unanswered),
    "checkout": run(checkout),
    "pricing": run(pricing),
    "rejecting": run(rejecting),
    "fan-out": run(fan_out),
    "per-item": run(per_item),
    "poll": run(poll),
}
INVOKED = ("pricing", "rejecting")


@dataclass(frozen=True)
class Api:
    """A running service: which one, and where boto3 reaches it."""

    kind: str
    endpoint_url: str

    def client(self) -> Any:
        return lambda_client(self.endpoint_url)

    def start(self, function: str, value: Any, name: str) -> str:
        return start_execution(self.endpoint_url, function, value, f"{name}-{self.kind}")


@pytest.fixture(scope="module", params=["ours", "dex"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """One service per kind for the whole module: starting dex-local-runner costs ~1 s."""
    if request.param == "ours":
        with our_server(HANDLERS, clock=RealClock()) as server:
            yield Api("ours", server.endpoint_url)
    else:
        with dex_local_runner(HANDLERS, durable_targets=INVOKED) as runner_url:
            yield Api("dex", runner_url)


def callback_id_of(client: Any, arn: str) -> str:
    """The id the service issued, from the history's CallbackStarted event."""
    started = wait_for_operation(client, arn, "CallbackStarted", timeout=ENDS_WITHIN)
    callback_id: str = started["CallbackStartedDetails"]["CallbackId"]
    return callback_id


def embedded(function: str, value: Any) -> Any:
    """The same handler's result on the embedded service (virtual time, no HTTP)."""
    service = LocalService()
    for name, handler in HANDLERS.items():
        service.register(name, handler)
    result = service.run(function, value, timeout=ENDS_WITHIN)
    assert result.status.value == "SUCCEEDED", result.error
    return result.result


def test_callback_success_resumes_the_execution_with_the_result(api: Api) -> None:
    client = api.client()
    arn = api.start("approval", {"order": 7}, "approved")
    callback_id = callback_id_of(client, arn)
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    client.send_durable_execution_callback_success(
        CallbackId=callback_id, Result=json.dumps({"by": "ops", "ok": True})
    )
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == {"order": 7, "approval": {"by": "ops", "ok": True}}
    events = events_of(client, arn)
    assert names_of(events, "CallbackSucceeded") == ["approval"]


def test_callback_failure_fails_the_execution_with_the_senders_error(api: Api) -> None:
    client = api.client()
    arn = api.start("approval", {"order": 8}, "declined")
    client.send_durable_execution_callback_failure(
        CallbackId=callback_id_of(client, arn),
        Error={"ErrorType": "Declined", "ErrorMessage": "card expired"},
    )
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "FAILED"
    # The CallbackExternalError raised, named as AWS's SDK records it; it keeps the
    # message the sender recorded (the sender's type stays on the callback's record).
    assert described["Error"]["ErrorType"] == (
        "aws_durable_execution_sdk_python.exceptions.CallbackExternalError"
    )
    assert described["Error"]["ErrorMessage"] == "card expired"
    assert names_of(events_of(client, arn), "CallbackFailed") == ["approval"]


def test_heartbeats_keep_a_callback_alive_past_its_heartbeat_timeout(api: Api) -> None:
    client = api.client()
    arn = api.start("approval-by-submitter", {"order": 9}, "heartbeats")
    callback_id = callback_id_of(client, arn)
    # Three heartbeats 0.8 s apart span 2.4 s, past the 2 s heartbeat timeout: without
    # them the callback would have timed out (the next test proves timeouts do fire).
    for _ in range(3):
        time.sleep(0.8)
        client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    client.send_durable_execution_callback_success(CallbackId=callback_id, Result='"lgtm"')
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == {"order": 9, "review": "lgtm"}
    events = events_of(client, arn)
    # AWS's composition: the callback and the submitter step inside a context.
    assert names_of(events, "CallbackSucceeded") == ["review create callback id"]
    assert names_of(events, "StepSucceeded") == ["review submitter"]
    assert names_of(events, "ContextSucceeded") == ["review"]


def test_unanswered_callbacks_time_out_with_callback_timeout_error(api: Api) -> None:
    client = api.client()
    arn = api.start("unanswered", {}, "timeout")
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    # The error types are AWS's SDK's CallbackTimeoutType (lambda_service.py).
    assert json.loads(described["Result"]) == {
        "ignored": {"raised": "CallbackTimeoutError", "type": "Callback.Timeout"},
        "silent": {"raised": "CallbackTimeoutError", "type": "Callback.Heartbeat"},
    }
    assert sorted(names_of(events_of(client, arn), "CallbackTimedOut")) == ["ignored", "silent"]


def test_a_chained_invoke_runs_the_named_durable_function(api: Api) -> None:
    client = api.client()
    arn = api.start("checkout", {"quantity": 4}, "checkout")
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    result = json.loads(described["Result"])
    # 4 * 15 = 60 net; gross adds a fifth: 72.
    assert result["quote"] == {"net": 60, "gross": 72}
    limit, nowhere = result["refused"]
    # The invoked function's error reaches the caller as InvokeError, its type the class
    # the target raised as AWS's SDK encodes it (its step failed: StepError), its message kept.
    assert limit == {
        "type": "aws_durable_execution_sdk_python.exceptions.StepError",
        "message": "quantity 4 is over the limit",
    }
    # An unknown target fails at once with the error Lambda's Invoke answers for it.
    assert nowhere["type"] == "ResourceNotFoundException"
    assert "no-such-function" in nowhere["message"]
    events = events_of(client, arn)
    assert names_of(events, "ChainedInvokeStarted") == ["quote", "limit", "nowhere"]
    assert names_of(events, "ChainedInvokeSucceeded") == ["quote"]
    assert names_of(events, "ChainedInvokeFailed") == ["limit", "nowhere"]


def test_parallel_bounds_concurrency_across_waits(api: Api) -> None:
    expected = [(3 + i) ** 2 + i for i in range(4)]  # [9, 17, 27, 39]
    assert embedded("fan-out", {"base": 3}) == expected
    client = api.client()
    arn = api.start("fan-out", {"base": 3}, "fan-out")
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == expected
    events = events_of(client, arn)
    assert sorted(names_of(events, "WaitSucceeded")) == [f"rest {i}" for i in range(4)]
    assert waits_started_before_the_first_ended(events) == 2  # max_concurrency


def test_map_bounds_concurrency_across_waits(api: Api) -> None:
    items = [3, 1, 4, 1, 5]
    expected = [item * 100 - index for index, item in enumerate(items)]
    assert embedded("per-item", {"items": items, "rate": 100}) == expected
    client = api.client()
    arn = api.start("per-item", {"items": items, "rate": 100}, "per-item")
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == expected
    events = events_of(client, arn)
    assert sorted(names_of(events, "WaitSucceeded")) == [f"cool {i}" for i in range(5)]
    assert waits_started_before_the_first_ended(events) == 3  # max_concurrency


def test_wait_for_condition_polls_until_the_condition_holds(api: Api) -> None:
    # Polls 1, 2, 3: the state after each is (count, running total) = (3, 1 + 2 + 3).
    expected = {"count": 3, "total": 6}
    assert embedded("poll", {"target": 3}) == expected
    client = api.client()
    arn = api.start("poll", {"target": 3}, "poll")
    described = wait_for_end(client, arn, timeout=ENDS_WITHIN)
    assert described["Status"] == "SUCCEEDED", described.get("Error")
    assert json.loads(described["Result"]) == expected
    events = events_of(client, arn)
    # Each poll is recorded StepStarted then StepSucceeded carrying the state (the
    # conformance requirement wait_for_condition 6-1), three polls here.
    assert names_of(events, "StepStarted") == ["until ready"] * 3
    assert names_of(events, "StepSucceeded") == ["until ready"] * 3


@pytest.mark.parametrize("api", ["dex"], indirect=True)
def test_a_branch_whose_wait_ends_mid_invocation_resumes_in_it(api: Api) -> None:
    # Only a service that completes operations while the function runs can show this:
    # our LocalService fires timers between invocations, so it runs on dex-local-runner.
    arn = api.start("straggler", {}, "straggler")
    assert STRAGGLER.first(arn) == "SUCCEEDED"


def waits_started_before_the_first_ended(events: list[dict[str, Any]]) -> int:
    """How many branches were waiting at once before any wait fired: the batch's bound."""
    started = 0
    for event in sorted(events, key=lambda e: e["EventId"]):
        if event["EventType"] == "WaitSucceeded":
            return started
        started += event["EventType"] == "WaitStarted"
    raise AssertionError("no wait ended")
