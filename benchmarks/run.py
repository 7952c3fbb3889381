"""Our SDK and AWS's Python SDK, side by side on the same in-memory backend.

Run with ``make bench`` (or ``python -m uv run --frozen python benchmarks/run.py``);
``--quick`` runs tiny sizes once, for a CI smoke run. Figures are printed as ours,
theirs and the ratio ours/theirs, and written to ``benchmarks/results.md``.
See ``docs/performance.md`` for what each figure means.

Both SDKs talk to ``durable_core.MemoryBackend``: ours directly, AWS's through
``AwsServiceClient`` from ``tests/compat/aws_peer.py`` (the adapter the compat tests use).
"""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ and benchmarks/ are importable from the repo root; a script's sys.path[0] is its
# own directory, so put the root first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.config import MapConfig as AwsMapConfig
from aws_durable_execution_sdk_python.config import ParallelConfig as AwsParallelConfig
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
    durable_execution,
)
from aws_durable_execution_sdk_python.lambda_service import CheckpointOutput, StateOutput
from aws_durable_execution_sdk_python.lambda_service import (
    OperationUpdate as AwsOperationUpdate,
)
from durable_core import (
    CheckpointResponse,
    ExecutionOptions,
    LambdaBackend,
    MapConfig,
    MemoryBackend,
    ParallelConfig,
    StatePage,
    run_invocation,
)
from durable_core._ids import operation_id
from durable_core.execution import LambdaHandler
from durable_core.types import OperationAction, OperationType, OperationUpdate
from durable_testing import ExecutionStatus, LocalService
from durable_testing.http.routes import checkpoint_answer, state_answer

from tests.compat.aws_peer import AwsServiceClient

RESULTS = Path(__file__).resolve().parent / "results.md"
#: Neither SDK needs a Lambda context here; AWS's handler is typed to take one.
NO_LAMBDA_CONTEXT: Any = None

#: One invocation of one SDK on a backend: ``(backend, event) -> Timed``.
Invoke = Callable[["MeteredBackend", dict[str, Any]], "Timed"]
Workflow = Callable[[Any, Any], Any]


# -- the backend and the two SDKs -------------------------------------------------


class MeteredBackend(MemoryBackend):
    """``MemoryBackend`` that adds ``latency`` seconds to every checkpoint call and counts
    the time spent inside the backend (so it can be told apart from the SDK's own time)."""

    def __init__(self, *, latency: float = 0.0, page_size: int = 1000) -> None:
        super().__init__(page_size=page_size)
        self.latency = latency
        self.seconds = 0.0

    def checkpoint(
        self,
        execution_arn: str,
        checkpoint_token: str,
        updates: Sequence[OperationUpdate],
        client_token: str | None = None,
    ) -> CheckpointResponse:
        start = time.perf_counter()
        if self.latency:
            time.sleep(self.latency)
        try:
            return super().checkpoint(execution_arn, checkpoint_token, updates, client_token)
        finally:
            self.seconds += time.perf_counter() - start

    def get_state(self, execution_arn: str, checkpoint_token: str, marker: str) -> StatePage:
        start = time.perf_counter()
        try:
            return super().get_state(execution_arn, checkpoint_token, marker)
        finally:
            self.seconds += time.perf_counter() - start


class MeteredServiceClient(AwsServiceClient):
    """The AWS adapter, counting the time of each call (adapter conversions + backend)."""

    def __init__(self, backend: MemoryBackend) -> None:
        super().__init__(backend)
        self.seconds = 0.0

    def checkpoint(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        updates: list[AwsOperationUpdate],
        client_token: str | None,
    ) -> CheckpointOutput:
        start = time.perf_counter()
        try:
            return super().checkpoint(
                durable_execution_arn, checkpoint_token, updates, client_token
            )
        finally:
            self.seconds += time.perf_counter() - start

    def get_execution_state(
        self,
        durable_execution_arn: str,
        checkpoint_token: str,
        next_marker: str,
        max_items: int = 1000,
    ) -> StateOutput:
        start = time.perf_counter()
        try:
            return super().get_execution_state(
                durable_execution_arn, checkpoint_token, next_marker, max_items
            )
        finally:
            self.seconds += time.perf_counter() - start


@dataclass
class Timed:
    """One timed invocation: wall time, the part of it spent in the backend (and, for AWS,
    the adapter), process CPU time (all threads), and the Lambda response."""

    seconds: float
    service_seconds: float
    cpu_seconds: float
    response: dict[str, Any]

    @property
    def sdk_seconds(self) -> float:
        return self.seconds - self.service_seconds


class WireLambdaClient:
    """A boto3 ``lambda`` client in front of a ``MeteredBackend``: requests and answers in
    boto3's shapes (timestamps as datetimes), as the local server's routes make them, so
    each SDK's own boto3 backend (our ``LambdaBackend``, AWS's ``LambdaClient``) builds
    every request and parses every answer, as on Lambda; the backend's latency stands for
    the network. Its own conversions are the service's side, the same for both SDKs."""

    def __init__(self, backend: MeteredBackend) -> None:
        self.backend = backend

    def checkpoint_durable_execution(self, **params: Any) -> dict[str, Any]:
        return checkpoint_answer(self.backend, params)

    def get_durable_execution_state(self, **params: Any) -> dict[str, Any]:
        return state_answer(self.backend, params)


def ours(
    workflow: Workflow, *, batch: bool = False, pipeline: bool = False, wire: bool = False
) -> Invoke:
    """Our SDK: ``run_invocation`` with ``ExecutionOptions(backend=...)``; with ``wire``,
    ``LambdaBackend`` over a ``WireLambdaClient`` (our requests and parsing count)."""

    def invoke(backend: MeteredBackend, event: dict[str, Any]) -> Timed:
        options = ExecutionOptions(
            backend=LambdaBackend(client=WireLambdaClient(backend)) if wire else backend,
            batch_checkpoints=batch,
            pipeline_checkpoints=pipeline,
        )
        before = backend.seconds
        cpu = time.process_time()
        start = time.perf_counter()
        response = run_invocation(workflow, event, None, options)
        elapsed = time.perf_counter() - start
        return Timed(elapsed, backend.seconds - before, time.process_time() - cpu, response)

    return invoke


def theirs(workflow: Workflow, *, wire: bool = False) -> Invoke:
    """AWS's SDK: its ``@durable_execution`` handler, given an invocation input whose
    service client is the AWS adapter over the same backend. Parsing the JSON event is
    AWS's own code (``from_json_dict``) and is timed, as our parsing is. With ``wire``,
    its handler made with ``boto3_client=`` a ``WireLambdaClient``, as ``ours`` is."""

    def through_wire(backend: MeteredBackend, event: dict[str, Any]) -> Timed:
        boto3_client: Any = WireLambdaClient(backend)  # boto3-shaped, not boto3's class
        on_lambda = durable_execution(workflow, boto3_client=boto3_client)
        before = backend.seconds
        cpu = time.process_time()
        start = time.perf_counter()
        response = dict(on_lambda(event, NO_LAMBDA_CONTEXT))
        elapsed = time.perf_counter() - start
        return Timed(elapsed, backend.seconds - before, time.process_time() - cpu, response)

    if wire:
        return through_wire
    handler = durable_execution(workflow)
    inject = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input

    def invoke(backend: MeteredBackend, event: dict[str, Any]) -> Timed:
        client = MeteredServiceClient(backend)
        cpu = time.process_time()
        start = time.perf_counter()
        parsed = DurableExecutionInvocationInput.from_json_dict(event)
        response = dict(handler(inject(parsed, client), NO_LAMBDA_CONTEXT))
        elapsed = time.perf_counter() - start
        return Timed(elapsed, client.seconds, time.process_time() - cpu, response)

    return invoke


def _constant(value: int) -> Callable[[Any], int]:
    def body(_: Any) -> int:
        return value

    return body


def steps_workflow(n: int, wait: Any = None) -> Workflow:
    """``n`` sequential trivial steps (step i returns i), then optionally one wait."""

    def workflow(event: Any, ctx: Any) -> int:
        total = 0
        for i in range(n):
            total += ctx.step(_constant(i))
        if wait is not None:
            ctx.wait(wait)
        return total

    return workflow


def our_steps(n: int, *, wait: bool = False, batch: bool = False, pipeline: bool = False) -> Invoke:
    return ours(steps_workflow(n, 1 if wait else None), batch=batch, pipeline=pipeline)


def their_steps(n: int, *, wait: bool = False) -> Invoke:
    return theirs(steps_workflow(n, Duration.from_seconds(1) if wait else None))


def expected_result(n: int) -> str:
    return json.dumps(sum(range(n)))


class BenchError(AssertionError):
    """An SDK run did not do what the benchmark expects: the figures would be meaningless."""


def check(timed: Timed, status: str, result: str | None = None) -> Timed:
    response = timed.response
    if response.get("Status") != status or (result is not None and response["Result"] != result):
        raise BenchError(f"expected {status} {result!r}, got {response!r}")
    return timed


# -- results ----------------------------------------------------------------------


@dataclass
class Row:
    key: str
    figure: str
    metric: str
    unit: str
    ours: float | None
    theirs: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.theirs is None or self.theirs == 0:
            return None
        return self.ours / self.theirs


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "us":
        return f"{value * 1e6:.1f} µs"
    if unit == "ms":
        return f"{value * 1e3:.1f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value / 2**20:.2f} MiB"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "/s":
        return f"{value:.1f}/s"
    return f"{value:,.0f}"


def table(report: Report) -> str:
    lines = [
        "| # | metric | ours | theirs (AWS) | ours/theirs |",
        "|---|---|---:|---:|---:|",
    ]
    for r in report.rows:
        ratio = r.ratio
        metric = r.metric + (f" ({r.note})" if r.note else "")
        lines.append(
            f"| {r.figure} | {metric} | {fmt(r.ours, r.unit)} | {fmt(r.theirs, r.unit)} "
            f"| {'-' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- 1. per-step overhead, executing ----------------------------------------------


def bench_execute(n: int, repeats: int) -> list[Row]:
    """A fresh execution running ``n`` trivial steps to completion; time per step."""
    runs: dict[str, list[Timed]] = {"ours": [], "theirs": []}
    for _ in range(repeats):
        for name, invoke in (("ours", our_steps(n)), ("theirs", their_steps(n))):
            backend = MeteredBackend()
            event = backend.start_execution({})
            gc.collect()
            runs[name].append(check(invoke(backend, event), "SUCCEEDED", expected_result(n)))
    return [
        Row(
            "execute",
            "1",
            f"per step, executing {n} steps",
            "us",
            median([t.seconds / n for t in runs["ours"]]),
            median([t.seconds / n for t in runs["theirs"]]),
        ),
        Row(
            "execute_sdk",
            "1",
            "per step, executing, minus backend/adapter time",
            "us",
            median([t.sdk_seconds / n for t in runs["ours"]]),
            median([t.sdk_seconds / n for t in runs["theirs"]]),
        ),
        Row(
            "execute_cpu",
            "1",
            "per step, executing: CPU time (all threads)",
            "us",
            median([t.cpu_seconds / n for t in runs["ours"]]),
            median([t.cpu_seconds / n for t in runs["theirs"]]),
        ),
    ]


# -- 2. per-step overhead, replaying ----------------------------------------------


def bench_replay_steps(n: int, repeats: int) -> list[Row]:
    """Each SDK runs ``n`` steps then a wait (PENDING); the wait fires; the re-invocation
    replays the ``n`` steps and completes. The log is not changed by the replay (the
    result goes in the response), so the same replay is timed ``repeats`` times."""
    per_step: dict[str, list[float]] = {}
    cpu_per_step: dict[str, list[float]] = {}
    for name, invoke in (("ours", our_steps(n, wait=True)), ("theirs", their_steps(n, wait=True))):
        backend = MeteredBackend()
        arn = backend.start_execution({})["DurableExecutionArn"]
        check(invoke(backend, backend.invocation_event(arn)), "PENDING")
        if not backend.fire_timers(arn):
            raise BenchError("the wait did not fire")
        samples: list[Timed] = []
        for _ in range(repeats):
            event = backend.invocation_event(arn)
            gc.collect()
            samples.append(check(invoke(backend, event), "SUCCEEDED", expected_result(n)))
        per_step[name] = [t.seconds / n for t in samples]
        cpu_per_step[name] = [t.cpu_seconds / n for t in samples]
    return [
        Row(
            "replay_steps",
            "2",
            f"per step, replaying {n} steps + wait",
            "us",
            median(per_step["ours"]),
            median(per_step["theirs"]),
        ),
        Row(
            "replay_steps_cpu",
            "2",
            "per step, replaying: CPU time (all threads)",
            "us",
            median(cpu_per_step["ours"]),
            median(cpu_per_step["theirs"]),
        ),
    ]


# -- 3. replay of large logs -------------------------------------------------------


def completed_log(n: int) -> tuple[MeteredBackend, str]:
    """An execution whose log holds ``n`` SUCCEEDED steps, written service-side exactly as
    both SDKs write them (unnamed, SubType ``Step``, payload ``json.dumps(i)``).

    The page size exceeds the log, so the whole log comes in the event and each SDK
    parses it from JSON itself (paging would hand our SDK already-parsed objects while
    AWS's went through the adapter's conversions)."""
    backend = MeteredBackend(page_size=n + 10)
    arn = backend.start_execution({})["DurableExecutionArn"]
    chunk: list[OperationUpdate] = []
    for i in range(n):
        chunk.append(
            OperationUpdate(
                id=operation_id(None, i + 1),
                type=OperationType.STEP,
                sub_type="Step",
                action=OperationAction.SUCCEED,
                payload=json.dumps(i),
            )
        )
        if len(chunk) == 5000:
            backend.apply(arn, chunk)
            chunk = []
    if chunk:
        backend.apply(arn, chunk)
    return backend, arn


def invoke_once(
    invoke: Invoke,
    backend: MeteredBackend,
    event: dict[str, Any],
    result: str,
    *,
    memory: bool,
    gc_off: bool = False,
) -> tuple[Timed, int]:
    """One invocation that must succeed with ``result``, and (``memory=True``, then timing
    is distorted) its tracemalloc peak in bytes, counted from after the event was built:
    the event is the input the service hands over, not the SDK's allocation. ``gc_off``
    disables the cyclic garbage collector during the invocation, to show how much of the
    time is its."""
    gc.collect()
    if gc_off:
        gc.disable()
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    try:
        timed = check(invoke(backend, event), "SUCCEEDED", result)
        peak = tracemalloc.get_traced_memory()[1] if memory else 0
    finally:
        if memory:
            tracemalloc.stop()
        if gc_off:
            gc.enable()
    return timed, peak


def replay_once(
    invoke: Invoke,
    backend: MeteredBackend,
    arn: str,
    n: int,
    *,
    memory: bool = False,
    gc_off: bool = False,
) -> tuple[Timed, int]:
    """One replay invocation of the log of ``n`` steps (``invoke_once``)."""
    event = backend.invocation_event(arn)
    return invoke_once(invoke, backend, event, expected_result(n), memory=memory, gc_off=gc_off)


def skipped_as_too_slow(
    report: Report, what: str, n: int, previous: int, seconds: float, limit: float
) -> bool:
    """Whether ``what`` (size ``n``) is predicted to take ``limit`` s or more in a single
    run: the ``seconds`` of size ``previous`` scaled linearly with a x1.5 margin. If so, a
    note says it was skipped (a full ``make bench`` must stay a matter of minutes)."""
    predicted = seconds * n / previous * 1.5
    if predicted < limit:
        return False
    report.notes.append(
        f"{what} skipped: a single run is predicted to take "
        f"{predicted:.0f} s (>= {limit:.0f} s) for the slower SDK."
    )
    return True


def bench_replay_logs(sizes: Sequence[int], repeats: int, limit: float = 60.0) -> Report:
    """Replay logs of each size. A size is skipped when the previous size's slower SDK,
    scaled linearly with a x1.5 margin, predicts a single run of ``limit`` s or more."""
    report = Report()
    wall: dict[int, dict[str, float]] = {}
    cpu: dict[int, dict[str, float]] = {}
    no_gc: dict[int, dict[str, float]] = {}
    peaks: dict[int, dict[str, float]] = {}
    previous: int | None = None
    for n in sizes:
        if previous is not None and skipped_as_too_slow(
            report, f"Replay of {n:,} operations", n, previous, max(wall[previous].values()), limit
        ):
            break
        wall[n], cpu[n], no_gc[n], peaks[n] = {}, {}, {}, {}
        for name, invoke in (("ours", our_steps(n)), ("theirs", their_steps(n))):
            backend, arn = completed_log(n)
            runs = [
                replay_once(invoke, backend, arn, n)[0]
                for _ in range(1 if n >= 100_000 else repeats)
            ]
            wall[n][name] = median([t.seconds for t in runs])
            cpu[n][name] = median([t.cpu_seconds for t in runs])
            no_gc[n][name] = replay_once(invoke, backend, arn, n, gc_off=True)[0].seconds
            peaks[n][name] = replay_once(invoke, backend, arn, n, memory=True)[1]
            del backend, runs
        report.rows += [
            Row(
                f"replay_{n}",
                "3",
                f"replay {n:,} ops: time",
                "s",
                wall[n]["ours"],
                wall[n]["theirs"],
            ),
            Row(
                f"replay_{n}_cpu",
                "3",
                f"replay {n:,} ops: CPU time",
                "s",
                cpu[n]["ours"],
                cpu[n]["theirs"],
            ),
            Row(
                f"replay_{n}_nogc",
                "3",
                f"replay {n:,} ops: time, gc disabled",
                "s",
                no_gc[n]["ours"],
                no_gc[n]["theirs"],
            ),
            Row(
                f"replay_{n}_mem",
                "3",
                f"replay {n:,} ops: peak memory",
                "MiB",
                peaks[n]["ours"],
                peaks[n]["theirs"],
            ),
        ]
        if previous is not None:
            factor = n // previous
            for key, label, data in (
                ("", "time", wall),
                ("_cpu", "CPU", cpu),
                ("_nogc", "time gc disabled", no_gc),
                ("_mem", "memory", peaks),
            ):
                report.rows.append(
                    Row(
                        f"growth_{n}{key}",
                        "3",
                        f"growth {label} {n:,}/{previous:,}",
                        "x",
                        data[n]["ours"] / data[previous]["ours"],
                        data[n]["theirs"] / data[previous]["theirs"],
                        note=f"linear = {factor}",
                    )
                )
        previous = n
    return report


# -- 4. checkpoint calls and bytes --------------------------------------------------


def checkpoint_traffic(backend: MemoryBackend, arn: str) -> tuple[int, int]:
    """(calls, bytes): every checkpoint call, and the JSON size of every update sent."""
    calls = [c for c in backend.calls if c.execution_arn == arn]
    size = sum(len(json.dumps(u.to_wire())) for c in calls for u in c.updates)
    return len(calls), size


def bench_checkpoints(n: int) -> list[Row]:
    """Run ``n`` sequential steps to completion; count calls and bytes per variant."""
    traffic: dict[str, tuple[int, int]] = {}
    variants = (
        ("ours", our_steps(n)),
        ("ours_batch", our_steps(n, batch=True)),
        ("theirs", their_steps(n)),
    )
    for name, invoke in variants:
        backend = MeteredBackend()
        event = backend.start_execution({})
        check(invoke(backend, event), "SUCCEEDED", expected_result(n))
        traffic[name] = checkpoint_traffic(backend, event["DurableExecutionArn"])
    return [
        Row(
            "calls",
            "4",
            f"checkpoint calls, {n} steps",
            "n",
            traffic["ours"][0],
            traffic["theirs"][0],
        ),
        Row(
            "calls_batch",
            "4",
            f"checkpoint calls, {n} steps",
            "n",
            traffic["ours_batch"][0],
            traffic["theirs"][0],
            note="ours batch_checkpoints=True",
        ),
        Row(
            "bytes",
            "4",
            f"checkpoint bytes, {n} steps",
            "n",
            traffic["ours"][1],
            traffic["theirs"][1],
        ),
        Row(
            "bytes_batch",
            "4",
            f"checkpoint bytes, {n} steps",
            "n",
            traffic["ours_batch"][1],
            traffic["theirs"][1],
            note="ours batch_checkpoints=True",
        ),
    ]


# -- 5. cold import time, 5b. cold start with the first invocation ------------------

FIRST_INVOCATION = Path(__file__).resolve().parent / "first_invocation.py"


def interpreter_env(cache: Path | None) -> dict[str, str]:
    """The environment of a fresh interpreter: with ``cache``, bytecode is written to and
    read from there (a deployed function ships its ``.pyc`` files); without, every module
    is compiled from source on every start (no ``.pyc`` anywhere it looks)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "durable-bench-no-pyc")
    else:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _import_seconds(code: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _importtime_us(module: str, env: dict[str, str] | None = None) -> float:
    """Cumulative µs of ``module`` in ``python -X importtime -c 'import module'``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    for line in reversed(done.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return float(parts[1])
    raise BenchError(f"no importtime line for {module}")


IMPORTED = {"ours": "durable_closure", "theirs": "aws_durable_execution_sdk_python"}


def bench_import(runs: int) -> list[Row]:
    """Fresh interpreters importing what a Lambda function imports (medians), with the
    bytecode cached as a deployment ships it, and compiled from source."""
    with tempfile.TemporaryDirectory(prefix="durable-bench-pyc-") as cache:
        cached = interpreter_env(Path(cache))
        for module in IMPORTED.values():  # write the .pyc files, outside the measurement
            _import_seconds(f"import {module}", cached)
        baseline = median([_import_seconds("pass", cached) for _ in range(runs)])
        wall = {
            k: median([_import_seconds(f"import {m}", cached) for _ in range(runs)])
            for k, m in IMPORTED.items()
        }
        cumulative = {
            k: median([_importtime_us(m, cached) / 1e6 for _ in range(runs)])
            for k, m in IMPORTED.items()
        }
    source = interpreter_env(None)
    from_source = {
        k: median([_import_seconds(f"import {m}", source) for _ in range(runs)])
        for k, m in IMPORTED.items()
    }
    return [
        Row("import", "5", "cold start: python -c 'import …'", "ms", wall["ours"], wall["theirs"]),
        Row(
            "import_net",
            "5",
            "cold start minus bare interpreter",
            "ms",
            wall["ours"] - baseline,
            wall["theirs"] - baseline,
            note=f"bare python -c pass = {baseline * 1e3:.1f} ms",
        ),
        Row(
            "importtime",
            "5",
            "-X importtime cumulative",
            "ms",
            cumulative["ours"],
            cumulative["theirs"],
        ),
        Row(
            "import_source",
            "5",
            "cold start without .pyc files (compiled from source)",
            "ms",
            from_source["ours"],
            from_source["theirs"],
        ),
    ]


def first_invocation(sdk: str, steps: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``benchmarks/first_invocation.py`` in a fresh interpreter: its JSON report."""
    done = subprocess.run(
        [sys.executable, str(FIRST_INVOCATION), sdk, str(steps)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def bench_first_invocation(runs: int, steps: int = 3) -> list[Row]:
    """Cold start as a Lambda function's first invocation pays it: import the SDK, then
    run a new execution of ``steps`` steps to completion (medians of fresh interpreters)."""
    reports: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="durable-bench-pyc-") as cache:
        env = interpreter_env(Path(cache))
        for sdk in IMPORTED:
            first_invocation(sdk, steps, env)  # write the .pyc files
            reports[sdk] = [first_invocation(sdk, steps, env) for _ in range(runs)]
    for sdk, runs_of_sdk in reports.items():
        for report in runs_of_sdk:
            if report["response"] != {"Status": "SUCCEEDED", "Result": str(sum(range(steps)))}:
                raise BenchError(f"{sdk}: unexpected first response {report['response']!r}")

    def med(key: str) -> dict[str, float]:
        return {sdk: median([r[key] for r in rs]) for sdk, rs in reports.items()}

    total, invoke, cpu = med("total_s"), med("invoke_s"), med("cpu_s")
    label = f"import + first invocation ({steps} steps)"
    return [
        Row("first_total", "5b", label, "ms", total["ours"], total["theirs"]),
        Row("first_cpu", "5b", f"{label}: CPU time", "ms", cpu["ours"], cpu["theirs"]),
        Row(
            "first_invoke",
            "5b",
            f"first invocation alone ({steps} steps, after the import)",
            "ms",
            invoke["ours"],
            invoke["theirs"],
        ),
    ]


# -- 6. steps per second with a 20 ms round trip -----------------------------------


def mode_rows(key: str, figure: str, label: str, rate: dict[str, float]) -> list[Row]:
    """The rows of a rate measured for ours in each checkpoint mode against AWS's."""
    return [
        Row(f"{key}{suffix}", figure, label, "/s", rate[f"ours{suffix}"], rate["theirs"], note=note)
        for suffix, note in (
            ("", ""),
            ("_pipelined", "ours pipeline_checkpoints=True"),
            ("_batch", "ours batch_checkpoints=True"),
        )
    ]


def bench_latency(n: int, latency: float, repeats: int) -> list[Row]:
    """Sequential steps per second when every checkpoint call costs ``latency`` seconds."""
    rate: dict[str, float] = {}
    variants = (
        ("ours", our_steps(n)),
        ("ours_pipelined", our_steps(n, pipeline=True)),
        ("ours_batch", our_steps(n, batch=True)),
        ("theirs", their_steps(n)),
    )
    for name, invoke in variants:
        samples = []
        for _ in range(repeats):
            backend = MeteredBackend(latency=latency)
            event = backend.start_execution({})
            timed = check(invoke(backend, event), "SUCCEEDED", expected_result(n))
            samples.append(n / timed.seconds)
        rate[name] = median(samples)
    label = f"steps/s, {n} steps, {latency * 1e3:.0f} ms per checkpoint"
    return mode_rows("latency", "6", label, rate)


# -- 7. map with a 20 ms round trip, 8. a large map ----------------------------------


def _doubled(ctx: Any, item: int, index: int, items: Sequence[int]) -> int:
    """A map item: one step returning ``item * 2``, so that every item checkpoints."""
    return int(ctx.step(_constant(item * 2)))


def map_workflow(n: int, config: Any) -> Workflow:
    """``ctx.map`` over ``range(n)`` with ``config`` (each SDK's own ``MapConfig``, same
    fields); the handler returns the sum of the items' results."""

    def workflow(event: Any, ctx: Any) -> int:
        batch = ctx.map(list(range(n)), _doubled, config=config)
        batch.throw_if_error()
        return sum(batch.get_results())

    return workflow


def our_map(
    n: int, concurrency: int, *, batch: bool = False, pipeline: bool = False, wire: bool = False
) -> Invoke:
    config = MapConfig[int](max_concurrency=concurrency)
    return ours(map_workflow(n, config), batch=batch, pipeline=pipeline, wire=wire)


def their_map(n: int, concurrency: int, *, wire: bool = False) -> Invoke:
    return theirs(map_workflow(n, AwsMapConfig[int](max_concurrency=concurrency)), wire=wire)


def expected_map_result(n: int) -> str:
    return json.dumps(sum(2 * i for i in range(n)))


def map_rate(
    invoke: Invoke, n: int, latency: float, repeats: int, single_run_over: float = float("inf")
) -> tuple[float, float]:
    """Items per second of the map of ``n`` items (or the parallel of ``n`` branches) run by
    ``invoke`` with ``latency`` seconds per checkpoint call, and the calls it made: medians
    of ``repeats`` runs, or of the runs made until one took ``single_run_over`` seconds or
    more. Every run must succeed with the sum of the doubled items."""
    rates: list[float] = []
    counts: list[float] = []
    for _ in range(repeats):
        backend = MeteredBackend(latency=latency)
        event = backend.start_execution({})
        timed = check(invoke(backend, event), "SUCCEEDED", expected_map_result(n))
        rates.append(n / timed.seconds)
        counts.append(checkpoint_traffic(backend, event["DurableExecutionArn"])[0])
        if timed.seconds >= single_run_over:
            break
    return median(rates), median(counts)


def bench_map_latency(
    n: int, concurrency: int, latency: float, repeats: int, single_run_over: float = 10.0
) -> list[Row]:
    """Items per second of a map whose every checkpoint call costs ``latency`` seconds, and
    the checkpoint calls it made (medians of ``repeats``). A variant whose first run takes
    ``single_run_over`` s or more runs once: it is bound by round trips, so its noise is
    small, and repeating it would make ``make bench`` long."""
    rate: dict[str, float] = {}
    calls: dict[str, float] = {}
    variants = (
        ("ours", our_map(n, concurrency, wire=True)),
        ("ours_pipelined", our_map(n, concurrency, pipeline=True, wire=True)),
        ("ours_batch", our_map(n, concurrency, batch=True, wire=True)),
        ("theirs", their_map(n, concurrency, wire=True)),
    )
    for name, invoke in variants:
        rate[name], calls[name] = map_rate(invoke, n, latency, repeats, single_run_over)
    label = f"map items/s, {n:,} items, concurrency {concurrency}, {latency * 1e3:.0f} ms"
    return [
        *mode_rows("map_latency", "7", label, rate),
        Row(
            "map_latency_calls",
            "7",
            f"map checkpoint calls, {n:,} items",
            "n",
            calls["ours"],
            calls["theirs"],
        ),
    ]


async def _doubled_async(ctx: Any, item: int, index: int, items: Sequence[int]) -> int:
    """``_doubled`` for the ``AsyncDurableContext``: the same step, awaited."""
    return int(await ctx.step(_constant(item * 2)))


def async_map_workflow(n: int, config: Any) -> Workflow:
    """``map_workflow`` written ``async def``: the same operations, ids and result."""

    async def workflow(event: Any, ctx: Any) -> int:
        batch = await ctx.map(list(range(n)), _doubled_async, config=config)
        batch.throw_if_error()
        return sum(batch.get_results())

    return workflow


def _doubling_branch(i: int) -> Callable[[Any], int]:
    """Branch ``i`` of the parallel: one step returning ``i * 2``, as map item ``i`` does."""

    def branch(ctx: Any) -> int:
        return int(ctx.step(_constant(i * 2)))

    return branch


def _doubling_branch_async(i: int) -> Callable[[Any], Awaitable[int]]:
    """``_doubling_branch`` for the ``AsyncDurableContext``: the same step, awaited."""

    async def branch(ctx: Any) -> int:
        return int(await ctx.step(_constant(i * 2)))

    return branch


def parallel_workflow(n: int, config: Any) -> Workflow:
    """``ctx.parallel`` of ``n`` branches, branch ``i`` doing what map item ``i`` does, with
    ``config`` (each SDK's own ``ParallelConfig``): the same checkpoints per item as
    ``map_workflow``, and the same result."""
    branches = [_doubling_branch(i) for i in range(n)]

    def workflow(event: Any, ctx: Any) -> int:
        batch = ctx.parallel(branches, config=config)
        batch.throw_if_error()
        return sum(batch.get_results())

    return workflow


def async_parallel_workflow(n: int, config: Any) -> Workflow:
    """``parallel_workflow`` written ``async def``: the same operations, ids and result."""
    branches = [_doubling_branch_async(i) for i in range(n)]

    async def workflow(event: Any, ctx: Any) -> int:
        batch = await ctx.parallel(branches, config=config)
        batch.throw_if_error()
        return sum(batch.get_results())

    return workflow


def fanout_variants(kind: str, n: int, concurrency: int) -> dict[str, Invoke]:
    """A ``map`` of ``n`` items or a ``parallel`` of ``n`` branches (``kind``) at
    ``concurrency``, run by our sync handler, our ``async def`` handler and AWS's SDK."""
    if kind == "map":
        config = MapConfig[int](max_concurrency=concurrency)
        return {
            "sync": ours(map_workflow(n, config), wire=True),
            "async": ours(async_map_workflow(n, config), wire=True),
            "theirs": their_map(n, concurrency, wire=True),
        }
    parallel_config = ParallelConfig[int](max_concurrency=concurrency)
    aws_config = AwsParallelConfig(max_concurrency=concurrency)
    return {
        "sync": ours(parallel_workflow(n, parallel_config), wire=True),
        "async": ours(async_parallel_workflow(n, parallel_config), wire=True),
        "theirs": theirs(parallel_workflow(n, aws_config), wire=True),
    }


def fanout_rows(
    key: str, figure: str, label: str, rate: dict[str, float], calls: dict[str, float]
) -> list[Row]:
    """Items per second and checkpoint calls of our sync and our ``async def`` handler,
    each against AWS's SDK (which has no async face)."""
    return [
        Row(key, figure, f"{label}: items/s", "/s", rate["sync"], rate["theirs"]),
        Row(
            f"{key}_async",
            figure,
            f"{label}: items/s",
            "/s",
            rate["async"],
            rate["theirs"],
            note="ours async def",
        ),
        Row(f"{key}_calls", figure, f"{label}: calls", "n", calls["sync"], calls["theirs"]),
        Row(
            f"{key}_async_calls",
            figure,
            f"{label}: calls",
            "n",
            calls["async"],
            calls["theirs"],
            note="ours async def",
        ),
    ]


def bench_map_fanout(
    n: int, concurrencies: Sequence[int], latency: float, repeats: int
) -> list[Row]:
    """The map of figure 7 at each concurrency, our sync and our ``async def`` handler
    side by side (each against AWS's SDK, which has no async face): items per second and
    checkpoint calls, medians of ``repeats``. The async driver must keep up with the sync
    one (issue 18): its branches are tasks, its checkpoint calls one thread's."""
    rows: list[Row] = []
    for concurrency in concurrencies:
        rate: dict[str, float] = {}
        calls: dict[str, float] = {}
        for name, invoke in fanout_variants("map", n, concurrency).items():
            rate[name], calls[name] = map_rate(invoke, n, latency, repeats)
        label = f"map, {n:,} items, concurrency {concurrency}, {latency * 1e3:.0f} ms"
        rows += fanout_rows(f"map_fanout_{concurrency}", "7b", label, rate, calls)
    return rows


def fanout_key(kind: str, n: int) -> str:
    """The key of figure 7c's items/s row of a ``map`` or ``parallel`` of ``n``."""
    return f"fanout_{kind}_{n}"


def bench_fanout_at_scale(
    map_items: int,
    branches: int,
    concurrency: int,
    latency: float,
    repeats: int,
    single_run_over: float = 5.0,
) -> list[Row]:
    """Issue 16's other fan-outs at ``latency`` seconds per checkpoint call: a map of
    ``map_items`` items and a parallel of ``branches`` branches (one step each), by our
    sync handler, our ``async def`` handler and AWS's SDK: items per second and checkpoint
    calls, medians of ``repeats``. A variant whose first run takes ``single_run_over`` s or
    more runs once: a map of 10,000 items takes seconds a run, bound by round trips, so
    its noise is small and repeating it would make ``make bench`` long."""
    rows: list[Row] = []
    for kind, n, unit in (("map", map_items, "items"), ("parallel", branches, "branches")):
        rate: dict[str, float] = {}
        calls: dict[str, float] = {}
        for name, invoke in fanout_variants(kind, n, concurrency).items():
            rate[name], calls[name] = map_rate(invoke, n, latency, repeats, single_run_over)
        label = f"{kind}, {n:,} {unit}, concurrency {concurrency}, {latency * 1e3:.0f} ms"
        rows += fanout_rows(fanout_key(kind, n), "7c", label, rate, calls)
    return rows


def fresh_map(invoke: Invoke, n: int, *, memory: bool = False) -> tuple[Timed, int]:
    """A new execution of the map over ``n`` items, on a backend of its own (``invoke_once``)."""
    backend = MeteredBackend()
    event = backend.start_execution({})
    return invoke_once(invoke, backend, event, expected_map_result(n), memory=memory)


def bench_map_large(
    sizes: Sequence[int], concurrency: int, repeats: int, limit: float = 60.0
) -> Report:
    """A fresh execution mapping over each size of items, no latency: wall time, CPU time
    (medians of ``repeats``) and tracemalloc peak (a separate run). A size is skipped when
    the previous size's slower SDK predicts a run of ``limit`` s or more."""
    report = Report()
    wall: dict[int, dict[str, float]] = {}
    previous: int | None = None
    for n in sizes:
        if previous is not None and skipped_as_too_slow(
            report, f"Map over {n:,} items", n, previous, max(wall[previous].values()), limit
        ):
            break
        wall[n], cpu, peak = {}, {}, {}
        for name, invoke in (
            ("ours", our_map(n, concurrency)),
            ("theirs", their_map(n, concurrency)),
        ):
            runs = [fresh_map(invoke, n)[0] for _ in range(repeats)]
            wall[n][name] = median([t.seconds for t in runs])
            cpu[name] = median([t.cpu_seconds for t in runs])
            peak[name] = fresh_map(invoke, n, memory=True)[1]
        label = f"map over {n:,} items, concurrency {concurrency}"
        report.rows += [
            Row(f"map_{n}", "8", f"{label}: time", "s", wall[n]["ours"], wall[n]["theirs"]),
            Row(f"map_{n}_cpu", "8", f"{label}: CPU time", "s", cpu["ours"], cpu["theirs"]),
            Row(f"map_{n}_mem", "8", f"{label}: peak memory", "MiB", peak["ours"], peak["theirs"]),
        ]
        previous = n
    return report


# -- 9. a whole execution on LocalService --------------------------------------------


def local_handlers(workflow: Workflow, service: LocalService) -> dict[str, LambdaHandler]:
    """The Lambda handler of each SDK for ``service`` (``ours``, ``theirs``).

    Ours reaches the service as every API style does on ``LocalService``: through
    ``use_backend``, which ``LocalService`` sets around each invocation. AWS's handler is
    given its service client the way ``theirs`` does it, over the service's backend."""
    aws_handler = durable_execution(workflow)
    inject = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input

    def our_handler(event: Any, lambda_context: Any) -> dict[str, Any]:
        return run_invocation(workflow, event, lambda_context, ExecutionOptions())

    def their_handler(event: Any, lambda_context: Any) -> dict[str, Any]:
        parsed = DurableExecutionInvocationInput.from_json_dict(event)
        client = AwsServiceClient(service.backend)
        return dict(aws_handler(inject(parsed, client), lambda_context))

    return {"ours": our_handler, "theirs": their_handler}


class ServiceClock:
    """Counts the seconds spent in one backend object's ``checkpoint`` and ``get_state``,
    the calls an SDK makes (on ``LocalService`` they include its history and its store),
    by wrapping the two bound methods of that object: ``LocalService`` builds its backend
    itself, so the class cannot be swapped."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.seconds = 0.0
        for name in ("checkpoint", "get_state"):
            setattr(backend, name, self._timed(getattr(backend, name)))

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def bench_local_service(n: int, repeats: int) -> list[Row]:
    """``n`` steps then a 1 s wait, run to completion by ``LocalService`` (virtual clock):
    the first invocation suspends on the wait, the service fires it and re-invokes, the
    second replays the steps and returns. Wall and CPU time of ``LocalService.run`` (both
    invocations and the service's own work), and the same minus the time in the service's
    checkpoint and state calls, medians of ``repeats``."""
    wall: dict[str, list[float]] = {"ours": [], "theirs": []}
    sdk: dict[str, list[float]] = {"ours": [], "theirs": []}
    cpu: dict[str, list[float]] = {"ours": [], "theirs": []}
    waits = {"ours": 1, "theirs": Duration.from_seconds(1)}
    for _ in range(repeats):
        for name, wait in waits.items():
            service = LocalService()
            service.register(name, local_handlers(steps_workflow(n, wait), service)[name])
            clock = ServiceClock(service.backend)
            gc.collect()
            cpu_start = time.process_time()
            start = time.perf_counter()
            result = service.run(name)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
            sdk[name].append(wall[name][-1] - clock.seconds)
            outcome = (result.status, result.result_payload, result.invocations)
            if outcome != (ExecutionStatus.SUCCEEDED, expected_result(n), 2):
                raise BenchError(
                    f"{name} on LocalService: expected SUCCEEDED in 2 invocations "
                    f"with {expected_result(n)}, got {outcome!r}"
                )
    label = f"LocalService: {n} steps + 1 s wait, 2 invocations"
    return [
        Row("local", "9", label, "ms", median(wall["ours"]), median(wall["theirs"])),
        Row(
            "local_cpu", "9", f"{label}: CPU time", "ms", median(cpu["ours"]), median(cpu["theirs"])
        ),
        Row(
            "local_sdk",
            "9",
            f"{label}: minus the service's checkpoint/state calls",
            "ms",
            median(sdk["ours"]),
            median(sdk["theirs"]),
        ),
    ]


# -- 10. replay through LambdaBackend, paged ---------------------------------------


#: Operations per GetDurableExecutionState page, the MaxItems both SDKs ask for.
PAGE = 1000
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class PagedLambdaClient:
    """A boto3 ``lambda`` client answering from a completed log, ``PAGE`` operations a
    page, with what boto3 returns (timestamps as datetimes): each SDK's own backend
    (our ``LambdaBackend``, AWS's ``LambdaClient``) parses the answers, as on Lambda."""

    def __init__(self, operations: list[dict[str, Any]]) -> None:
        self.operations = operations

    def get_durable_execution_state(self, **params: Any) -> dict[str, Any]:
        start = int(params["Marker"])
        page: dict[str, Any] = {"Operations": self.operations[start : start + PAGE]}
        if start + PAGE < len(self.operations):
            page["NextMarker"] = str(start + PAGE)
        return page

    def checkpoint_durable_execution(self, **params: Any) -> dict[str, Any]:
        raise BenchError("a replay of completed steps must not checkpoint")


def paged_log(n: int) -> tuple[PagedLambdaClient, dict[str, Any]]:
    """``n`` SUCCEEDED steps (as ``completed_log`` writes them) behind a paged client, and
    the invocation event: the first page in the event (timestamps in epoch
    milliseconds, as Lambda sends them), the rest behind ``NextMarker``."""
    operations: list[dict[str, Any]] = [
        {
            "Id": "execution",
            "Type": "EXECUTION",
            "Status": "STARTED",
            "StartTimestamp": _EPOCH,
            "ExecutionDetails": {"InputPayload": "{}"},
        }
    ]
    operations += [
        {
            "Id": operation_id(None, i + 1),
            "Type": "STEP",
            "SubType": "Step",
            "Status": "SUCCEEDED",
            "StartTimestamp": _EPOCH,
            "EndTimestamp": _EPOCH,
            "StepDetails": {"Attempt": 1, "Result": json.dumps(i)},
        }
        for i in range(n)
    ]
    millis = int(_EPOCH.timestamp() * 1000)
    first = [
        {k: millis if isinstance(v, dt.datetime) else v for k, v in op.items()}
        for op in operations[:PAGE]
    ]
    event = {
        "DurableExecutionArn": "arn:aws:lambda:us-east-1:123456789012:function:bench:$LATEST"
        "/durable-execution/paged/1",
        "CheckpointToken": "token",
        "InitialExecutionState": {
            "Operations": first,
            "NextMarker": str(PAGE) if len(operations) > PAGE else None,
        },
    }
    return PagedLambdaClient(operations), event


def replay_paged_once(sdk: str, n: int) -> float:
    """CPU seconds of one replay of ``n`` steps by ``sdk`` through its boto3 backend."""
    client, event = paged_log(n)
    workflow = steps_workflow(n)
    gc.collect()
    cpu = time.process_time()
    if sdk == "ours":
        options = ExecutionOptions(backend=LambdaBackend(client=client))
        response = run_invocation(workflow, event, None, options)
    else:
        boto3_client: Any = client  # boto3-shaped, not boto3's class
        handler = durable_execution(workflow, boto3_client=boto3_client)
        response = dict(handler(event, NO_LAMBDA_CONTEXT))
    seconds = time.process_time() - cpu
    if response != {"Status": "SUCCEEDED", "Result": expected_result(n)}:
        raise BenchError(f"{sdk}: paged replay of {n} steps answered {response!r}")
    return seconds


def bench_replay_paged(sizes: Sequence[int], repeats: int) -> list[Row]:
    """CPU per replayed step, each SDK reading its log through its boto3 backend in pages
    of ``PAGE``, best of ``repeats`` (one run at 100k); and the growth of ours from the
    smallest size to the largest (flat is 1)."""
    per_step: dict[int, dict[str, float]] = {}
    for n in sizes:
        # A small log replays in milliseconds: more runs, so the best is not noise.
        runs = 1 if n >= 100_000 else min(max(repeats, 20_000 // n), 20)
        per_step[n] = {
            sdk: min(replay_paged_once(sdk, n) for _ in range(runs)) / n
            for sdk in ("ours", "theirs")
        }
    rows = [
        Row(
            f"replay_paged_{n}",
            "10",
            f"replay {n:,} ops through the boto3 backend, pages of {PAGE}: CPU per step",
            "us",
            per_step[n]["ours"],
            per_step[n]["theirs"],
        )
        for n in sizes
    ]
    low, high = min(sizes), max(sizes)
    if high > low:
        rows.append(
            Row(
                "growth_paged",
                "10",
                f"replay through the boto3 backend: CPU per step {high:,} / {low:,}",
                "x",
                per_step[high]["ours"] / per_step[low]["ours"],
                per_step[high]["theirs"] / per_step[low]["theirs"],
                note="flat = 1",
            )
        )
    return rows


# -- the run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    steps: int = 500
    repeats: int = 7
    logs: tuple[int, ...] = (1_000, 10_000, 100_000)
    log_repeats: int = 3
    checkpoint_steps: int = 100
    import_runs: int = 7
    latency_steps: int = 50
    latency: float = 0.02
    latency_repeats: int = 3
    map_items: int = 1_000
    map_concurrency: int = 50
    fanout_concurrencies: tuple[int, ...] = (50, 100)
    map_repeats: int = 3
    map_sizes: tuple[int, ...] = (1_000, 10_000)
    fanout_map_items: int = 10_000
    parallel_branches: int = 200
    local_steps: int = 100
    local_repeats: int = 7
    paged_logs: tuple[int, ...] = (1_000, 10_000, 100_000)


QUICK = Sizes(
    steps=20,
    repeats=1,
    logs=(100, 1_000),
    log_repeats=1,
    checkpoint_steps=10,
    import_runs=1,
    latency_steps=3,
    latency=0.02,
    latency_repeats=1,
    map_items=20,
    map_concurrency=5,
    fanout_concurrencies=(3, 5),
    map_repeats=1,
    map_sizes=(20, 100),
    fanout_map_items=40,
    parallel_branches=10,
    local_steps=5,
    local_repeats=1,
    paged_logs=(10, 2_500),
)


def run_all(sizes: Sizes, *, progress: Callable[[str], None] = print) -> Report:
    report = Report()
    progress(f"1. executing {sizes.steps} steps x {sizes.repeats}")
    report.rows += bench_execute(sizes.steps, sizes.repeats)
    progress(f"2. replaying {sizes.steps} steps x {sizes.repeats}")
    report.rows += bench_replay_steps(sizes.steps, sizes.repeats)
    progress(f"3. replaying logs of {', '.join(f'{n:,}' for n in sizes.logs)} operations")
    logs = bench_replay_logs(sizes.logs, sizes.log_repeats)
    report.rows += logs.rows
    report.notes += logs.notes
    progress(f"4. checkpoint traffic of {sizes.checkpoint_steps} steps")
    report.rows += bench_checkpoints(sizes.checkpoint_steps)
    progress(f"5. import time, median of {sizes.import_runs}")
    report.rows += bench_import(sizes.import_runs)
    progress(f"5b. import + first invocation, median of {sizes.import_runs}")
    report.rows += bench_first_invocation(sizes.import_runs)
    progress(f"6. {sizes.latency_steps} steps at {sizes.latency * 1e3:.0f} ms per checkpoint")
    report.rows += bench_latency(sizes.latency_steps, sizes.latency, sizes.latency_repeats)
    progress(
        f"7. map over {sizes.map_items:,} items at {sizes.latency * 1e3:.0f} ms per checkpoint"
    )
    report.rows += bench_map_latency(
        sizes.map_items, sizes.map_concurrency, sizes.latency, sizes.map_repeats
    )
    concurrencies = ", ".join(str(c) for c in sizes.fanout_concurrencies)
    progress(f"7b. the same map, sync and async def, at concurrency {concurrencies}")
    report.rows += bench_map_fanout(
        sizes.map_items, sizes.fanout_concurrencies, sizes.latency, sizes.map_repeats
    )
    progress(
        f"7c. map over {sizes.fanout_map_items:,} items and parallel of "
        f"{sizes.parallel_branches:,} branches, sync and async def, at concurrency "
        f"{sizes.map_concurrency}"
    )
    report.rows += bench_fanout_at_scale(
        sizes.fanout_map_items,
        sizes.parallel_branches,
        sizes.map_concurrency,
        sizes.latency,
        sizes.map_repeats,
    )
    progress(f"8. map over {', '.join(f'{n:,}' for n in sizes.map_sizes)} items")
    large = bench_map_large(sizes.map_sizes, sizes.map_concurrency, sizes.map_repeats)
    report.rows += large.rows
    report.notes += large.notes
    progress(f"9. {sizes.local_steps} steps + wait on LocalService x {sizes.local_repeats}")
    report.rows += bench_local_service(sizes.local_steps, sizes.local_repeats)
    progress(f"10. replaying {', '.join(f'{n:,}' for n in sizes.paged_logs)} ops, paged")
    report.rows += bench_replay_paged(sizes.paged_logs, sizes.log_repeats)
    return report


def machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
        f"- Ours: durable-core {importlib.metadata.version('durable-core')}, "
        f"durable-closure {importlib.metadata.version('durable-closure')}",
        "- Theirs: aws-durable-execution-sdk-python "
        f"{importlib.metadata.version('aws-durable-execution-sdk-python')}",
    ]


@dataclass(frozen=True)
class Target:
    """A target of issue 5 or 16: ``row``'s figure compared with ``limit``.

    ``of`` is what is compared: the ratio ours/theirs, or ours alone (a growth factor).
    """

    label: str
    row: str
    limit: float
    at_most: bool = True
    of: str = "ratio"

    def value(self, report: Report) -> float | None:
        row = next((r for r in report.rows if r.key == self.row), None)
        if row is None:
            return None
        return row.ratio if self.of == "ratio" else row.ours

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit


TARGETS = (
    Target("per step executing, CPU, ours/AWS", "execute_cpu", 0.25),
    Target("per step replaying, CPU, ours/AWS", "replay_steps_cpu", 0.2),
    Target("replay CPU growth 100k/10k, ours", "growth_100000_cpu", 11, of="ours"),
    Target("replay 100k peak memory, ours/AWS", "replay_100000_mem", 0.5),
    Target("checkpoint calls, 100 steps, batch mode, ours/AWS", "calls_batch", 0.1),
    Target(
        "steps/s at 20 ms, ours pipeline_checkpoints=True / AWS",
        "latency_pipelined",
        5,
        at_most=False,
    ),
    Target("steps/s at 20 ms, ours default / AWS", "latency", 5, at_most=False),
    Target("cold import (bytecode cached), ours/AWS", "import", 0.5),
    # Issue 16: fan-out near the round-trip floor with no more calls than AWS's SDK, and
    # replay through the boto3 backend, paged, flat and at most 0.2x AWS's.
    Target(
        "map 1k items at 20 ms, concurrency 50, items/s, ours",
        "map_latency",
        1000,
        at_most=False,
        of="ours",
    ),
    Target("map 1k items at 20 ms, checkpoint calls, ours/AWS", "map_latency_calls", 1.0),
    Target(
        "async map 1k items at 20 ms, concurrency 50, items/s, ours",
        "map_fanout_50_async",
        1000,
        at_most=False,
        of="ours",
    ),
    Target(
        "async map 1k items at 20 ms, checkpoint calls, ours/AWS", "map_fanout_50_async_calls", 1.0
    ),
    *(
        target
        for kind, n, unit in (
            ("map", Sizes().fanout_map_items, "items"),
            ("parallel", Sizes().parallel_branches, "branches"),
        )
        for face, suffix in (("", ""), ("async ", "_async"))
        for target in (
            Target(
                f"{face}{kind} {n:,} {unit} at 20 ms, concurrency 50, items/s, ours",
                fanout_key(kind, n) + suffix,
                1000,
                at_most=False,
                of="ours",
            ),
            Target(
                f"{face}{kind} {n:,} {unit} at 20 ms, checkpoint calls, ours/AWS",
                f"{fanout_key(kind, n)}{suffix}_calls",
                1.0,
            ),
        )
    ),
    Target("paged replay CPU per step, largest/smallest log, ours", "growth_paged", 1.2, of="ours"),
    *(
        Target(f"paged replay {n:,} ops, CPU per step, ours/AWS", f"replay_paged_{n}", 0.2)
        for n in Sizes().paged_logs
    ),
)


def targets_table(report: Report) -> str:
    """The targets of issues 5 and 16, each with the figure this run measured for it."""
    lines = ["| target | limit | measured | met |", "|---|---:|---:|---|"]
    for target in TARGETS:
        value = target.value(report)
        sign = "≤" if target.at_most else "≥"
        measured = "not run" if value is None else f"{value:.2f}"
        met = "" if value is None else ("yes" if target.met(value) else "no")
        lines.append(f"| {target.label} | {sign} {target.limit:g} | {measured} | {met} |")
    return "\n".join(lines)


def write_results(report: Report, sizes: Sizes, quick: bool, path: Path = RESULTS) -> None:
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`benchmarks/run.py`"
        + (" --quick: tiny sizes, not representative" if quick else "")
        + "). What each figure means: `docs/performance.md`.",
        "",
        *machine(),
        f"- Sizes: {sizes}",
        "",
        table(report),
        "",
        "## The targets of issues 5 and 16",
        "",
        "The default mode keeps AWS's guarantee that a step's result is persisted before the",
        "step returns, one round trip per sequential step; the opt-in pipelined mode is the",
        'one the latency target names (docs/performance.md, "Semantics kept").',
        "",
        targets_table(report),
        "",
    ]
    if report.notes:
        lines += ["Notes:", "", *[f"- {note}" for note in report.notes], ""]
    path.write_text("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (CI smoke)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file to write (default {RESULTS.name}; --quick writes none by default)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    output: Path | None = args.output or (None if args.quick else RESULTS)
    report = run_all(sizes)
    print()
    print("\n".join(machine()))
    print()
    print(table(report))
    for note in report.notes:
        print(f"note: {note}")
    if output is not None:
        write_results(report, sizes, args.quick, output)
        print(f"\nwritten to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
