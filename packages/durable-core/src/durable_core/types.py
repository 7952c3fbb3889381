"""Wire types of the Lambda durable execution API.

Field names are snake_case in Python and PascalCase on the wire (the names of
boto3's service model), so ``Operation.from_wire(boto3_dict)`` and ``op.to_wire()``
round-trip exactly. Timestamps arrive either as datetimes (boto3) or as Unix
milliseconds (the JSON Lambda event); both parse.

These are slotted dataclasses with a parser compiled per shape (``_compiled_parser``),
not pydantic models: importing pydantic costs a Lambda cold start more than the whole
rest of the SDK (docs/performance.md, "Cold start"), and the service's shapes are few,
flat and made of strings, integers, booleans, timestamps and each other. Malformed input raises
``WireFormatError`` naming the path of the first bad field; callers turn it into the
typed error of where it came from (``InvalidEventError``, ``CheckpointError``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple, Self, TypeVar, dataclass_transform

__all__ = [
    "CallbackDetails",
    "CallbackOptions",
    "ChainedInvokeDetails",
    "ChainedInvokeOptions",
    "ContextDetails",
    "ContextOptions",
    "ErrorObject",
    "ExecutionDetails",
    "InitialExecutionState",
    "InvocationInput",
    "InvocationStatus",
    "Operation",
    "OperationAction",
    "OperationStatus",
    "OperationSubType",
    "OperationType",
    "OperationUpdate",
    "StepDetails",
    "StepOptions",
    "WaitDetails",
    "WaitOptions",
    "WireFormatError",
    "WireModel",
]


class OperationType(StrEnum):
    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationStatus(StrEnum):
    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def is_terminal(self) -> bool:
        """A terminal operation never changes again; replay returns or raises its outcome."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
        OperationStatus.STOPPED,
    }
)


class OperationAction(StrEnum):
    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class OperationSubType(StrEnum):
    """The subtypes AWS's SDK records for its own operations (the same strings here)."""

    STEP = "Step"
    WAIT = "Wait"
    CALLBACK = "Callback"
    RUN_IN_CHILD_CONTEXT = "RunInChildContext"
    MAP = "Map"
    MAP_ITERATION = "MapIteration"
    PARALLEL = "Parallel"
    PARALLEL_BRANCH = "ParallelBranch"
    WAIT_FOR_CALLBACK = "WaitForCallback"
    WAIT_FOR_CONDITION = "WaitForCondition"
    CHAINED_INVOKE = "ChainedInvoke"


class InvocationStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


class WireFormatError(ValueError):
    """A wire shape that does not match the API's model.

    ``path`` is where, in wire names from the shape parsed (``StepDetails.Attempt``);
    ``problem`` what is wrong there.
    """

    def __init__(self, problem: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(f"{'.'.join(path)}: {problem}" if path else problem)
        self.problem = problem
        self.path = path


_W = TypeVar("_W", bound="WireModel")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def _wire(cls: type[_W]) -> type[_W]:
    """Make ``cls`` a wire shape: keyword-only fields, immutable to the type checker.

    At runtime the dataclass is not frozen: a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, four times slower, and replay builds one
    ``Operation`` per record it reads. Nothing assigns to a field (mypy rejects it);
    ``dataclasses.replace`` makes changed copies.
    """
    shaped = dataclass(slots=True, kw_only=True)(cls)
    shaped._fields = _wire_fields(shaped)
    shaped.from_wire = classmethod(_compiled_parser(shaped))  # type: ignore[assignment,method-assign]
    return shaped


class WireModel:
    """Base of every wire shape: PascalCase on the wire, unknown fields ignored."""

    __slots__ = ()
    _fields: ClassVar[tuple[_Field, ...]]

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """Parse a PascalCase dict (boto3's answer, the JSON event, a request body).

        An absent or null field takes its default; one that is required and absent, or of
        the wrong type, raises ``WireFormatError``. (Each shape's own parser is compiled
        by ``_wire``: see ``_compiled_parser``.)
        """
        raise NotImplementedError(f"{cls.__name__} is not decorated with @_wire")

    def to_wire(self) -> dict[str, Any]:
        """The PascalCase dict boto3 and the JSON API expect (unset fields omitted)."""
        wire: dict[str, Any] = {}
        for spec in self._fields:
            value = getattr(self, spec.name)
            if value is not None:
                wire[spec.wire] = spec.dump(value)
        return wire


class _Field(NamedTuple):
    name: str
    wire: str
    default: Any
    parse: Callable[[Any], Any]
    dump: Callable[[Any], Any]
    # A Python expression of the field's value from its wire value ``{v}`` that handles the
    # common case inline and calls the parser ``{p}`` for the rest (to convert or reject
    # it); None: always the parser.
    fast: str | None


def _wire_fields(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        _Field(
            f.name,
            "".join(part[:1].upper() + part[1:] for part in f.name.split("_")),
            f.default_factory if f.default is dataclasses.MISSING else f.default,
            *_codec(hints[f.name], non_empty=bool(f.metadata.get("non_empty"))),
        )
        for f in dataclasses.fields(cls)
    )


def _compiled_parser(cls: type) -> Callable[[type, Any], Any]:
    """``from_wire`` for ``cls``, as straight-line code generated for its fields.

    Replay parses one record per operation it reads, so this is on the hot path: the
    code reads each field once, checks the common case inline (a string is a ``str``...),
    calls a converter only to convert or reject, and builds the path of a bad field only
    when it raises. The same technique as ``dataclasses`` generating ``__init__``.
    """
    scope: dict[str, Any] = {
        "WireFormatError": WireFormatError,
        "_kind": _kind,
        "_new": object.__new__,
        "_from_unix": _from_unix,
        "_UTC": _UTC,
    }
    reads, required, builds = [], [], []
    for i, spec in enumerate(cls._fields):  # type: ignore[attr-defined]
        v, wire = f"v{i}", repr(spec.wire)
        scope[f"p{i}"] = spec.parse
        reads.append(f"        key = {wire}\n        {v} = get({wire})\n")
        value = (spec.fast or "{p}({v})").format(v=v, p=f"p{i}")
        reads.append(f"        if {v} is not None:\n            {v} = {value}\n")
        if spec.default is dataclasses.MISSING:
            required.append(
                f"    if {v} is None:\n        raise WireFormatError('required', ({wire},))\n"
            )
        elif callable(spec.default):
            scope[f"d{i}"] = spec.default
            required.append(f"    if {v} is None:\n        {v} = d{i}()\n")
        elif spec.default is not None:
            scope[f"d{i}"] = spec.default
            required.append(f"    if {v} is None:\n        {v} = d{i}\n")
        builds.append(f"    obj.{spec.name} = {v}\n")
    source = (
        "def from_wire(cls, data):\n"
        "    if type(data) is not dict:\n"
        "        raise WireFormatError(f'expected an object, got {_kind(data)}')\n"
        "    get = data.get\n"
        "    key = ''\n"
        "    try:\n"
        f"{''.join(reads)}"
        "    except WireFormatError as exc:\n"
        "        raise WireFormatError(exc.problem, (key, *exc.path)) from None\n"
        f"{''.join(required)}"
        "    obj = _new(cls)\n"
        f"{''.join(builds)}"
        "    return obj\n"
    )
    exec(compile(source, f"<from_wire of {cls.__name__}>", "exec"), scope)
    parser: Callable[[type, Any], Any] = scope["from_wire"]
    return parser


def _non_empty() -> Any:
    """A required string field that must not be empty (ids, the ARN, the token)."""
    return field(metadata={"non_empty": True})


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _same(value: Any) -> Any:
    return value


def _codec(
    tp: Any, *, non_empty: bool
) -> tuple[Callable[[Any], Any], Callable[[Any], Any], str | None]:
    """How to read a field of annotation ``tp`` (its parser, and the inline expression of
    ``_Field.fast`` for its common case) and how to write it."""
    args = typing.get_args(tp)
    if type(None) in args:
        (tp,) = (arg for arg in args if arg is not type(None))
    if tp is str:
        if non_empty:
            return _non_empty_str, _same, "{v} if type({v}) is str and {v} else {p}({v})"
        return _str, _same, "{v} if type({v}) is str else {p}({v})"
    if tp is int:
        return _int, _same, "{v} if type({v}) is int else {p}({v})"
    if tp is bool:
        return _bool, _same, "{v} if type({v}) is bool else {p}({v})"
    if tp is _dt.datetime:
        # The JSON event's Unix milliseconds, up to 2106 (below 2**32 s a double holds
        # them to well under a microsecond, so ``fromtimestamp`` gives them back exact);
        # ``_timestamp`` reads every other form and rejects the rest.
        fast = "_from_unix({v} / 1000, _UTC) if type({v}) is int and %r < {v} < %r else {p}({v})"
        return _timestamp, _iso, fast % (_MILLIS_ABOVE, _FAST_MILLIS_BELOW)
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        return _enum(tp), _same, None
    if isinstance(tp, type) and issubclass(tp, WireModel):
        return tp.from_wire, _nested, None
    if typing.get_origin(tp) is list:
        return (_str_list if typing.get_args(tp) == (str,) else _list), list, None
    raise TypeError(f"no wire codec for {tp!r}")


def _str(value: Any) -> str:
    if type(value) is str:
        return value
    raise WireFormatError(f"expected a string, got {_kind(value)}")


def _non_empty_str(value: Any) -> str:
    if type(value) is str and value:
        return value
    raise WireFormatError(f"expected a non-empty string, got {value!r:.40}")


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise WireFormatError(f"expected an integer, got {_kind(value)}")


def _bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise WireFormatError(f"expected a boolean, got {_kind(value)}")


def _enum(tp: type[StrEnum]) -> Callable[[Any], Any]:
    members = tp._value2member_map_

    def parse(value: Any) -> Any:
        member = members.get(value) if isinstance(value, str) else None
        if member is None:
            raise WireFormatError(f"{value!r:.40} is not a {tp.__name__}")
        return member

    return parse


def _str_list(value: Any) -> list[str]:
    if type(value) is list and all(type(item) is str for item in value):
        return value
    raise WireFormatError("expected a list of strings")


def _list(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    raise WireFormatError(f"expected a list, got {_kind(value)}")


_UTC = _dt.UTC
_from_unix = _dt.datetime.fromtimestamp
# As pydantic reads a number: above this it is milliseconds since the epoch, else seconds.
_MILLIS_ABOVE = 2e10
_FAST_MILLIS_BELOW = 2**32 * 1000
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)
_ONE_MILLISECOND = _dt.timedelta(milliseconds=1)


def _timestamp(value: Any) -> _dt.datetime:
    """A datetime (boto3), Unix milliseconds or seconds (JSON), or an ISO 8601 string.

    The common form, the event's milliseconds, is converted inline by the compiled parser;
    here a whole number of milliseconds or seconds is converted exactly (``timedelta``),
    a fractional one to the nearest microsecond.
    """
    try:
        if isinstance(value, _dt.datetime):
            return value
        if type(value) is str:
            try:
                return _dt.datetime.fromisoformat(value)
            except ValueError:
                value = float(value)
        if type(value) is int:
            if abs(value) > _MILLIS_ABOVE:
                return _EPOCH + _dt.timedelta(milliseconds=value)
            return _EPOCH + _dt.timedelta(seconds=value)
        if type(value) is float:
            return _from_unix(value / 1000 if abs(value) > _MILLIS_ABOVE else value, _UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise WireFormatError(f"expected a timestamp, got {value!r:.40}")


def _iso(value: _dt.datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _nested(value: WireModel) -> dict[str, Any]:
    return value.to_wire()


def _millis(value: _dt.datetime | None) -> int | None:
    """Unix milliseconds, exact (``timestamp() * 1000`` is a float: one millisecond short
    for about one instant in 170). A naive datetime is local time, as ``timestamp()`` reads
    it."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.astimezone()
    return (aware - _EPOCH) // _ONE_MILLISECOND


@_wire
class ErrorObject(WireModel):
    error_message: str | None = None
    error_type: str | None = None
    error_data: str | None = None
    stack_trace: list[str] | None = None


@_wire
class ExecutionDetails(WireModel):
    input_payload: str | None = None


@_wire
class ContextDetails(WireModel):
    replay_children: bool | None = None
    result: str | None = None
    error: ErrorObject | None = None


@_wire
class StepDetails(WireModel):
    attempt: int | None = None
    next_attempt_timestamp: _dt.datetime | None = None
    result: str | None = None
    error: ErrorObject | None = None


@_wire
class WaitDetails(WireModel):
    scheduled_end_timestamp: _dt.datetime | None = None


@_wire
class CallbackDetails(WireModel):
    callback_id: str | None = None
    result: str | None = None
    error: ErrorObject | None = None


@_wire
class ChainedInvokeDetails(WireModel):
    result: str | None = None
    error: ErrorObject | None = None


@_wire
class Operation(WireModel):
    """One operation of the checkpoint log, as GetDurableExecutionState returns it."""

    id: str = _non_empty()
    parent_id: str | None = None
    name: str | None = None
    type: OperationType
    sub_type: str | None = None
    start_timestamp: _dt.datetime | None = None
    end_timestamp: _dt.datetime | None = None
    status: OperationStatus
    execution_details: ExecutionDetails | None = None
    context_details: ContextDetails | None = None
    step_details: StepDetails | None = None
    wait_details: WaitDetails | None = None
    callback_details: CallbackDetails | None = None
    chained_invoke_details: ChainedInvokeDetails | None = None

    def to_event_json(self) -> dict[str, Any]:
        """The JSON-event form: like ``to_wire`` but timestamps as Unix milliseconds."""
        data = self.to_wire()
        for key, value in (
            ("StartTimestamp", self.start_timestamp),
            ("EndTimestamp", self.end_timestamp),
        ):
            if value is not None:
                data[key] = _millis(value)
        if self.step_details and self.step_details.next_attempt_timestamp:
            data["StepDetails"]["NextAttemptTimestamp"] = _millis(
                self.step_details.next_attempt_timestamp
            )
        if self.wait_details and self.wait_details.scheduled_end_timestamp:
            data["WaitDetails"]["ScheduledEndTimestamp"] = _millis(
                self.wait_details.scheduled_end_timestamp
            )
        return data

    @property
    def result(self) -> str | None:
        """The recorded result payload, whatever the operation type."""
        details = self._details()
        return None if details is None else details.result

    @property
    def error(self) -> ErrorObject | None:
        """The recorded error, whatever the operation type."""
        details = self._details()
        return None if details is None else details.error

    def _details(
        self,
    ) -> StepDetails | ContextDetails | CallbackDetails | ChainedInvokeDetails | None:
        return (
            self.step_details
            or self.context_details
            or self.callback_details
            or self.chained_invoke_details
        )


@_wire
class ContextOptions(WireModel):
    replay_children: bool | None = None


@_wire
class StepOptions(WireModel):
    next_attempt_delay_seconds: int | None = None


@_wire
class WaitOptions(WireModel):
    wait_seconds: int


@_wire
class CallbackOptions(WireModel):
    timeout_seconds: int | None = None
    heartbeat_timeout_seconds: int | None = None


@_wire
class ChainedInvokeOptions(WireModel):
    function_name: str
    tenant_id: str | None = None
    # X-Ray trace header a tracing plugin attaches so the target joins the caller's trace.
    x_amzn_trace_id: str | None = None


@_wire
class OperationUpdate(WireModel):
    """One change sent in CheckpointDurableExecution's ``Updates``."""

    id: str
    parent_id: str | None = None
    name: str | None = None
    type: OperationType
    sub_type: str | None = None
    action: OperationAction
    payload: str | None = None
    error: ErrorObject | None = None
    context_options: ContextOptions | None = None
    step_options: StepOptions | None = None
    wait_options: WaitOptions | None = None
    callback_options: CallbackOptions | None = None
    chained_invoke_options: ChainedInvokeOptions | None = None


@_wire
class InitialExecutionState(WireModel):
    """The first page of the checkpoint log, as the event carries it.

    ``operations`` stay the event's wire dicts: ``CheckpointLog.add_wire`` checks their
    identity and validates each one when the engine reads it, so a large log is never
    turned into models all at once.
    """

    operations: list[Any] = field(default_factory=list)
    next_marker: str | None = None


@_wire
class InvocationInput(WireModel):
    """The Lambda event of a durable invocation (the operations unparsed, see above)."""

    durable_execution_arn: str = _non_empty()
    checkpoint_token: str = _non_empty()
    initial_execution_state: InitialExecutionState = field(default_factory=InitialExecutionState)
    # Operations the service changed while the execution was suspended.
    updated_operation_ids: list[str] = field(default_factory=list)
