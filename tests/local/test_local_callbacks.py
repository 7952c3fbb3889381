"""Callbacks on the local service: answers, timeouts, heartbeats and the API's errors.

Histories are AWS's conformance requirements 4.1, 4.3-4.6, 4.9, 4.11 and 7.1; the
error codes, the CallbackId pattern and the timeout error types come from boto3's
service model and AWS's SDK (``CallbackTimeoutType``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from durable_closure import run
from durable_core import CallbackConfig, DurableContext, StepContext, WaitForCallbackConfig
from durable_core.backends.memory import ServiceError
from durable_testing import ExecutionStatus, LocalService, SqliteStore, VirtualClock

from .history_matching import history_mismatches

ANY = "*"


def _service_model_pattern(shape: str) -> str:
    model = boto3.client("lambda", region_name="us-east-1").meta.service_model
    pattern: str = model.shape_for(shape).metadata["pattern"]
    return pattern


def _invocation_completed(event_id: int) -> dict[str, Any]:
    return {
        "EventType": "InvocationCompleted",
        "EventId": event_id,
        "EventTimestamp": ANY,
        "InvocationCompletedDetails": ANY,
    }


def _callback(event_type: str, event_id: int, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "EventType": event_type,
        "SubType": "Callback",
        "EventId": event_id,
        "Id": "${CB1}",
        "Name": "${CB_NAME}",
        "EventTimestamp": ANY,
        f"{event_type}Details": details,
    }


def _wait(event_type: str, event_id: int, seconds: int) -> dict[str, Any]:
    return {
        "EventType": event_type,
        "SubType": "Wait",
        "EventId": event_id,
        "Id": "${WAIT1}",
        "EventTimestamp": ANY,
        f"{event_type}Details": {"Duration": seconds},
    }


def _execution_end(event_type: str, event_id: int, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "EventType": event_type,
        "EventId": event_id,
        "EventTimestamp": ANY,
        f"{event_type}Details": details,
    }


def _failed_with(error_type: str) -> dict[str, Any]:
    return {"Error": {"Payload": {"ErrorType": error_type}}}


def _await_callback(config: CallbackConfig[Any] | None = None) -> Any:
    """The handler of requirements 4.1-4.6: create a callback named by the input, await it."""

    def handler(event: str, ctx: DurableContext) -> Any:
        return ctx.create_callback(event, config).result()

    return run(handler)


def _callback_then_wait(seconds: int, config: CallbackConfig[Any] | None = None) -> Any:
    """The handler of requirements 4.9-4.11: create a callback, wait, then await it."""

    def handler(event: str, ctx: DurableContext) -> Any:
        callback = ctx.create_callback(event, config)
        ctx.wait(seconds)
        return callback.result()

    return run(handler)


def _suspended(service: LocalService, name: str, event: Any) -> str:
    """Start ``name`` and run it up to its first suspension, without letting time pass."""
    arn = service.start(name, event)
    result = service.run_until_complete(arn, until=service.clock.now())
    assert result.status is ExecutionStatus.RUNNING
    return arn


def _only_callback_id(service: LocalService, arn: str) -> str:
    (pending,) = service.callbacks(arn)
    return pending.callback_id


def _elapsed(history: list[dict[str, Any]], first: str, second: str) -> float:
    at = {e["EventType"]: e["EventTimestamp"] for e in history}
    delta: dt.timedelta = at[second] - at[first]
    return delta.total_seconds()


# -- answers ------------------------------------------------------------------------


def test_success_matches_requirement_4_1_and_the_result_is_the_json_text() -> None:
    service = LocalService()
    service.register("approve", _await_callback())
    arn = _suspended(service, "approve", "cb-name-01")

    (pending,) = service.callbacks(arn)
    assert pending.name == "cb-name-01" and pending.deadline is None
    service.send_callback_success(pending.callback_id, "payload-0001")
    result = service.run_until_complete(arn)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": pending.callback_id}),
        _invocation_completed(3),
        _callback("CallbackSucceeded", 4, {"Result": {"Payload": '"payload-0001"'}}),
        _invocation_completed(5),
        _execution_end("ExecutionSucceeded", 6, {"Result": ANY}),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == '"payload-0001"', "without serdes the raw payload comes back"
    assert service.callbacks(arn) == []


def test_a_raw_payload_is_sent_as_is_and_none_sends_no_result() -> None:
    service = LocalService()
    service.register("approve", _await_callback())
    first = _suspended(service, "approve", "raw")
    second = _suspended(service, "approve", "empty")

    service.send_callback_success(_only_callback_id(service, first), payload=b'{"ok":true}')
    service.send_callback_success(_only_callback_id(service, second))

    raw = service.run_until_complete(first)
    empty = service.run_until_complete(second)
    assert raw.result == '{"ok":true}'
    assert raw.operation("raw").result == '{"ok":true}'
    assert empty.status is ExecutionStatus.SUCCEEDED
    assert empty.operation("empty").result is None
    succeeded = next(e for e in empty.history if e["EventType"] == "CallbackSucceeded")
    assert succeeded["CallbackSucceededDetails"] == {"Result": {}}


def test_failure_matches_requirement_4_6() -> None:
    service = LocalService()
    service.register("approve", _await_callback())
    arn = _suspended(service, "approve", "cb-name-02")

    service.send_callback_failure(
        _only_callback_id(service, arn), error_type="RejectedError", error_message="not approved"
    )
    result = service.run_until_complete(arn)

    rejected = {
        "Error": {"Payload": {"ErrorType": "RejectedError", "ErrorMessage": "not approved"}}
    }
    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY}),
        _invocation_completed(3),
        _callback("CallbackFailed", 4, rejected),
        _invocation_completed(5),
        _execution_end(
            "ExecutionFailed",
            6,
            {"Error": {"Payload": {"ErrorType": ANY, "ErrorMessage": "not approved"}}},
        ),
    ]
    assert history_mismatches(expected, result.history) == []
    assert result.status is ExecutionStatus.FAILED


# -- virtual time stops short of an open callback's deadline ---------------------------


@pytest.mark.parametrize(
    "config", [CallbackConfig(timeout_seconds=300), CallbackConfig(heartbeat_timeout_seconds=60)]
)
def test_virtual_time_never_times_out_a_callback_that_can_still_be_answered(
    config: CallbackConfig[Any],
) -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _await_callback(config))
    waiting = service.run("approve", "cb-held")
    assert waiting.status is ExecutionStatus.RUNNING
    assert "CallbackTimedOut" not in waiting.event_types
    (pending,) = service.callbacks(waiting.arn)
    assert pending.deadline is not None and clock.now() < pending.deadline

    service.send_callback_success(pending.callback_id, "yes")
    done = service.run_until_complete(waiting.arn)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.result == '"yes"'


def test_a_later_wait_does_not_carry_time_past_an_open_callback_deadline() -> None:
    """Requirement 4.11's handler (a 3 s callback, then a 6 s wait): the wait would pass the
    deadline, so it waits with the callback; once answered, time runs on to the wait."""
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _callback_then_wait(6, CallbackConfig(timeout_seconds=3)))
    waiting = service.run("approve", "cb-before-wait")
    assert waiting.event_types[-3:] == ["CallbackStarted", "WaitStarted", "InvocationCompleted"]
    (pending,) = service.callbacks(waiting.arn)

    service.send_callback_success(pending.callback_id, "in-time")
    done = service.run_until_complete(waiting.arn)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert "WaitSucceeded" in done.event_types and "CallbackTimedOut" not in done.event_types


def test_another_executions_wait_moves_the_clock_but_never_times_this_callback_out() -> None:
    """One service, as under ``durable serve``: an hour's wait of one execution must not be
    held up by another's open callback, nor time that callback out, also when the other
    execution is invoked again (its other callback answered) past the deadline."""

    def two_callbacks(event: Any, ctx: DurableContext) -> Any:
        timed = ctx.create_callback("timed", CallbackConfig(timeout_seconds=60))
        other = ctx.create_callback("other")
        return [other.result(), timed.result()]

    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", run(two_callbacks))
    service.register("sleepy", run(lambda event, ctx: ctx.wait(3600, name="hour") or "rested"))
    waiting = service.run("approve")
    timed, other = service.callbacks(waiting.arn)

    rested = service.run("sleepy")
    assert rested.status is ExecutionStatus.SUCCEEDED
    assert timed.deadline is not None and clock.now() > timed.deadline
    service.send_callback_success(other.callback_id, "first")
    still = service.run_until_complete(waiting.arn)
    assert still.status is ExecutionStatus.RUNNING
    assert "CallbackTimedOut" not in still.event_types

    service.send_callback_success(timed.callback_id, "second")
    done = service.run_until_complete(waiting.arn)
    assert done.result == ['"first"', '"second"']


def test_until_past_the_deadline_asks_for_the_timeout() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _await_callback(CallbackConfig(timeout_seconds=30)))
    arn = _suspended(service, "approve", "cb-until")
    result = service.run_until_complete(arn, until=clock.now() + dt.timedelta(seconds=31))
    assert result.status is ExecutionStatus.FAILED
    assert _elapsed(result.history, "CallbackStarted", "CallbackTimedOut") == 30


def test_a_new_process_carries_virtual_time_on_so_the_history_never_goes_back(
    tmp_path: Path,
) -> None:
    """The first process skipped a day on its virtual clock; the second starts from the wall
    clock, a day earlier, and must not stamp the callback's answer before the wait."""

    def wait_a_day_then_approve(event: Any, ctx: DurableContext) -> Any:
        ctx.wait(24 * 3600, name="a-day")
        return ctx.create_callback("approval").result()

    path = tmp_path / "executions.sqlite3"
    first = LocalService(store=SqliteStore(path), clock=VirtualClock())
    first.register("approve", run(wait_a_day_then_approve))
    waiting = first.run("approve")
    (pending,) = first.callbacks(waiting.arn)

    second = LocalService(store=SqliteStore(path), clock=VirtualClock())
    second.register("approve", run(wait_a_day_then_approve))
    second.send_callback_success(pending.callback_id, "ok")
    (done,) = second.resume_all()
    assert done.status is ExecutionStatus.SUCCEEDED
    stamps = [event["EventTimestamp"] for event in done.history]
    assert stamps == sorted(stamps)


# -- timeouts and heartbeats ----------------------------------------------------------


def test_timeout_matches_requirement_4_3_and_fires_after_the_timeout() -> None:
    service = LocalService()
    service.register("approve", _await_callback(CallbackConfig(timeout_seconds=5)))
    result = service.run("approve", "cb-name-03", time_out_callbacks=True)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY, "Timeout": 5}),
        _invocation_completed(3),
        _callback("CallbackTimedOut", 4, _failed_with("Callback.Timeout")),
        _invocation_completed(5),
        _execution_end("ExecutionFailed", 6, _failed_with(ANY)),
    ]
    assert history_mismatches(expected, result.history) == []
    assert _elapsed(result.history, "CallbackStarted", "CallbackTimedOut") == 5
    assert result.operation("cb-name-03").status.value == "TIMED_OUT"


def test_heartbeat_timeout_matches_requirement_4_4() -> None:
    service = LocalService()
    service.register("approve", _await_callback(CallbackConfig(heartbeat_timeout_seconds=5)))
    result = service.run("approve", "cb-name-04", time_out_callbacks=True)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY, "HeartbeatTimeout": 5}),
        _invocation_completed(3),
        _callback("CallbackTimedOut", 4, _failed_with("Callback.Heartbeat")),
        _invocation_completed(5),
        _execution_end("ExecutionFailed", 6, _failed_with(ANY)),
    ]
    assert history_mismatches(expected, result.history) == []
    assert _elapsed(result.history, "CallbackStarted", "CallbackTimedOut") == 5


def test_a_heartbeat_moves_the_heartbeat_deadline_and_adds_no_event() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _await_callback(CallbackConfig(heartbeat_timeout_seconds=10)))
    arn = _suspended(service, "approve", "cb-name-05")
    callback_id = _only_callback_id(service, arn)
    started = clock.now()

    clock.advance(8)
    service.send_callback_heartbeat(callback_id)
    (pending,) = service.callbacks(arn)
    assert pending.deadline == started + dt.timedelta(seconds=18)
    still = service.run_until_complete(arn, until=started + dt.timedelta(seconds=16))
    assert still.status is ExecutionStatus.RUNNING
    assert "CallbackTimedOut" not in still.event_types

    result = service.run_until_complete(arn, time_out_callbacks=True)
    assert result.event_types[-3:] == ["CallbackTimedOut", "InvocationCompleted", "ExecutionFailed"]
    assert _elapsed(result.history, "CallbackStarted", "CallbackTimedOut") == 18


def test_heartbeat_then_success_matches_requirement_4_5() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _await_callback(CallbackConfig(heartbeat_timeout_seconds=10)))
    arn = _suspended(service, "approve", "cb-name-06")
    callback_id = _only_callback_id(service, arn)

    clock.advance(6)
    service.send_callback_heartbeat(callback_id)
    clock.advance(6)  # 12 s after the start: alive only thanks to the heartbeat
    service.send_callback_success(callback_id, "payload-0006")
    result = service.run_until_complete(arn)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY, "HeartbeatTimeout": 10}),
        _invocation_completed(3),
        _callback("CallbackSucceeded", 4, {"Result": {"Payload": '"payload-0006"'}}),
        _invocation_completed(5),
        _execution_end("ExecutionSucceeded", 6, {"Result": ANY}),
    ]
    assert history_mismatches(expected, result.history) == []


def test_an_answer_during_a_wait_matches_requirement_4_9() -> None:
    clock = VirtualClock()
    service = LocalService(clock=clock)
    service.register("approve", _callback_then_wait(5))
    arn = _suspended(service, "approve", "cb-name-07")

    clock.advance(1)
    service.send_callback_success(_only_callback_id(service, arn), "payload-0007")
    result = service.run_until_complete(arn)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY}),
        _wait("WaitStarted", 3, 5),
        _invocation_completed(4),
        _callback("CallbackSucceeded", 5, {"Result": {"Payload": '"payload-0007"'}}),
        _invocation_completed(6),
        _wait("WaitSucceeded", 7, 5),
        _invocation_completed(8),
        _execution_end("ExecutionSucceeded", 9, {"Result": ANY}),
    ]
    assert history_mismatches(expected, result.history) == []


def test_a_timeout_during_a_longer_wait_matches_requirement_4_11() -> None:
    service = LocalService()
    service.register("approve", _callback_then_wait(6, CallbackConfig(timeout_seconds=3)))
    result = service.run("approve", "cb-name-08", time_out_callbacks=True)

    expected = [
        _callback("CallbackStarted", 2, {"CallbackId": ANY, "Timeout": 3}),
        _wait("WaitStarted", 3, 6),
        _invocation_completed(4),
        _callback("CallbackTimedOut", 5, _failed_with("Callback.Timeout")),
        _invocation_completed(6),
        _wait("WaitSucceeded", 7, 6),
        _invocation_completed(8),
        _execution_end("ExecutionFailed", 9, _failed_with(ANY)),
    ]
    assert history_mismatches(expected, result.history) == []


def test_wait_for_callback_matches_requirement_7_1() -> None:
    submitted: list[str] = []

    def handler(event: str, ctx: DurableContext) -> Any:
        def submit(callback_id: str, _: StepContext) -> None:
            submitted.append(callback_id)

        return ctx.wait_for_callback(submit, name=event, config=WaitForCallbackConfig())

    service = LocalService()
    service.register("approve", run(handler))
    arn = _suspended(service, "approve", "cb-name-09")
    (pending,) = service.callbacks(arn)
    assert submitted == [pending.callback_id]

    service.send_callback_success(pending.callback_id, "payload-0009")
    result = service.run_until_complete(arn)

    inner = {"EventTimestamp": ANY, "ParentId": "${ID1}"}
    context = {"SubType": "WaitForCallback", "Id": "${ID1}", "Name": "cb-name-09"}
    expected = [
        {"EventType": "ContextStarted", "EventId": 2, **context, "ContextStartedDetails": {}},
        {
            "EventType": "CallbackStarted",
            "SubType": "Callback",
            "EventId": 3,
            "Id": "${CB1}",
            **inner,
            "CallbackStartedDetails": {"CallbackId": ANY},
        },
        {"EventType": "StepStarted", "EventId": 4, "Id": "${STEP1}", **inner},
        {"EventType": "StepSucceeded", "EventId": 5, "Id": "${STEP1}", **inner},
        _invocation_completed(6),
        {
            "EventType": "CallbackSucceeded",
            "SubType": "Callback",
            "EventId": 7,
            "Id": "${CB1}",
            **inner,
            "CallbackSucceededDetails": {"Result": {"Payload": '"payload-0009"'}},
        },
        {"EventType": "ContextSucceeded", "EventId": 8, **context, "ContextSucceededDetails": ANY},
        _invocation_completed(9),
        _execution_end("ExecutionSucceeded", 10, {"Result": ANY}),
    ]
    assert history_mismatches(expected, result.history) == []


# -- the API's errors -------------------------------------------------------------------


def _code_of(call: Any) -> str:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value.code


def test_an_unknown_or_malformed_callback_id_is_rejected() -> None:
    service = LocalService()
    service.register("approve", _await_callback())
    _suspended(service, "approve", "cb-name-10")

    unknown = "QUJD" * 11  # matches the CallbackId pattern, belongs to nothing
    assert _code_of(lambda: service.send_callback_success(unknown, "x")) == (
        "ResourceNotFoundException"
    )
    assert _code_of(lambda: service.send_callback_heartbeat(unknown)) == (
        "ResourceNotFoundException"
    )
    assert _code_of(lambda: service.send_callback_failure("not a callback id!")) == (
        "InvalidParameterValueException"
    )


def test_a_closed_callback_answers_callback_timeout_exception() -> None:
    """boto3's model: CallbackTimeoutException is "the callback ID token has either
    expired or the callback associated with the token has already been closed"."""
    service = LocalService()
    service.register("approve", _await_callback(CallbackConfig(timeout_seconds=60)))
    answered = _suspended(service, "approve", "answered")
    answered_id = _only_callback_id(service, answered)
    service.send_callback_success(answered_id, "first")

    expired = service.run("approve", "expired", time_out_callbacks=True)
    expired_id = expired.operation("expired").callback_details.callback_id  # type: ignore[union-attr]

    assert _code_of(lambda: service.send_callback_success(answered_id, "again")) == (
        "CallbackTimeoutException"
    )
    assert _code_of(lambda: service.send_callback_failure(answered_id)) == (
        "CallbackTimeoutException"
    )
    assert _code_of(lambda: service.send_callback_heartbeat(expired_id or "")) == (
        "CallbackTimeoutException"
    )
    result = service.run_until_complete(answered)
    assert result.result == '"first"', "the second answer changed nothing"
    assert result.event_types.count("CallbackSucceeded") == 1


def test_callback_ids_are_unguessable_and_match_the_service_model_pattern() -> None:
    def many(event: int, ctx: DurableContext) -> None:
        for _ in range(event):
            ctx.create_callback()
        ctx.wait(1)

    service = LocalService()
    service.register("many", run(many))
    arns = [_suspended(service, "many", 20) for _ in range(3)]
    pending = [p for arn in arns for p in service.callbacks(arn)]
    ids = [p.callback_id for p in pending]

    pattern = re.compile(_service_model_pattern("CallbackId"))
    assert len(ids) == 60 and len(set(ids)) == 60
    for callback in pending:
        assert pattern.fullmatch(callback.callback_id)
        # 43 base64 characters carry 258 bits: room for 256 random bits.
        assert 43 <= len(callback.callback_id) <= 1024
        # Not derived from what others can see (AWS's local runner encodes the ARN and id).
        assert callback.operation_id[:8] not in callback.callback_id
    # Random ids share no structure: equal 4-character prefixes have odds of 64**-4.
    assert len({callback_id[:4] for callback_id in ids}) == 60


# -- persistence ------------------------------------------------------------------------


def test_a_pending_callback_and_its_deadline_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "executions.sqlite3"
    clock = VirtualClock()
    first = LocalService(store=SqliteStore(path), clock=clock)
    first.register("approve", _await_callback(CallbackConfig(timeout_seconds=3600)))
    arn = _suspended(first, "approve", "cb-name-11")
    (before,) = first.callbacks(arn)

    later = VirtualClock(start=clock.now() + dt.timedelta(seconds=60))
    second = LocalService(store=SqliteStore(path), clock=later)
    second.register("approve", _await_callback(CallbackConfig(timeout_seconds=3600)))
    second.send_callback_heartbeat(before.callback_id)  # found in the store, not in memory
    assert second.callbacks(arn) == [before]

    third = LocalService(store=SqliteStore(path), clock=VirtualClock(start=later.now()))
    third.register("approve", _await_callback(CallbackConfig(timeout_seconds=3600)))
    (result,) = third.resume_all(time_out_callbacks=True)
    assert result.status is ExecutionStatus.FAILED
    assert result.event_types[-3] == "CallbackTimedOut"
    assert _elapsed(result.history, "CallbackStarted", "CallbackTimedOut") == 3600


def test_an_answer_after_a_restart_completes_the_execution(tmp_path: Path) -> None:
    path = tmp_path / "executions.sqlite3"
    first = LocalService(store=SqliteStore(path))
    first.register("approve", _await_callback())
    arn = _suspended(first, "approve", "cb-name-12")
    callback_id = _only_callback_id(first, arn)

    second = LocalService(store=SqliteStore(path))
    second.register("approve", _await_callback())
    second.send_callback_success(callback_id, "payload-0012")
    (result,) = second.resume_all()

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == '"payload-0012"'
    assert result.event_types[1:5] == [
        "CallbackStarted",
        "InvocationCompleted",
        "CallbackSucceeded",
        "InvocationCompleted",
    ]
