"""The local service under load, on loopback: bursts, starvation, kills, second writers.

``python benchmarks/service_load.py [--quick]`` prints one JSON object per figure:

- ``burst``: ``clients`` boto3-like clients (one connection each) released at once
  against a ``LambdaApiServer``; each lists executions. Connection resets and the
  p50/p99/max seconds from the release to each answer.
- ``starvation``: ``busy`` executions whose handlers checkpoint step after step over
  HTTP (``LambdaBackend`` on the server, one call per step) while a trivial execution is
  started every ``interval`` seconds; for each trivial one, the seconds from its
  ``POST /start-durable-execution`` to its first invocation: p50/p99/max.
- ``lookups``: a SQLite store of ``executions`` finished executions served over HTTP:
  seconds per ``ListDurableExecutionsByFunction`` page (1000 items), p50/p99/max of
  ``clients`` concurrent lists, and seconds per unknown-callback-id answer.
- ``memory``: bytes ``durable serve``'s service (``keep_finished=False``) still holds
  after 1000 more ten-step executions have ended, and with ``keep_finished=True``.
- ``kills``: a service process (SQLite store) running a long invocation of ``steps``
  steps, killed with SIGKILL ``kills`` times mid-invocation and restarted; the
  execution's outcome, the steps run twice and, while each process ran, how many
  attempts of this process to open the store as a second writer were refused.

Nothing here is asserted by the test suite; ``docs/reliability.md`` quotes the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import contextlib
import gc
import http.client
import json
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from durable_closure import run
from durable_core import DurableContext, LambdaBackend, StepContext, use_backend
from durable_testing import LocalService, RealClock, ServiceError, SqliteStore, StoreInUseError
from durable_testing.http import LambdaApiServer

from tests.http.support import lambda_client, start_execution


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50_s": round(statistics.median(ordered), 4),
        "p99_s": round(p99, 4),
        "max_s": round(ordered[-1], 4),
    }


def address(server: LambdaApiServer) -> tuple[str, int]:
    host, port = server.endpoint_url.removeprefix("http://").split(":")
    return host, int(port)


def burst(clients: int) -> dict[str, Any]:
    service = LocalService()
    service.register("echo", run(lambda event, ctx: event))
    latencies: list[float] = []
    failures: list[str] = []
    with LambdaApiServer(service) as server:
        host, port = address(server)
        barrier = threading.Barrier(clients + 1)
        released: list[float] = []

        def client() -> None:
            connection = http.client.HTTPConnection(host, port, timeout=120)
            try:
                barrier.wait()
                connection.request("GET", "/2025-12-01/functions/echo/durable-executions")
                connection.getresponse().read()
                latencies.append(time.perf_counter() - released[0])
            except Exception as exc:
                failures.append(type(exc).__name__)
            finally:
                connection.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        released.append(time.perf_counter())
        barrier.wait()
        for thread in threads:
            thread.join()
    return {
        "figure": "burst",
        "clients": clients,
        "answered": len(latencies),
        "failed": len(failures),
        "failures": sorted(set(failures)),
        **percentiles(latencies),
    }


CHECKPOINTING_CLIENTS = """
import sys, threading, boto3
from botocore.config import Config
stop, counts = threading.Event(), {}

def checkpoint(arn, token):
    client = boto3.session.Session().client(
        "lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=300),
    )
    n = 0
    while not stop.is_set():
        update = {"Id": f"s{n}", "Type": "STEP", "Action": "SUCCEED", "Payload": str(n)}
        answer = client.checkpoint_durable_execution(
            DurableExecutionArn=arn, CheckpointToken=token, Updates=[update]
        )
        token, n = answer["CheckpointToken"], n + 1
        counts[arn] = n

threads = []
for line in sys.stdin:
    if line.strip() == "stop":
        break
    if line.strip() == "count":  # clients checkpointing, checkpoints so far
        print(len(counts), sum(counts.values()), flush=True)
        continue
    threads.append(threading.Thread(target=checkpoint, args=line.split()))
    threads[-1].start()
stop.set()
for thread in threads:
    thread.join()
print(len(counts), sum(counts.values()), flush=True)
"""


def _count(feeder: subprocess.Popen[str], lock: threading.Lock) -> tuple[int, int]:
    """(clients that have checkpointed, checkpoints so far) of the checkpointing process."""
    assert feeder.stdin is not None and feeder.stdout is not None
    with lock:
        feeder.stdin.write("count\n")
        feeder.stdin.flush()
        clients, checkpoints = feeder.stdout.readline().split()
    return int(clients), int(checkpoints)


def starvation(busy: int, duration: float, interval: float, in_process: bool) -> dict[str, Any]:
    """``busy`` executions checkpoint step after step: by default each through a boto3
    client of its own in another process (the handler hands it its token and waits), as
    outside clients would; ``in_process`` runs our SDK in the handler, over HTTP."""
    stop = threading.Event()
    first_invoked: dict[int, float] = {}
    steps_done = [0]
    feeder: subprocess.Popen[str] | None = None
    feed_lock = threading.Lock()

    def busy_workflow(event: Any, ctx: DurableContext) -> int:
        n = 0
        while not stop.is_set():
            n = ctx.step(partial(_successor, n))
            steps_done[0] += 1
        return n

    def handing_over(event: Any, lambda_context: Any) -> dict[str, Any]:
        assert feeder is not None and feeder.stdin is not None
        with feed_lock:
            feeder.stdin.write(f"{event['DurableExecutionArn']} {event['CheckpointToken']}\n")
            feeder.stdin.flush()
        stop.wait()
        return {"Status": "SUCCEEDED", "Result": "0"}

    def trivial(event: Any, lambda_context: Any) -> dict[str, Any]:
        first_invoked.setdefault(event_id(event), time.perf_counter())
        return {"Status": "SUCCEEDED", "Result": "0"}

    service = LocalService(clock=RealClock(), keep_finished=False)
    with LambdaApiServer(service) as server:
        if in_process:
            over_http = LambdaBackend(lambda_client(server.endpoint_url))
            inner = run(busy_workflow)

            def busy_handler(event: Any, lambda_context: Any) -> dict[str, Any]:
                with use_backend(over_http):
                    response: dict[str, Any] = inner(event, lambda_context)
                    return response

            service.register("busy", busy_handler)
        else:
            feeder = subprocess.Popen(
                [sys.executable, "-c", CHECKPOINTING_CLIENTS, server.endpoint_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            service.register("busy", handing_over)
        service.register("trivial", trivial)
        for i in range(busy):
            start_execution(server.endpoint_url, "busy", None, f"busy-{i}")
        # Measure once every busy execution is checkpointing (boto3 clients take a while).
        deadline = time.perf_counter() + 300
        while feeder is not None and _count(feeder, feed_lock)[0] < busy:
            assert time.perf_counter() < deadline, "the busy clients never all started"
            time.sleep(0.5)
        time.sleep(1.0)
        started: dict[int, float] = {}
        answered: dict[int, float] = {}
        steps_before = _count(feeder, feed_lock)[1] if feeder is not None else steps_done[0]
        load_start = time.perf_counter()
        i = 0
        while time.perf_counter() - load_start < duration:
            started[i] = time.perf_counter()
            start_execution(server.endpoint_url, "trivial", {"id": i}, f"trivial-{i}")
            answered[i] = time.perf_counter()
            i += 1
            time.sleep(interval)
        deadline = time.perf_counter() + 120
        while len(first_invoked) < len(started) and time.perf_counter() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - load_start
        if in_process:
            steps = steps_done[0] - steps_before
        else:
            assert feeder is not None and feeder.stdin is not None and feeder.stdout is not None
            steps = _count(feeder, feed_lock)[1] - steps_before
            with feed_lock:
                feeder.stdin.write("stop\n")
                feeder.stdin.flush()
            feeder.wait(60)
        stop.set()
    latencies = [first_invoked[k] - started[k] for k in started if k in first_invoked]
    after_answer = [first_invoked[k] - answered[k] for k in started if k in first_invoked]
    return {
        "figure": "starvation",
        "busy_executions": busy,
        "busy_clients": "in-process SDK over HTTP" if in_process else "boto3, another process",
        "busy_checkpoints_per_s": round(steps / elapsed),
        "trivial_started": len(started),
        "trivial_never_invoked": len(started) - len(latencies),
        **percentiles(latencies),
        "after_start_answered": percentiles(after_answer),
    }


def lookups(executions: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "s.sqlite3")
        service = LocalService(store=store, keep_finished=False)  # as durable serve
        service.register("many", run(lambda event, ctx: ctx.step(lambda _: event)))
        for n in range(executions):
            service.run("many", n)
        latencies: list[float] = []
        failures: list[str] = []
        with LambdaApiServer(service) as server:
            client = lambda_client(server.endpoint_url)
            started = time.perf_counter()
            page = client.list_durable_executions_by_function(FunctionName="many")
            one_list = time.perf_counter() - started

            def list_once() -> None:
                begin = time.perf_counter()
                try:
                    lambda_client(server.endpoint_url).list_durable_executions_by_function(
                        FunctionName="many"
                    )
                    latencies.append(time.perf_counter() - begin)
                except Exception as exc:
                    failures.append(type(exc).__name__)

            threads = [threading.Thread(target=list_once) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            started = time.perf_counter()
            tries = 20
            for _ in range(tries):
                with contextlib.suppress(ServiceError):
                    service.send_callback_success("dW5rbm93bg==", "x")
            unknown = (time.perf_counter() - started) / tries
    return {
        "figure": "lookups",
        "executions": executions,
        "one_list_s": round(one_list, 4),
        "page_items": len(page["DurableExecutions"]),
        "next_marker": page.get("NextMarker"),
        "concurrent_lists": clients,
        "failed": len(failures),
        "concurrent": percentiles(latencies),
        "unknown_callback_s": round(unknown, 5),
    }


def _successor(n: int, _: StepContext) -> int:
    return n + 1


def _position(i: int, _: StepContext) -> int:
    return i


def ten_steps(event: Any, ctx: DurableContext) -> int:
    return sum(ctx.step(partial(_position, i)) for i in range(10))


def memory(executions: int) -> dict[str, Any]:
    def retained(keep_finished: bool) -> int:
        with tempfile.TemporaryDirectory() as directory:
            store = SqliteStore(Path(directory) / "s.sqlite3")
            service = LocalService(store=store, keep_finished=keep_finished)
            service.register("w", run(ten_steps))
            for _ in range(20):
                service.run("w")
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(executions):
                service.run("w")
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            store.close()
            return after - before

    return {
        "figure": "memory",
        "executions": executions,
        "retained_bytes_serve": retained(keep_finished=False),
        "retained_bytes_keep_finished": retained(keep_finished=True),
    }


def event_id(event: dict[str, Any]) -> int:
    execution = event["InitialExecutionState"]["Operations"][0]
    return int(json.loads(execution["ExecutionDetails"]["InputPayload"])["id"])


KILLED_WORKER = """
import sys, time
from durable_closure import run
from durable_testing import LocalService, SqliteStore

def workflow(event, ctx):
    total = 0
    for i in range(int(sys.argv[2])):
        def step(_, i=i):
            with open(sys.argv[3], "a") as runs:
                runs.write(f"{i}\\n")
            time.sleep(0.01)
            return i
        total += ctx.step(step, name=f"s{i}")
    return total

service = LocalService(store=SqliteStore(sys.argv[1]), max_invocation_attempts=3)
service.register("long", run(workflow))
print("owner", flush=True)
if service.store.list_executions():
    service.resume_all(timeout=600)
else:
    service.run("long", timeout=600)
"""


def kills(kills: int, steps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory) / "s.sqlite3"
        runs = Path(directory) / "runs.txt"
        runs.touch()
        worker = Path(directory) / "worker.py"
        worker.write_text(KILLED_WORKER)
        command = [sys.executable, str(worker), str(store), str(steps), str(runs)]
        refused = attempts = killed = 0
        for round_ in range(kills + 1):
            process = subprocess.Popen(command, stdout=subprocess.PIPE)
            assert process.stdout is not None
            process.stdout.readline()  # it owns the store
            done = len(runs.read_text().split())
            attempts += 1
            try:
                SqliteStore(store).close()
            except StoreInUseError:
                refused += 1
            if round_ == kills:
                process.wait(600)
                break
            while len(runs.read_text().split()) < done + steps // (kills + 2):
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed += 1
        reader = SqliteStore(store, read_only=True)
        [execution] = reader.list_executions()
        ran = [int(line) for line in runs.read_text().split()]
    return {
        "figure": "kills",
        "kills": killed,
        "status": execution.status.value,
        "result_ok": execution.result == json.dumps(sum(range(steps))),
        "steps": steps,
        "step_bodies_run": len(ran),
        "steps_run_again": len(ran) - len(set(ran)),
        "second_writer_attempts": attempts,
        "second_writer_refused": refused,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--busy", type=int, default=200)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--executions", type=int, default=4000)
    parser.add_argument(
        "--busy-in-process", action="store_true", help="busy handlers checkpoint from here"
    )
    parser.add_argument("--only", choices=("burst", "starvation", "lookups", "memory", "kills"))
    args = parser.parse_args()
    if args.quick:
        args.clients, args.busy, args.duration, args.kills = 20, 5, 1.0, 2
        args.executions = 50
    figures: dict[str, Callable[[], dict[str, Any]]] = {
        "burst": lambda: burst(args.clients),
        "starvation": lambda: starvation(
            args.busy, args.duration, args.interval, args.busy_in_process
        ),
        "lookups": lambda: lookups(args.executions, min(args.clients, 100)),
        "memory": lambda: memory(min(args.executions, 1000)),
        "kills": lambda: kills(args.kills, 300),
    }
    for name, figure in figures.items():
        if args.only in (None, name):
            print(json.dumps(figure()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
