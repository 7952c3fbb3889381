"""Hostile Lambda events: random shapes, random operations at the ids the handler uses.

Whatever arrives, ``run_invocation`` answers with a durable response or raises one of
the SDK's typed errors, within a bound, and never replays a wrong value: a step whose
record (same type, subtype, name, parent) SUCCEEDED returns exactly the recorded
payload and does not run its body.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from durable_core import (
    CheckpointResponse,
    DurableContext,
    DurableOperationError,
    ExecutionOptions,
    ExtendedSerDes,
    StatePage,
    run_invocation,
)
from durable_core._ids import operation_id
from durable_core.types import OperationUpdate
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.harness import examples

from .support import outcome

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/fuzz/0123456789"
STEP_A = operation_id(None, 1)
CHILD = operation_id(None, 2)
IDS = [STEP_A, CHILD, operation_id(CHILD, 1), operation_id(None, 3), "exec"]


class AcceptingBackend:
    """A service that accepts every checkpoint and has no more pages of state."""

    def __init__(self) -> None:
        self.calls = 0

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        self.calls += 1
        return CheckpointResponse(checkpoint_token=f"token-{self.calls}")

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        return StatePage([])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
payloads = st.one_of(
    st.text(max_size=40),
    json_values.map(json.dumps),
    json_values.map(lambda v: json.dumps({"t": "m", "v": {"k": {"t": "s", "v": v}}})),
)
errors = st.fixed_dictionaries(
    {},
    optional={
        "ErrorType": st.text(max_size=10),
        "ErrorMessage": st.text(max_size=20),
        "StackTrace": st.lists(st.text(max_size=5), max_size=2) | st.integers(),
    },
)
well_formed_errors = st.fixed_dictionaries(
    {},
    optional={
        "ErrorType": st.text(max_size=10),
        "ErrorMessage": st.text(max_size=20),
        "StackTrace": st.lists(st.text(max_size=5), max_size=2),
    },
)
timestamps = st.integers(-(2**40), 2**45) | st.text(max_size=10) | st.none()
operations = st.fixed_dictionaries(
    {
        "Id": st.sampled_from(IDS) | st.text(max_size=8),
        "Type": st.sampled_from(
            ["EXECUTION", "STEP", "WAIT", "CONTEXT", "CALLBACK", "CHAINED_INVOKE", "BOGUS"]
        ),
        "Status": st.sampled_from(
            [
                "STARTED",
                "PENDING",
                "READY",
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                "TIMED_OUT",
                "STOPPED",
                "?",
            ]
        ),
    },
    optional={
        "Name": st.sampled_from(["a", "kid", "in", "w"]) | st.text(max_size=6),
        "SubType": st.sampled_from(["Step", "Wait", "RunInChildContext"]) | st.text(max_size=6),
        "ParentId": st.sampled_from([CHILD, "x"]) | st.none(),
        "StartTimestamp": timestamps,
        "EndTimestamp": timestamps,
        "StepDetails": st.fixed_dictionaries(
            {},
            optional={
                "Attempt": st.integers(-3, 5) | st.text(max_size=2),
                "Result": payloads,
                "Error": errors,
                "NextAttemptTimestamp": timestamps,
            },
        ),
        "ContextDetails": st.fixed_dictionaries(
            {}, optional={"Result": payloads, "ReplayChildren": st.booleans(), "Error": errors}
        ),
        "WaitDetails": st.fixed_dictionaries({}, optional={"ScheduledEndTimestamp": timestamps}),
        "ExecutionDetails": st.fixed_dictionaries({}, optional={"InputPayload": payloads}),
    },
)
events = st.fixed_dictionaries(
    {},
    optional={
        "DurableExecutionArn": st.just(ARN) | st.text(max_size=10) | st.integers(),
        "CheckpointToken": st.just("token-0") | st.text(max_size=5) | st.none(),
        "InitialExecutionState": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "Operations": st.lists(operations, max_size=6) | st.text(max_size=3),
                "NextMarker": st.just("") | st.none() | st.integers(),
            },
        ),
    },
)
OP_TYPES = ["EXECUTION", "STEP", "WAIT", "CONTEXT", "CALLBACK", "CHAINED_INVOKE"]
STATUSES = ["STARTED", "PENDING", "READY", "SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]
# Operations the SDK parses, at the ids it uses: what a confused or tampered log looks like.
well_formed_operations = st.fixed_dictionaries(
    {
        "Id": st.sampled_from(IDS),
        "Type": st.sampled_from(["STEP", "STEP", *OP_TYPES]),
        "Status": st.sampled_from(STATUSES),
    },
    optional={
        "Name": st.sampled_from(["a", "a", "kid", "in", "w", ""]),
        "SubType": st.sampled_from(["Step", "Step", "Wait", "RunInChildContext"]),
        "ParentId": st.sampled_from([CHILD, ""]),
        "StepDetails": st.fixed_dictionaries(
            {},
            optional={
                "Attempt": st.integers(0, 5),
                "Result": payloads,
                "Error": well_formed_errors,
            },
        ),
        "ContextDetails": st.fixed_dictionaries(
            {}, optional={"Result": payloads, "ReplayChildren": st.booleans()}
        ),
    },
)
step_a_records = st.fixed_dictionaries(
    {
        "Id": st.just(STEP_A),
        "Type": st.just("STEP"),
        "SubType": st.just("Step"),
        "Name": st.just("a"),
        "Status": st.sampled_from(STATUSES),
        "StepDetails": st.fixed_dictionaries(
            {"Attempt": st.integers(0, 5)},
            optional={"Result": payloads, "Error": well_formed_errors},
        ),
    }
)
well_formed_events = st.fixed_dictionaries(
    {
        "DurableExecutionArn": st.just(ARN),
        "CheckpointToken": st.just("token-0"),
        "InitialExecutionState": st.fixed_dictionaries(
            {"Operations": st.lists(well_formed_operations | step_a_records, max_size=5)}
        ),
    }
)
random_events = st.one_of(events, json_values, well_formed_events, well_formed_events)


class Observed:
    def __init__(self) -> None:
        self.a_ran = False
        self.a: Any = None


def _workflow(seen: Observed) -> Any:
    def workflow(event: Any, ctx: DurableContext) -> Any:
        def body(_: Any) -> str:
            seen.a_ran = True
            return "fresh"

        try:
            seen.a = ctx.step(body, name="a")
        except DurableOperationError as exc:
            seen.a = ("raised", exc.error_type)
        with contextlib.suppress(DurableOperationError):
            ctx.run_in_child_context(lambda c: c.step(lambda _: 1, name="in"), name="kid")
        ctx.wait(5, name="w")
        return "done"

    return workflow


def _recorded_step_a(event: Any) -> dict[str, Any] | None:
    """The record replay must return for step "a": the last operation at its id."""
    try:
        ops = event["InitialExecutionState"]["Operations"]
        return [op for op in ops if op["Id"] == STEP_A][-1]  # type: ignore[no-any-return]
    except (KeyError, TypeError, IndexError):
        return None


@settings(max_examples=examples(400))
@given(random_events)
def test_random_events_get_a_durable_answer_or_a_typed_error(event: Any) -> None:
    seen = Observed()
    options = ExecutionOptions(backend=AcceptingBackend())
    result = outcome("event", run_invocation, _workflow(seen), event, None, options)
    if isinstance(result, Exception) or result["Status"] == "FAILED":
        return
    recorded = _recorded_step_a(event)
    if recorded is None:
        return
    identity = (recorded["Type"], recorded.get("SubType"), recorded.get("Name"))
    assert identity == ("STEP", "Step", "a") and not recorded.get("ParentId"), (
        "a record of another operation at step a's id was not rejected"
    )
    if recorded["Status"] == "SUCCEEDED":
        assert not seen.a_ran, "a recorded success ran its body again"
        payload = recorded.get("StepDetails", {}).get("Result")
        if payload is not None:
            expected = ExtendedSerDes().deserialize(payload)
            assert seen.a == expected or (expected != expected and seen.a != seen.a)
    if recorded["Status"] == "FAILED":
        assert not seen.a_ran, "a recorded failure ran its body again"
        error = recorded.get("StepDetails", {}).get("Error") or {}
        assert seen.a == ("raised", error.get("ErrorType"))
