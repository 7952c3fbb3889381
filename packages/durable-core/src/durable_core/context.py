"""``DurableContext``: what a durable handler calls.

Every method is a durable operation: its outcome is checkpointed under an id derived
from its position in the context, and on a later invocation the recorded outcome is
returned (or raised) without running the body again. Handlers must call operations in
the same order on every invocation; code between operations must be deterministic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from durable_core._ids import IdNamespace
from durable_core._replay import CheckpointLog, OperationCall, check_identity
from durable_core.checkpoint import Checkpointer
from durable_core.config import (
    CallbackConfig,
    ChildConfig,
    InvokeConfig,
    ResultT,
    StepConfig,
    WaitForCallbackConfig,
    WaitForConditionConfig,
    validate_name,
)
from durable_core.errors import BranchCancelled, ValidationError
from durable_core.logger import ReplaySafeLogger, default_logger
from durable_core.operations.step import run_step
from durable_core.typed import inferred_serdes
from durable_core.types import ErrorObject, Operation, OperationType

if TYPE_CHECKING:
    # What only some workflows use is imported by the method that uses it: a cold start
    # does not pay for batches, callbacks, sagas, combinators or plugins it never meets.
    from durable_core.batch import BatchResult, Branch, MapConfig, ParallelBranch, ParallelConfig
    from durable_core.combinators import Winner
    from durable_core.operations.callback import Callback
    from durable_core.operations.saga import CompensationResult
    from durable_core.payloads import Offload
    from durable_core.plugins import PluginDispatcher

__all__ = ["DurableContext", "StepContext"]

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class StepContext:
    """Given to a step body: which attempt this is, and a logger tagged with the step."""

    attempt: int
    operation_id: str
    name: str | None
    logger: ReplaySafeLogger


class ExecutionState:
    """What every context of one invocation shares: the log, the checkpointer, options."""

    def __init__(
        self,
        execution_arn: str,
        log: CheckpointLog,
        checkpointer: Checkpointer,
        *,
        logger: Any = None,
        plugins: PluginDispatcher | None = None,
        offload: Offload | None = None,
        preload: Callable[[OperationCall], Operation | None] | None = None,
    ) -> None:
        self.execution_arn = execution_arn
        self.log = log
        self.checkpointer = checkpointer
        self.base_logger = logger if logger is not None else default_logger()
        self.plugins = plugins
        self.offload = offload
        # The testing kit's seam (durable_testing.MockDurableContext): asked for the record
        # of an operation the log does not have, it may supply one (a pre-loaded outcome).
        self.preload = preload

    def step_config(self, config: StepConfig[T] | None, func: Callable[..., Any]) -> StepConfig[T]:
        """The effective config of a step: the typed serdes its return annotation asks
        for, and the execution's payload offload, unless the step sets its own."""
        effective: StepConfig[T] = typed_config(config or _DEFAULT_STEP, func)
        if effective.offload is None and self.offload is not None:
            effective = dataclasses.replace(effective, offload=self.offload)
        return effective


class DurableContext:
    """The durable operations of one context (the root, or a child context)."""

    def __init__(
        self,
        state: ExecutionState,
        *,
        parent_id: str | None = None,
        replaying: bool = False,
        lambda_context: Any = None,
        id_prefix: str | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self._state = state
        self._parent_id = parent_id
        # Ids are prefixed by the owning operation; a virtual (FLAT) branch has its own
        # prefix but reports its operations to the batch as parent.
        self._ids = IdNamespace(id_prefix or parent_id)
        self._cancel = cancel
        self._replaying = replaying
        self._replay_lock = threading.Lock()
        self.lambda_context = lambda_context
        # What must end before this context's operation reports its own end (the
        # branches of a batch still settling): run by ``child_flow``, see ``run_branches``.
        self._joins: list[Callable[[], None]] = []

    @functools.cached_property
    def logger(self) -> ReplaySafeLogger:
        """This context's logger, made when first used (a map item's context seldom logs).

        It asks the context whether it replays through a weak reference: a context and
        its logger referring to each other would be a cycle per child context, left for
        the cyclic GC (a third of a wide map's CPU time went to collecting them).
        """
        context = weakref.ref(self)

        def replaying() -> bool:
            alive = context()
            return alive is not None and alive._replaying

        state = self._state
        return ReplaySafeLogger.for_context(
            state.base_logger, replaying, state.execution_arn, self._parent_id
        )

    # -- what handlers read -------------------------------------------------------

    @property
    def execution_arn(self) -> str:
        return self._state.execution_arn

    @property
    def is_replaying(self) -> bool:
        """True while this context is re-running operations that already completed."""
        return self._replaying

    # -- operations ---------------------------------------------------------------

    def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T:
        """Run ``func`` once and checkpoint its result; on replay return the recorded result.

        A failure is retried per ``config.retry`` (the invocation suspends during the
        backoff); when retries are exhausted ``StepError`` is raised, identically on replay.
        """
        config = self._state.step_config(config, func)
        call = self._call(OperationType.STEP, config.sub_type or "Step", name)
        return run_step(self, call, func, config)

    def wait(self, duration: float | dt.timedelta, name: str | None = None) -> None:
        """Suspend for ``duration`` (seconds or a timedelta, at least 1 s) at no Lambda cost."""
        from durable_core.operations.wait import run_wait

        seconds = duration.total_seconds() if isinstance(duration, dt.timedelta) else duration
        call = self._call(OperationType.WAIT, "Wait", name)
        run_wait(self, call, seconds)

    def run_in_child_context(
        self,
        func: Callable[[DurableContext], T],
        name: str | None = None,
        config: ChildConfig[T] | None = None,
    ) -> T:
        """Run ``func`` with a child context: its operations get their own id namespace.

        The child's result is checkpointed as one operation, so on replay a completed
        child returns without re-running any of its operations.
        """
        from durable_core.operations.child import run_child

        config = typed_config(config or ChildConfig(), func)
        call = self._call(OperationType.CONTEXT, config.sub_type or "RunInChildContext", name)
        return run_child(self, call, func, config)

    # -- concurrency --------------------------------------------------------------

    def parallel(
        self,
        branches: Sequence[Callable[[DurableContext], T] | ParallelBranch[T]],
        name: str | None = None,
        config: ParallelConfig[T] | None = None,
    ) -> BatchResult[T]:
        """Run each function in its own child context, concurrently (threads).

        Branch ``i`` is named ``parallel-branch-{i}``, or as its ``ParallelBranch`` says.
        At most ``max_concurrency`` branches are in flight, counting branches that are
        waiting. Failures do not raise: inspect the ``BatchResult`` or call
        ``throw_if_error()``.
        """
        from durable_core.batch import Branch, ParallelConfig, branch_names
        from durable_core.operations.batch import parallel_branch_name, typed_parallel_config

        config = typed_parallel_config(config or ParallelConfig(), branches)
        config.completion_config.validate_for(len(branches))
        names = branch_names(branches, parallel_branch_name)
        items = [Branch(name, fn) for name, fn in zip(names, branches, strict=True)]
        return self._batch("Parallel", "ParallelBranch", name, items, config)

    def map(
        self,
        items: Sequence[U],
        func: Callable[[DurableContext, U, int, Sequence[U]], T],
        name: str | None = None,
        config: MapConfig[U] | None = None,
    ) -> BatchResult[T]:
        """Call ``func(ctx, item, index, items)`` for every item, each in a child context."""
        from durable_core.batch import Branch, MapConfig
        from durable_core.operations.batch import map_item_name, typed_map_config

        config = typed_map_config(config or MapConfig(), func)
        config.completion_config.validate_for(len(items))
        units = [
            Branch(
                map_item_name(config, item, i),
                lambda c, item=item, i=i: func(c, item, i, items),  # type: ignore[misc]
            )
            for i, item in enumerate(items)
        ]
        return self._batch("Map", "MapIteration", name, units, config)

    def _batch(
        self,
        sub_type: str,
        item_sub_type: str,
        name: str | None,
        branches: list[Branch],
        config: ParallelConfig[Any] | MapConfig[Any],
    ) -> BatchResult[Any]:
        from durable_core.operations.batch import batch_config, item_config, run_branches
        from durable_core.operations.child import run_child

        call = self._call(OperationType.CONTEXT, sub_type, name)

        def coordinate(batch_ctx: DurableContext) -> BatchResult[Any]:
            return run_branches(
                batch_ctx,
                branches,
                sub_type=item_sub_type,
                max_concurrency=config.max_concurrency,
                completion=config.completion_config,
                item_config=item_config(config),
                nesting=config.nesting_type,
            )

        result: BatchResult[Any] = run_child(self, call, coordinate, batch_config(config))
        return result

    # -- engine plumbing ----------------------------------------------------------

    def _call(self, op_type: OperationType, sub_type: str, name: str | None) -> OperationCall:
        if name is not None:
            name = validate_name(name)
        return OperationCall(self._ids.next_id(), op_type, sub_type, name, self._parent_id)

    def _begin(self, call: OperationCall, *, virtual: bool = False) -> Operation | None:
        """Look up and validate the record of ``call``; flip to executing at new work.

        ``virtual``: a FLAT branch, which records nothing and so is not reported started.
        """
        if self._cancel is not None and self._cancel.is_set():
            raise BranchCancelled(f"{call.describe()}: its batch has already completed")
        recorded = self._state.log.get(call.id)
        if recorded is None and self._state.preload is not None:
            recorded = self._state.preload(call)
            if recorded is not None:
                self._state.log.update((recorded,))
        check_identity(call, recorded)
        if self._replaying and (
            recorded is None
            or (call.type is OperationType.STEP and not recorded.status.is_terminal)
        ):
            self._set_executing()
        plugins = self._state.plugins
        if plugins is not None:  # report the start to the plugins (tracing included)
            plugins.operation_started(call, recorded, virtual=virtual)
        return recorded

    def _end(self, call: OperationCall, recorded: Operation | None, outcome: str) -> None:
        """After an operation: leave replay mode once the next operation has no record."""
        if self._replaying and (
            (recorded is not None and not recorded.status.is_terminal)
            or self._ids.peek_id() not in self._state.log
        ):
            self._set_executing()
        plugins = self._state.plugins
        if plugins is not None:
            plugins.operation_ended(call)

    def _set_executing(self) -> None:
        with self._replay_lock:
            self._replaying = False

    def _child(
        self,
        operation_id: str,
        *,
        virtual: bool = False,
        cancel: threading.Event | None = None,
    ) -> DurableContext:
        """The context of a child operation; ``virtual`` children report to our parent."""
        return DurableContext(
            self._state,
            parent_id=self._parent_id if virtual else operation_id,
            id_prefix=operation_id,
            replaying=self._replaying,
            lambda_context=self.lambda_context,
            cancel=cancel or self._cancel,
        )

    def _user_function(
        self, call: OperationCall, attempt: int | None, *, is_replay_children: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """Bracket a run of the user's code of ``call`` with the plugins' user-function hooks
        (a step's or a poll's attempt, a child context's body, a batch's branches)."""
        plugins = self._state.plugins
        if plugins is None:
            return contextlib.nullcontext()
        return plugins.user_function(call, attempt, is_replay_children=is_replay_children)

    def _context_returned(
        self, call: OperationCall, error: ErrorObject | None = None, *, replayed: bool = False
    ) -> None:
        """Report the end of a child context that records no outcome (see plugins)."""
        plugins = self._state.plugins
        if plugins is not None:
            plugins.context_returned(call, error, replayed=replayed)

    @property
    def _checkpointer(self) -> Checkpointer:
        return self._state.checkpointer

    def _record(self, operation_id: str) -> Operation | None:
        return self._state.log.get(operation_id)

    # -- callbacks, invoke, conditions, saga ---------------------------------------

    def create_callback(
        self, name: str | None = None, config: CallbackConfig[ResultT] | None = None
    ) -> Callback[ResultT]:
        """Create a callback: give ``callback_id`` to an external system, then ``result()``.

        The START is persisted before this returns (the service makes the id). A
        recorded failure is raised by ``result()``, never here, so the code between the
        two runs identically on every replay. Without ``config.serdes`` the result is the
        payload string as the external system sent it.
        """
        from durable_core.operations.callback import create_callback

        config = config or CallbackConfig()
        call = self._call(OperationType.CALLBACK, config.sub_type or "Callback", name)
        return create_callback(self, call, config)

    def wait_for_callback(
        self,
        submitter: Callable[[str, StepContext], None],
        name: str | None = None,
        config: WaitForCallbackConfig[ResultT] | None = None,
    ) -> ResultT:
        """Create a callback, hand its id to ``submitter`` in a step, return the answer.

        As in AWS's SDK: a child context (subtype ``WaitForCallback``) holding the
        callback ``"<name> create callback id"`` and the step ``"<name> submitter"``
        (retried per ``config.retry``). Failures raise ``CallbackSubmitterError``,
        ``CallbackTimeoutError`` or ``CallbackExternalError``, identically on replay.
        """
        from durable_core.operations.callback import wait_for_callback

        if not callable(submitter):
            raise ValidationError("wait_for_callback needs a callable submitter")
        call = self._call(OperationType.CONTEXT, "WaitForCallback", name)
        return wait_for_callback(self, call, submitter, config)

    def invoke(
        self,
        function_name: str,
        payload: Any,
        name: str | None = None,
        config: InvokeConfig[Any, ResultT] | None = None,
    ) -> ResultT:
        """Invoke the durable function ``function_name`` with ``payload``; return its result.

        The invocation suspends until the service reports the target finished; a
        target that failed, timed out or was stopped raises ``InvokeError``.
        """
        from durable_core.operations.invoke import run_invoke, validate_function_name

        validate_function_name(function_name)
        call = self._call(OperationType.CHAINED_INVOKE, "ChainedInvoke", name)
        return run_invoke(self, call, function_name, payload, config or InvokeConfig())

    def wait_for_condition(
        self,
        check: Callable[[T, StepContext], T],
        config: WaitForConditionConfig[T],
        name: str | None = None,
    ) -> T:
        """Poll ``check(state)`` until ``config.wait_strategy`` stops; return the last state.

        Each poll that goes on checkpoints the new state and suspends for the delay
        the strategy chose, so waiting costs no Lambda time. A check that raises, or a
        strategy that gives up, raises ``WaitForConditionError``.
        """
        from durable_core.operations.wait_for_condition import run_wait_for_condition

        if not callable(check):
            raise ValidationError("wait_for_condition needs a callable check")
        if not isinstance(config, WaitForConditionConfig):
            raise ValidationError("wait_for_condition needs a WaitForConditionConfig")
        call = self._call(OperationType.STEP, "WaitForCondition", name)
        return run_wait_for_condition(self, call, check, config)

    def step_with_compensation(
        self,
        func: Callable[[StepContext], T],
        compensate: Callable[[T, StepContext], None],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T:
        """Run a step and, once it succeeded, register ``compensate(result)`` in this context.

        Nothing extra is checkpointed: replay registers the compensation again.
        ``run_compensations`` runs what was registered.
        """
        from durable_core.operations.saga import check_compensate, register

        check_compensate(compensate)
        result = self.step(func, name, config)
        register(self, validate_name(name), compensate, result)
        return result

    def run_compensations(self, name: str | None = None) -> CompensationResult:
        """Undo, last first, every step registered by ``step_with_compensation`` here.

        One child context (subtype ``Compensations``) with one step per compensation,
        named ``compensate-<step name>``; all run even if some fail, and the result
        lists each outcome.
        """
        from durable_core.operations.saga import run_compensations

        return run_compensations(self, name)

    # -- versions and combinators ---------------------------------------------------

    def patched(self, change_id: str) -> bool:
        """Whether this execution takes the new code path of the change ``change_id``.

        False only for an execution that already ran past this point on the code
        before the change; True otherwise, and then a marker is checkpointed (a STEP of
        subtype ``Patch``) that consumes no operation id, so the ids of the operations
        after it do not shift. See docs/versioning.md.
        """
        from durable_core.patches import patched

        return patched(self, change_id)

    def deprecate_patch(self, change_id: str) -> None:
        """The clean-up phase of ``patched``: only the new path remains in the code.

        Records the marker like ``patched``; raises ``NonDeterministicExecutionError``
        if this execution ran past this point on the code before the change.
        """
        from durable_core.patches import deprecate_patch

        deprecate_patch(self, change_id)

    def race(
        self,
        *branches: Callable[[DurableContext], T] | ParallelBranch[T],
        name: str | None = None,
    ) -> Winner[T]:
        """Run the branches concurrently; the first to finish decides, success or failure.

        Returns the winner's index and value, or raises its error (``ChildContextError``).
        Branches still running stop at their next operation; a branch suspended in a
        wait or a callback is never resumed. Also on ``AsyncDurableContext`` (awaited;
        branches run as tasks).
        """
        from durable_core.combinators import race

        return race(self, branches, name)

    def any(
        self,
        *branches: Callable[[DurableContext], T] | ParallelBranch[T],
        name: str | None = None,
    ) -> Winner[T]:
        """Run the branches concurrently; return the first success (index and value).

        Failures are tolerated until every branch failed: then ``AllBranchesFailedError``
        carries each branch's error. Also on ``AsyncDurableContext`` (awaited; branches
        run as tasks).
        """
        from durable_core.combinators import any_of

        return any_of(self, branches, name)

    def all_settled(
        self, *branches: Callable[[DurableContext], T] | ParallelBranch[T], name: str | None = None
    ) -> BatchResult[T]:
        """Run every branch to its end, whatever fails; return every outcome, by index.

        Also on ``AsyncDurableContext`` (awaited; branches run as tasks).
        """
        from durable_core.combinators import all_settled

        return all_settled(self, branches, name)


_DEFAULT_STEP: StepConfig[Any] = StepConfig()
_Config = TypeVar("_Config", StepConfig[Any], ChildConfig[Any])


def typed_config(config: _Config, func: Callable[..., Any]) -> _Config:
    """``config`` with the serdes the function's return annotation asks for, if it has
    none: a step declared to return a model gets the model back, on replay too."""
    if config.serdes is not None:
        return config
    serdes = inferred_serdes(func)
    return config if serdes is None else dataclasses.replace(config, serdes=serdes)
