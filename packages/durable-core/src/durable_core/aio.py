"""``AsyncDurableContext``: the durable operations for ``async def`` handlers.

The same engine as ``DurableContext``: every operation is the flow of
``durable_core.operations`` (its replay decision, its updates), driven here with
``await`` instead of plain calls. So an async workflow and the same workflow written
sync checkpoint the same updates under the same ids, and either replays the other's
log. What differs is only how waiting and concurrency happen:

* Checkpoint calls (boto3 underneath) run on one sender thread per invocation, in the
  order the operations issue them, so the event loop is never blocked by the network
  (``_Runtime``; the threads an invocation uses: docs/performance.md).
* A step's body may be ``async def`` (awaited on the loop) or a plain function. A
  plain body runs in the loop thread, as AWS's SDK runs it in the handler's thread:
  deterministic, but it blocks the loop while it runs, so do blocking I/O in an
  ``async def`` body (or ``await asyncio.to_thread(...)`` inside one). Only a step with
  ``timeout_seconds`` runs a plain body in a (daemon) thread, as the sync driver does.
  ``asyncio.CancelledError`` raised by a body is its failure, as any exception is.
* ``parallel`` and ``map`` run their branches as asyncio tasks, at most
  ``max_concurrency`` at a time; a branch that suspends keeps its slot, as with threads.
  ``race``, ``any`` and ``all_settled`` are such batches, with the rules of
  ``durable_core.combinators``.
* The saga and the version gates are the shared flows and helpers of
  ``operations.saga`` and ``patches``; a compensation may be ``async def``.

An ``async def`` handler gets an ``AsyncDurableContext``; ``run_invocation`` runs it on
an event loop it owns for the invocation (see ``run_async_handler``). An operation
called and never awaited fails the invocation (``UnawaitedOperationError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from durable_core.batch import (
    BatchResult,
    CompletionConfig,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
    branch_names,
)
from durable_core.checkpoint import Checkpointer
from durable_core.combinators import (
    ALL_SETTLED,
    ANY,
    RACE,
    Combinator,
    Winner,
    any_winner,
    race_winner,
)
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
from durable_core.context import DurableContext, StepContext, typed_config
from durable_core.errors import (
    DurableOperationError,
    StepError,
    SuspendExecution,
    UnawaitedOperationError,
    ValidationError,
    qualified_type_name,
)
from durable_core.logger import ReplaySafeLogger
from durable_core.operations._flow import (
    Body,
    Flow,
    Flush,
    Send,
    SendResult,
    is_coroutine_function,
    no_body,
)
from durable_core.operations.batch import (
    BatchTally,
    BranchEvent,
    batch_config,
    branch_call,
    branch_settled,
    check_branch_count,
    item_config,
    map_item_name,
    parallel_branch_name,
    settles_ends,
    typed_map_config,
    typed_parallel_config,
)
from durable_core.operations.callback import (
    Callback,
    WaitForCallbackNames,
    create_callback_flow,
    wait_for_callback_flow,
)
from durable_core.operations.child import child_flow
from durable_core.operations.invoke import invoke_flow, validate_function_name
from durable_core.operations.saga import (
    CompensationResult,
    check_compensate,
    compensations_flow,
    register,
    take_pending,
)
from durable_core.operations.step import step_flow
from durable_core.operations.wait import wait_flow
from durable_core.operations.wait_for_condition import wait_for_condition_flow
from durable_core.patches import deprecate_patch_flow, patched_flow
from durable_core.types import OperationType

__all__ = ["AsyncCallback", "AsyncDurableContext", "run_async_handler", "run_awaitable"]

T = TypeVar("T")
U = TypeVar("U")
P = ParamSpec("P")

# A branch of an async batch: a function of the branch's context, named or not.
_AsyncBranch = Callable[["AsyncDurableContext"], Awaitable[T]] | ParallelBranch[Awaitable[T]]


class _Runtime:
    """What the contexts of one async invocation share: the checkpoint sender thread,
    and the operations' coroutines not yet awaited.

    A checkpoint call may block on the network, so it runs off the loop, on one thread:
    an update is queued on the loop (in the order the tasks issue them) and the task
    that must see it persisted awaits the call in flight, or starts the next one, which
    carries everything queued meanwhile. So concurrent tasks (parallel, map branches)
    share calls as threads of the sync API do (group commit), with one thread in all
    instead of one per waiting task.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-checkpoint")
        self._call: asyncio.Future[None] | None = None
        # The operations' coroutines that may not have started yet (see ``track``).
        self._created: list[Coroutine[Any, Any, Any]] = []
        self._prune_at = _PRUNE_AT

    def track(self, coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        """Remember an operation's coroutine, so one never awaited is found (``unawaited``).

        Started ones are dropped now and then: the list stays as long as the coroutines
        created and not yet awaited, not as long as the workflow.
        """
        created = self._created
        created.append(coro)
        if len(created) >= self._prune_at:
            created[:] = [
                c for c in created if inspect.getcoroutinestate(c) == inspect.CORO_CREATED
            ]
            self._prune_at = max(_PRUNE_AT, 2 * len(created))
        return coro

    def check_awaited(self) -> None:
        """Raise ``UnawaitedOperationError`` for an operation never awaited (see ``discard``)."""
        never = self.discard()
        if never:
            raise UnawaitedOperationError(
                f"{', '.join(never)} {'was' if len(never) == 1 else 'were'} called but never "
                "awaited, so it did not run: await every AsyncDurableContext operation "
                "(an async def handler is given AsyncDurableContext: annotate ctx with it, "
                "and mypy reports an operation used without await)"
            )

    def discard(self) -> list[str]:
        """Close the operations' coroutines never started (no "never awaited" warning left
        for the interpreter to print later); return what each was, for the error."""
        never = []
        for coro in self._created:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                name = getattr(coro, "cr_frame").f_locals.get("name")  # noqa: B009 - typeshed
                operation = getattr(coro, "__qualname__", "operation").replace("._", ".")
                never.append(f"{operation}({'' if name is None else repr(name)})")
                coro.close()
        self._created.clear()
        return never

    async def checkpoint(
        self, checkpointer: Checkpointer, effect: Send | SendResult | Flush
    ) -> None:
        """``perform_checkpoint`` with the waiting done on the loop (see the class)."""
        if isinstance(effect, Send):
            number = checkpointer.queue(effect.update, sync=effect.sync)
        elif isinstance(effect, SendResult):
            number = checkpointer.queue_result(effect.update, pipelined=effect.pipelined)
        else:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, checkpointer.flush)
            return
        if number is not None:
            await self.persisted(checkpointer, number)

    async def persisted(self, checkpointer: Checkpointer, number: int) -> None:
        """Return once the first ``number`` updates queued are persisted (the call in
        flight, or the next one this starts); raise what prevented it."""
        loop = asyncio.get_running_loop()
        while checkpointer.persisted < number and not checkpointer.revoked:
            call = self._call
            if call is None or call.done():
                call = self._call = loop.run_in_executor(
                    self._executor, checkpointer.persist_through, checkpointer.queued
                )
            await asyncio.shield(call)  # a failed call fails each task waiting on it
        checkpointer.persist_through(number)  # persisted: raises only a failure or revocation

    def close(self) -> None:
        self._executor.shutdown(wait=True)


_PRUNE_AT = 64


class _Operations(Protocol):
    _runtime: _Runtime


_S = TypeVar("_S", bound=_Operations)


def _operation(
    method: Callable[Concatenate[_S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[_S, P], Coroutine[Any, Any, T]]:
    """An awaited operation: its coroutine is tracked, so one never awaited fails the
    invocation (``_Runtime.check_awaited``) instead of silently not running."""

    @functools.wraps(method)
    def operation(self: _S, /, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
        return self._runtime.track(method(self, *args, **kwargs))

    return operation


class _CancelledBody(DurableOperationError):
    """``asyncio.CancelledError`` raised by the user's code: its failure, recorded under
    its own type and retried per policy, as any exception of a body is.

    A ``CancelledError`` is a ``BaseException``, which the operations' flows (like AWS's
    SDK) let through; it would escape the invocation and leave the operation STARTED.
    Only the cancellation of the task running the operation is let through.
    """

    @classmethod
    def of(cls, exc: asyncio.CancelledError) -> _CancelledBody:
        return cls(str(exc) or None, error_type=qualified_type_name(exc))


async def _run_body(body: Callable[..., Any], effect: Body) -> Any:
    try:
        return await _attempt(body, effect)
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise _CancelledBody.of(exc) from exc


async def _attempt(body: Callable[..., Any], effect: Body) -> Any:
    if effect.timeout is None:
        value = body(*effect.args)
        return await value if inspect.isawaitable(value) else value
    # Bounded as in the sync driver: a plain body runs in a thread of its own that is
    # abandoned at the timeout (a daemon: the invocation does not wait for it); what
    # is awaited (an async def body, or the coroutine a lambda returned) is cancelled
    # at the timeout, and not waited for either.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + effect.timeout
    if is_coroutine_function(body):
        value = body(*effect.args)
    else:
        in_thread = _in_daemon_thread(body, effect.args)
        done, _ = await asyncio.wait({in_thread}, timeout=effect.timeout)
        if not done:
            in_thread.cancel()
            raise effect.timeout_error()
        value = in_thread.result()
        if not inspect.isawaitable(value):
            return value
    awaited: asyncio.Future[Any] = asyncio.ensure_future(value)
    done, _ = await asyncio.wait({awaited}, timeout=max(0.0, deadline - loop.time()))
    if not done:
        awaited.cancel()
        raise effect.timeout_error()
    return awaited.result()


def _in_daemon_thread(body: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
    """``body(*args)`` in a new daemon thread (with this task's context variables); its
    outcome resolves the future, unless the future was given up or the loop closed."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def attempt() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = context.run(body, *args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed: the invocation ended
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=attempt, name="durable-step-attempt", daemon=True).start()
    return future


class AsyncCallback(Generic[ResultT]):
    """A callback the service created: hand ``callback_id`` out, then ``await result()``."""

    def __init__(self, callback: Callback[ResultT], ctx: AsyncDurableContext) -> None:
        self.callback_id = callback.callback_id
        self._callback = callback
        self._ctx = ctx
        self._runtime = ctx._runtime

    @_operation
    async def result(self) -> ResultT:
        """As ``Callback.result``: the answer, or suspend while open, or the typed error."""
        return await self._ctx._drive(self._callback.result_flow())


class AsyncDurableContext:
    """The durable operations of one context (root or child), for ``async def`` code.

    Every method is awaited and has the semantics (and checkpoints) of the
    ``DurableContext`` method of the same name.
    """

    def __init__(self, core: DurableContext, runtime: _Runtime) -> None:
        self._core = core
        self._runtime = runtime

    @property
    def logger(self) -> ReplaySafeLogger:
        return self._core.logger

    @property
    def is_replaying(self) -> bool:
        """True while this context is re-running operations that already completed."""
        return self._core.is_replaying

    @property
    def execution_arn(self) -> str:
        return self._core.execution_arn

    @property
    def lambda_context(self) -> Any:
        return self._core.lambda_context

    # -- operations ---------------------------------------------------------------

    @overload
    async def step(
        self,
        func: Callable[[StepContext], Coroutine[Any, Any, T]],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T: ...

    @overload
    async def step(
        self,
        func: Callable[[StepContext], T],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T: ...

    def step(
        self,
        func: Callable[[StepContext], Any],
        name: str | None = None,
        config: StepConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Run ``func`` (sync or ``async def``) once and checkpoint its result.

        On replay the recorded result is returned without running ``func``; failures
        are retried per ``config.retry`` exactly as ``DurableContext.step``.
        """
        return self._runtime.track(self._step(func, name, config))

    async def _step(
        self,
        func: Callable[[StepContext], Any],
        name: str | None,
        config: StepConfig[Any] | None,
    ) -> Any:
        config = self._core._state.step_config(config, func)
        call = self._core._call(OperationType.STEP, config.sub_type or "Step", name)
        return await self._drive(step_flow(self._core, call, config), func)

    @_operation
    async def wait(self, duration: float | dt.timedelta, name: str | None = None) -> None:
        """Suspend for ``duration`` (seconds or a timedelta, at least 1 s) at no Lambda cost."""
        seconds = duration.total_seconds() if isinstance(duration, dt.timedelta) else duration
        call = self._core._call(OperationType.WAIT, "Wait", name)
        await self._drive(wait_flow(self._core, call, seconds))

    @_operation
    async def run_in_child_context(
        self,
        func: Callable[[AsyncDurableContext], Awaitable[T]],
        name: str | None = None,
        config: ChildConfig[T] | None = None,
    ) -> T:
        """Run ``func`` with a child context, checkpointed as one operation."""
        config = typed_config(config or ChildConfig(), func)
        sub_type = config.sub_type or "RunInChildContext"
        call = self._core._call(OperationType.CONTEXT, sub_type, name)
        result: T = await self._drive(child_flow(self._core, call, config), self._wrap(func))
        return result

    @_operation
    async def parallel(
        self,
        branches: Sequence[_AsyncBranch[T]],
        name: str | None = None,
        config: ParallelConfig[T] | None = None,
    ) -> BatchResult[T]:
        """Run each function in its own child context, concurrently (asyncio tasks).

        As ``DurableContext.parallel``: at most ``max_concurrency`` branches in flight,
        counting branches that are waiting; failures are in the ``BatchResult``; a
        ``ParallelBranch`` names its branch.
        """
        config = typed_parallel_config(config or ParallelConfig(), branches)
        config.completion_config.validate_for(len(branches))
        names = branch_names(branches, parallel_branch_name)
        return await self._batch("Parallel", "ParallelBranch", name, names, branches, config)

    @_operation
    async def map(
        self,
        items: Sequence[U],
        func: Callable[[AsyncDurableContext, U, int, Sequence[U]], Awaitable[T]],
        name: str | None = None,
        config: MapConfig[U] | None = None,
    ) -> BatchResult[T]:
        """Await ``func(ctx, item, index, items)`` for every item, each in a child context."""
        config = typed_map_config(config or MapConfig(), func)
        config.completion_config.validate_for(len(items))
        names = [map_item_name(config, item, i) for i, item in enumerate(items)]
        units = [lambda c, item=item, i=i: func(c, item, i, items) for i, item in enumerate(items)]
        return await self._batch("Map", "MapIteration", name, names, units, config)

    @_operation
    async def create_callback(
        self, name: str | None = None, config: CallbackConfig[ResultT] | None = None
    ) -> AsyncCallback[ResultT]:
        """As ``DurableContext.create_callback``; ``await callback.result()`` for the answer."""
        config = config or CallbackConfig()
        call = self._core._call(OperationType.CALLBACK, config.sub_type or "Callback", name)
        flow: Flow[Callback[ResultT]] = create_callback_flow(self._core, call, config)
        return AsyncCallback(await self._drive(flow), self)

    @_operation
    async def wait_for_callback(
        self,
        submitter: Callable[[str, StepContext], Any],
        name: str | None = None,
        config: WaitForCallbackConfig[ResultT] | None = None,
    ) -> ResultT:
        """As ``DurableContext.wait_for_callback``; ``submitter`` may be ``async def``."""
        if not callable(submitter):
            raise ValidationError("wait_for_callback needs a callable submitter")
        call = self._core._call(OperationType.CONTEXT, "WaitForCallback", name)
        names = WaitForCallbackNames.of(call, config)

        async def body(child: AsyncDurableContext) -> ResultT:
            callback = await child.create_callback(names.callback, config)
            await child.step(
                lambda step_ctx: submitter(callback.callback_id, step_ctx),
                name=names.submitter,
                config=names.step_config,
            )
            return await callback.result()

        flow: Flow[ResultT] = wait_for_callback_flow(self._core, call, config)
        return await self._drive(flow, self._wrap(body))

    @_operation
    async def invoke(
        self,
        function_name: str,
        payload: Any,
        name: str | None = None,
        config: InvokeConfig[Any, ResultT] | None = None,
    ) -> ResultT:
        """As ``DurableContext.invoke``: the target's result, or ``InvokeError``."""
        validate_function_name(function_name)
        call = self._core._call(OperationType.CHAINED_INVOKE, "ChainedInvoke", name)
        flow: Flow[ResultT] = invoke_flow(
            self._core, call, function_name, payload, config or InvokeConfig()
        )
        return await self._drive(flow)

    @_operation
    async def wait_for_condition(
        self,
        check: Callable[[T, StepContext], T] | Callable[[T, StepContext], Awaitable[T]],
        config: WaitForConditionConfig[T],
        name: str | None = None,
    ) -> T:
        """As ``DurableContext.wait_for_condition``; ``check`` may be ``async def``."""
        if not callable(check):
            raise ValidationError("wait_for_condition needs a callable check")
        if not isinstance(config, WaitForConditionConfig):
            raise ValidationError("wait_for_condition needs a WaitForConditionConfig")
        call = self._core._call(OperationType.STEP, "WaitForCondition", name)
        result: T = await self._drive(wait_for_condition_flow(self._core, call, config), check)
        return result

    # -- saga, versions and combinators ---------------------------------------------

    @overload
    async def step_with_compensation(
        self,
        func: Callable[[StepContext], Coroutine[Any, Any, T]],
        compensate: Callable[[T, StepContext], Awaitable[None] | None],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T: ...

    @overload
    async def step_with_compensation(
        self,
        func: Callable[[StepContext], T],
        compensate: Callable[[T, StepContext], Awaitable[None] | None],
        name: str | None = None,
        config: StepConfig[T] | None = None,
    ) -> T: ...

    def step_with_compensation(
        self,
        func: Callable[[StepContext], Any],
        compensate: Callable[[Any, StepContext], Awaitable[None] | None],
        name: str | None = None,
        config: StepConfig[Any] | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """As ``DurableContext.step_with_compensation``; either function may be ``async def``."""
        return self._runtime.track(self._step_with_compensation(func, compensate, name, config))

    async def _step_with_compensation(
        self,
        func: Callable[[StepContext], Any],
        compensate: Callable[[Any, StepContext], Awaitable[None] | None],
        name: str | None,
        config: StepConfig[Any] | None,
    ) -> Any:
        check_compensate(compensate)
        result = await self._step(func, name, config)
        register(self._core, validate_name(name), compensate, result)
        return result

    @_operation
    async def run_compensations(self, name: str | None = None) -> CompensationResult:
        """As ``DurableContext.run_compensations``: undo, newest first, in one child context."""
        pending = take_pending(self._core)

        async def undo_all(child: AsyncDurableContext) -> list[dict[str, Any]]:
            recorded: list[dict[str, Any]] = []
            for entry in pending:
                try:
                    await child.step(entry.undo, name=entry.name)
                except StepError as exc:
                    recorded.append(entry.outcome(exc))
                else:
                    recorded.append(entry.outcome(None))
            return recorded

        return await self._drive(compensations_flow(self._core, name), self._wrap(undo_all))

    @_operation
    async def patched(self, change_id: str) -> bool:
        """As ``DurableContext.patched``; awaited, since it may checkpoint the marker."""
        return await self._drive(patched_flow(self._core, change_id))

    @_operation
    async def deprecate_patch(self, change_id: str) -> None:
        """As ``DurableContext.deprecate_patch``; awaited, since it checkpoints the marker."""
        await self._drive(deprecate_patch_flow(self._core, change_id))

    @_operation
    async def race(self, *branches: _AsyncBranch[T], name: str | None = None) -> Winner[T]:
        """As ``DurableContext.race``, the branches run as tasks: the first outcome decides."""
        return race_winner(await self._combine(RACE, branches, name))

    @_operation
    async def any(self, *branches: _AsyncBranch[T], name: str | None = None) -> Winner[T]:
        """As ``DurableContext.any``: the first success, or ``AllBranchesFailedError``."""
        return any_winner(await self._combine(ANY, branches, name), name)

    @_operation
    async def all_settled(
        self, *branches: _AsyncBranch[T], name: str | None = None
    ) -> BatchResult[T]:
        """As ``DurableContext.all_settled``: every branch run to its end, every outcome."""
        return await self._combine(ALL_SETTLED, branches, name)

    async def _combine(
        self,
        combinator: Combinator,
        branches: Sequence[Callable[[AsyncDurableContext], Awaitable[Any]]],
        name: str | None,
    ) -> BatchResult[Any]:
        names = combinator.branch_names(branches)
        return await self._batch(
            combinator.sub_type, "ParallelBranch", name, names, branches, combinator.config()
        )

    # -- the driver -----------------------------------------------------------------

    async def _drive(self, flow: Flow[T], body: Callable[..., Any] = no_body) -> T:
        """Drive ``flow`` (see ``operations._flow``): checkpoint off the loop, await bodies."""
        checkpointer = self._core._checkpointer
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            value, error = None, None
            try:
                if isinstance(effect, Body):
                    value = await _run_body(body, effect)
                else:
                    await self._runtime.checkpoint(checkpointer, effect)
            except BaseException as exc:
                error = exc

    def _wrap(self, func: Callable[[AsyncDurableContext], Any]) -> Callable[[DurableContext], Any]:
        """A child flow's body: ``func`` given the async face of the child context."""
        return lambda core: func(AsyncDurableContext(core, self._runtime))

    async def _batch(
        self,
        sub_type: str,
        item_sub_type: str,
        name: str | None,
        names: list[str],
        funcs: Sequence[Callable[[AsyncDurableContext], Awaitable[Any]]],
        config: ParallelConfig[Any] | MapConfig[Any],
    ) -> BatchResult[Any]:
        call = self._core._call(OperationType.CONTEXT, sub_type, name)

        async def coordinate(batch_ctx: AsyncDurableContext) -> BatchResult[Any]:
            return await batch_ctx._run_branches(
                names,
                funcs,
                sub_type=item_sub_type,
                max_concurrency=config.max_concurrency,
                completion=config.completion_config,
                branch_config=item_config(config),
                nesting=config.nesting_type,
            )

        flow: Flow[BatchResult[Any]] = child_flow(self._core, call, batch_config(config))
        return await self._drive(flow, self._wrap(coordinate))

    async def _run_branches(
        self,
        names: list[str],
        funcs: Sequence[Callable[[AsyncDurableContext], Awaitable[Any]]],
        *,
        sub_type: str,
        max_concurrency: int | None,
        completion: CompletionConfig,
        branch_config: ChildConfig[Any],
        nesting: NestingType,
    ) -> BatchResult[Any]:
        """The batch's body: ``operations.batch.run_branches`` with tasks for threads."""
        batch_id = self._core._parent_id
        assert batch_id is not None
        check_branch_count(self._core, batch_id, len(funcs), nesting)
        checkpointer = self._core._checkpointer
        tally = BatchTally(
            batch_id, len(funcs), max_concurrency, completion, lambda: checkpointer.news
        )
        if tally.total == 0:
            return tally.result()
        cancel = threading.Event()
        events: asyncio.Queue[BranchEvent] = asyncio.Queue()
        early = tally.releases_early
        settle = settles_ends(tally, nesting, self._core)

        async def work(index: int) -> None:
            call = branch_call(batch_id, index, names[index], sub_type)
            flow = child_flow(
                self._core,
                call,
                branch_config,
                virtual=nesting is NestingType.FLAT,
                cancel=cancel,
                branch=early,
            )
            try:
                try:
                    value = await self._drive(flow, self._wrap(funcs[index]))
                except BaseException as exc:
                    event = BranchEvent.of_error(index, exc)
                else:
                    event = BranchEvent.of_success(index, value)
                # The slot is free: the batch starts the next branch now (see run_branches).
                checkpointer.count_branches(1)
                events.put_nowait(event)
                if settle and event.ended:
                    try:
                        await self._runtime.persisted(checkpointer, checkpointer.queued)
                    except (Exception, SuspendExecution):
                        return  # the checkpointer keeps it: the batch raises it next
                    branch_settled(self._core, call)
            finally:
                checkpointer.count_branches(-1)

        tasks: list[asyncio.Task[None]] = []
        handled = 0  # events handled whose count the branches they start take over
        try:
            while not tally.complete():
                runnable = tally.start_next() + tally.resume_or_suspend()
                checkpointer.count_branches(len(runnable) - handled)
                handled = 0
                tasks.extend(asyncio.create_task(work(index)) for index in runnable)
                tally.record(await events.get())
                handled = 1
        finally:
            cancel.set()
            # Branches still running stop at their next operation; wait for them so no
            # task checkpoints after the batch completed.
            await asyncio.gather(*tasks, return_exceptions=True)
            checkpointer.count_branches(-handled - events.qsize())
        while not events.empty():
            tally.record_raced(events.get_nowait())
        return tally.result()


def run_async_handler(
    handler: Callable[[Any, AsyncDurableContext], Awaitable[T]],
    input_value: Any,
    ctx: DurableContext,
) -> T:
    """Run an ``async def`` handler with the async face of ``ctx``, on a loop of its own.

    Lambda calls handlers synchronously, so the loop is ``asyncio.run``'s; if a loop is
    already running in this thread (a test, a notebook), the handler's loop runs in a
    worker thread instead, with this thread's context variables.
    """
    return _run_on_own_loop(lambda runtime: handler(input_value, AsyncDurableContext(ctx, runtime)))


def run_awaitable(value: Awaitable[T]) -> T:
    """Await ``value`` (an ``async def`` error handler's result) on a loop of its own."""
    return _run_on_own_loop(lambda runtime: value)


def _run_on_own_loop(start: Callable[[_Runtime], Awaitable[T]]) -> T:
    runtime = _Runtime()

    async def main() -> T:
        try:
            value = await start(runtime)
        except SuspendExecution:
            runtime.check_awaited()
            raise
        except BaseException:
            runtime.discard()  # the handler's own failure is the one to report
            raise
        runtime.check_awaited()
        return value

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(main())
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-loop") as pool:
            return pool.submit(context.run, asyncio.run, main()).result()
    finally:
        # No checkpoint call outlives the handler: the caller flushes after this.
        runtime.close()
