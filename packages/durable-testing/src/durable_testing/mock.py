"""``MockDurableContext``: unit-test a workflow's logic with no service, in microseconds.

The seed's testing kit, for Python. Outcomes are pre-loaded by operation name or by
position; the workflow then runs one invocation on the real engine, where a pre-loaded
operation replays its outcome (a step's body is not called) and any other operation
runs as on Lambda (a step's body is called and its result checkpointed to an in-memory
recorder; a wait that was not pre-loaded suspends the invocation: ``PENDING``)::

    run = (
        MockDurableContext()
        .with_step("validate", result={"valid": True})
        .with_callback("approval", result={"approved": True})
        .run(process_order, {"order_id": 7})
    )
    assert run.status == "SUCCEEDED"
    assert_operation_names(run, ["validate", "approval", "charge"])
    assert_checkpoint_count(run, 1)  # charge ran; the others replayed

Values are what the workflow will get back: a step's result is recorded as the SDK
records it (models and dataclasses as their JSON data, so a typed step reads them back
typed); a callback's or invoke's result as the JSON an outside system sends (a ``str``
is the payload as sent). An ``error`` is an exception instance, recorded as the SDK
records a failure: the workflow sees the operation's own typed error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from durable_core import DurableHandler, ExecutionOptions, MemoryBackend, run_invocation
from durable_core.errors import (
    SerDesError,
    error_object_from_exception,
    with_exception_data,
)
from durable_core.serdes import EXTENDED_SERDES
from durable_core.types import (
    CallbackDetails,
    ChainedInvokeDetails,
    ErrorObject,
    Operation,
    OperationStatus,
    OperationType,
    StepDetails,
)

if TYPE_CHECKING:
    from durable_core._replay import OperationCall
    from durable_core.backends.memory import RecordedCall

    from durable_testing.runner import TestResult

__all__ = [
    "MockDurableContext",
    "MockOperation",
    "MockRun",
    "assert_attempts",
    "assert_checkpoint_count",
    "assert_no_checkpoints",
    "assert_nothing_executed",
    "assert_operation_names",
    "assert_operations",
]

# The suffix AWS's SDK gives the callback inside ``wait_for_callback(name=...)``.
_WAIT_FOR_CALLBACK = " create callback id"


@dataclass(frozen=True)
class _Outcome:
    type: OperationType
    status: OperationStatus
    payload: str | None = None
    error: ErrorObject | None = None
    attempts: int = 1


@dataclass(frozen=True)
class MockOperation:
    """An operation the workflow called, in call order: replayed from a pre-loaded
    outcome, or executed (``replayed`` False)."""

    type: OperationType
    name: str | None
    id: str
    parent_id: str | None
    replayed: bool


class MockDurableContext:
    """Pre-loads outcomes, then ``run``s a workflow function ``(event, ctx)`` once.

    Each ``with_*`` names the operation it answers; without a name it answers the next
    operation of its kind, in the order the workflow calls them (the n-th unnamed step
    outcome answers the n-th step that no named outcome answered). Steps named the
    same are answered in order.
    """

    def __init__(self) -> None:
        self._named: dict[tuple[OperationType, str], deque[_Outcome]] = defaultdict(deque)
        self._unnamed: dict[OperationType, deque[_Outcome]] = defaultdict(deque)

    def with_step(
        self,
        name: str | None = None,
        *,
        result: Any = None,
        error: BaseException | None = None,
        attempts: int = 1,
    ) -> MockDurableContext:
        """A step that succeeded with ``result``, or failed for good with ``error``."""
        if error is not None:
            return self._add(
                name,
                _Outcome(
                    OperationType.STEP,
                    OperationStatus.FAILED,
                    error=_error(error),
                    attempts=attempts,
                ),
            )
        return self._add(
            name,
            _Outcome(
                OperationType.STEP,
                OperationStatus.SUCCEEDED,
                _step_payload(result),
                attempts=attempts,
            ),
        )

    def with_wait(self, name: str | None = None) -> MockDurableContext:
        """A wait that has elapsed."""
        return self._add(name, _Outcome(OperationType.WAIT, OperationStatus.SUCCEEDED))

    def with_callback(
        self,
        name: str | None = None,
        *,
        result: Any = None,
        error: BaseException | None = None,
        timed_out: bool = False,
    ) -> MockDurableContext:
        """A callback answered with ``result``, failed by its sender with ``error``, or
        timed out. ``name`` is the callback's, or that given to ``wait_for_callback``."""
        if timed_out:
            outcome = _Outcome(OperationType.CALLBACK, OperationStatus.TIMED_OUT)
        elif error is not None:
            outcome = _Outcome(OperationType.CALLBACK, OperationStatus.FAILED, error=_error(error))
        else:
            outcome = _Outcome(OperationType.CALLBACK, OperationStatus.SUCCEEDED, _plain(result))
        return self._add(name, outcome)

    def with_invoke(
        self, name: str | None = None, *, result: Any = None, error: BaseException | None = None
    ) -> MockDurableContext:
        """A chained invoke whose function returned ``result``, or failed with ``error``."""
        kind = OperationType.CHAINED_INVOKE
        if error is not None:
            return self._add(name, _Outcome(kind, OperationStatus.FAILED, error=_error(error)))
        return self._add(name, _Outcome(kind, OperationStatus.SUCCEEDED, _plain(result)))

    def _add(self, name: str | None, outcome: _Outcome) -> MockDurableContext:
        if name is None:
            self._unnamed[outcome.type].append(outcome)
        else:
            self._named[(outcome.type, name)].append(outcome)
        return self

    def run(
        self,
        workflow: DurableHandler,
        event: Any = None,
        *,
        options: ExecutionOptions | None = None,
    ) -> MockRun:
        """Run one invocation of ``workflow`` (sync or ``async def``) on the engine.

        Outcomes are consumed: a second ``run`` sees only what the first left.
        """
        backend = MemoryBackend()
        start = backend.start_execution(event)
        arn = start["DurableExecutionArn"]
        run = MockRun(backend, arn)
        raised: list[Exception] = []
        base = options or ExecutionOptions()
        user_handler = base.error_handler

        def keep(exc: Exception) -> Any:
            raised.append(exc)
            if user_handler is None:
                raise exc
            return user_handler(exc)

        answer = _Answerer(self, backend, arn, run.operations)
        options = dataclasses.replace(base, backend=backend, preload=answer, error_handler=keep)
        response = run_invocation(workflow, start, None, options)
        run.status = response["Status"]
        run.result = json.loads(response["Result"]) if response.get("Result") else None
        run.error = raised[-1] if raised and run.status == "FAILED" else None
        run.error_object = ErrorObject.from_wire(response["Error"]) if "Error" in response else None
        return run

    def _take(self, call: OperationCall, parent_sub_type: str | None) -> _Outcome | None:
        if call.name is not None:
            names = [call.name]
            if call.type is OperationType.CALLBACK and call.name.endswith(_WAIT_FOR_CALLBACK):
                names.insert(0, call.name[: -len(_WAIT_FOR_CALLBACK)])
            for name in names:
                named = self._named.get((call.type, name))
                if named:
                    return named.popleft()
        if call.type is OperationType.STEP and (
            call.sub_type != "Step" or parent_sub_type == "WaitForCallback"
        ):
            # Only the workflow's own steps take unnamed outcomes: not a wait_for_condition
            # poll, not the submitter step of a wait_for_callback.
            return None
        unnamed = self._unnamed.get(call.type)
        return unnamed.popleft() if unnamed else None


class _Answerer:
    """The engine's ``preload`` seam: the record of an operation, from a pre-loaded
    outcome, also put in the recording backend so later checkpoints see it."""

    def __init__(
        self,
        mock: MockDurableContext,
        backend: MemoryBackend,
        arn: str,
        seen: list[MockOperation],
    ) -> None:
        self._mock, self._backend, self._arn, self._seen = mock, backend, arn, seen
        self._lock = threading.Lock()  # parallel branches call operations from threads
        self._sub_types: dict[str, str] = {}  # of every operation called, by id

    def __call__(self, call: OperationCall) -> Operation | None:
        with self._lock:
            self._sub_types[call.id] = call.sub_type
            parent = self._sub_types.get(call.parent_id) if call.parent_id else None
            outcome = self._mock._take(call, parent)
            self._seen.append(
                MockOperation(call.type, call.name, call.id, call.parent_id, outcome is not None)
            )
        if outcome is None:
            return None
        record = _record(call, outcome)
        self._backend.set_operation(self._arn, record)
        return record


def _record(call: OperationCall, outcome: _Outcome) -> Operation:
    now = dt.datetime.now(dt.UTC)
    step = callback = invoke = None
    if call.type is OperationType.STEP:
        step = StepDetails(attempt=outcome.attempts, result=outcome.payload, error=outcome.error)
    elif call.type is OperationType.CALLBACK:
        callback = CallbackDetails(
            callback_id=f"mock-callback-{call.id[:16]}", result=outcome.payload, error=outcome.error
        )
    elif call.type is OperationType.CHAINED_INVOKE:
        invoke = ChainedInvokeDetails(result=outcome.payload, error=outcome.error)
    return Operation(
        id=call.id,
        parent_id=call.parent_id,
        name=call.name,
        type=call.type,
        sub_type=call.sub_type,
        status=outcome.status,
        start_timestamp=now,
        end_timestamp=now,
        step_details=step,
        callback_details=callback,
        chained_invoke_details=invoke,
    )


def _error(exc: BaseException) -> ErrorObject:
    # With its args and attributes, so a step listing its type in error_types gets it back.
    return with_exception_data(error_object_from_exception(exc), exc)


def _step_payload(value: Any) -> str:
    """What the SDK checkpoints for a step that returned ``value``."""
    try:
        return EXTENDED_SERDES.serialize(value)
    except SerDesError:
        import pydantic_core

        return EXTENDED_SERDES.serialize(pydantic_core.to_jsonable_python(value))


def _plain(value: Any) -> str:
    """What an outside system sends: plain JSON, or the string as given."""
    if isinstance(value, str):
        return value
    import pydantic_core

    return json.dumps(pydantic_core.to_jsonable_python(value))


@dataclass
class MockRun:
    """One invocation run by ``MockDurableContext.run``: its outcome, the operations the
    workflow called in order, and the checkpoint calls it made."""

    backend: MemoryBackend
    arn: str
    status: str = "PENDING"
    result: Any = None
    error: Exception | None = None
    error_object: ErrorObject | None = None
    operations: list[MockOperation] = field(default_factory=list)

    @property
    def checkpoint_calls(self) -> list[RecordedCall]:
        """Every CheckpointDurableExecution call the invocation made, in order."""
        return [call for call in self.backend.calls if call.execution_arn == self.arn]

    def operation(self, name: str) -> Operation:
        """The record of the operation called ``name`` (replayed or executed)."""
        for op in self.backend.operations(self.arn):
            if op.name == name:
                return op
        raise KeyError(f"no operation named {name!r}; there are {_names(self)}")


def _names(run: MockRun | TestResult) -> list[str | None]:
    return [name for _, name in _in_order(run)]


def _in_order(run: MockRun | TestResult) -> list[tuple[OperationType, str | None]]:
    if isinstance(run, MockRun):
        return [(op.type, op.name) for op in run.operations]
    ops = run.execution.operations
    return [(op.type, op.name) for op in ops if op.type is not OperationType.EXECUTION]


def assert_checkpoint_count(run: MockRun, expected: int) -> None:
    """The invocation made exactly ``expected`` checkpoint calls."""
    actual = len(run.checkpoint_calls)
    assert actual == expected, f"expected {expected} checkpoint calls, got {actual}"


def assert_no_checkpoints(run: MockRun) -> None:
    """The invocation checkpointed nothing (what a full replay does)."""
    assert_checkpoint_count(run, 0)


def assert_nothing_executed(run: MockRun) -> None:
    """A full replay: every operation answered from its pre-loaded outcome (no step body
    ran, nothing waited) and no checkpoint call."""
    executed = [(op.type.value, op.name) for op in run.operations if not op.replayed]
    assert not executed, f"operations executed instead of replayed: {executed}"
    assert_no_checkpoints(run)


def assert_operations(
    run: MockRun | TestResult, expected: Sequence[tuple[OperationType | str, str | None]]
) -> None:
    """The operations, at every depth, as (type, name) in the order they were called;
    a type is an ``OperationType`` or its value (``"STEP"``, ``"WAIT"``...)."""
    actual = [(kind.value, name) for kind, name in _in_order(run)]
    wanted = [(OperationType(kind).value, name) for kind, name in expected]
    assert actual == wanted, f"expected operations {wanted}, got {actual}"


def assert_operation_names(run: MockRun | TestResult, expected: Sequence[str | None]) -> None:
    """The operations' names, at every depth, in the order they were called."""
    actual = _names(run)
    assert actual == list(expected), f"expected operation names {list(expected)}, got {actual}"


def assert_attempts(run: MockRun | TestResult, name: str, expected: int) -> None:
    """The step called ``name`` made ``expected`` attempts."""
    op = run.operation(name)
    record = op if isinstance(op, Operation) else op.operation
    details = record.step_details
    actual = (details.attempt or 1) if details is not None else 1
    assert actual == expected, f"expected {name!r} to make {expected} attempts, got {actual}"
