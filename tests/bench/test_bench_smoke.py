"""The benchmark's functions at tiny sizes: behaviour only, never timing.

Each bench function raises ``BenchError`` when an SDK run does not return the expected
status and result, so a passing call means both SDKs ran the same workflow to the
same result on the same backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import Duration
from durable_testing import ExecutionStatus, LocalService

from benchmarks import run as bench


def test_both_sdks_return_the_same_result() -> None:
    for n in (0, 3):
        ours = bench.our_steps(n)
        theirs = bench.their_steps(n)
        results = []
        for invoke in (ours, theirs):
            backend = bench.MeteredBackend()
            timed = invoke(backend, backend.start_execution({}))
            assert timed.response["Status"] == "SUCCEEDED"
            results.append(timed.response["Result"])
        assert results[0] == results[1] == bench.expected_result(n)


def test_both_sdks_write_the_same_checkpoint_stream() -> None:
    streams = []
    for invoke in (bench.our_steps(3), bench.their_steps(3)):
        backend = bench.MeteredBackend()
        event = backend.start_execution({})
        invoke(backend, event)
        streams.append([[u.to_wire() for u in call.updates] for call in backend.calls])
    assert streams[0] == streams[1]


def test_execute_and_replay_figures() -> None:
    rows = bench.bench_execute(5, 1) + bench.bench_replay_steps(5, 2)
    assert {r.key for r in rows} >= {"execute", "execute_sdk", "replay_steps"}
    assert all(r.ours is not None and r.theirs is not None for r in rows)


def test_replay_logs_cover_every_size_and_growth() -> None:
    report = bench.bench_replay_logs((20, 40), 1)
    for key in ("replay_20", "replay_40", "replay_40_mem", "growth_40", "growth_40_mem"):
        row = report.row(key)
        assert row.ours is not None and row.ours > 0
        assert row.theirs is not None and row.theirs > 0
    assert not report.notes


def test_replay_logs_skip_sizes_predicted_too_slow() -> None:
    report = bench.bench_replay_logs((10, 1_000_000_000), 1, limit=1.0)
    assert [r.key for r in report.rows if r.key.startswith("replay_")][-1] == "replay_10_mem"
    assert report.notes and "skipped" in report.notes[0]


def _summary(ops: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (op["Id"], op["Type"], op.get("SubType"), op["Status"], op["StepDetails"].get("Result"))
        for op in ops
    ]


def test_the_built_log_is_what_the_sdks_write() -> None:
    backend, arn = bench.completed_log(4)
    executed = bench.MeteredBackend()
    event = executed.start_execution({})
    bench.their_steps(4)(executed, event)
    built = [op.to_wire() for op in backend.operations(arn)[1:]]
    written = [op.to_wire() for op in executed.operations(event["DurableExecutionArn"])[1:]]
    assert _summary(built) == _summary(written)


def test_batching_makes_fewer_calls_with_the_same_updates() -> None:
    rows = {r.key: r for r in bench.bench_checkpoints(5)}
    assert rows["calls"].ours == rows["calls"].theirs == 5
    assert rows["calls_batch"].ours is not None and rows["calls"].ours is not None
    assert rows["calls_batch"].ours < rows["calls"].ours
    assert rows["bytes"].ours == rows["bytes_batch"].ours == rows["bytes"].theirs


def test_latency_figure_runs() -> None:
    rows = bench.bench_latency(2, 0.001, 1)
    assert all(r.ours and r.theirs for r in rows)


def test_map_figures_run_both_sdks_to_the_same_sum() -> None:
    rows = bench.bench_map_latency(6, 3, 0.001, 1)
    assert [r.key for r in rows] == [
        "map_latency",
        "map_latency_pipelined",
        "map_latency_batch",
        "map_latency_calls",
    ]
    assert all(r.ours and r.theirs for r in rows)
    report = bench.bench_map_large((6, 12), 3, 1)
    assert [r.key for r in report.rows] == [
        f"map_{n}{key}" for n in (6, 12) for key in ("", "_cpu", "_mem")
    ]
    assert all(r.ours and r.theirs for r in report.rows)
    assert not report.notes


def test_the_fanout_figure_runs_sync_and_async_maps_to_the_same_sum() -> None:
    rows = bench.bench_map_fanout(6, (2, 3), 0.001, 1)
    assert [r.key for r in rows] == [
        f"map_fanout_{c}{key}" for c in (2, 3) for key in ("", "_async", "_calls", "_async_calls")
    ]
    assert all(r.ours and r.theirs for r in rows)


def _fanout_summary(ops: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            op["Id"],
            op.get("ParentId"),
            op["Type"],
            op.get("SubType"),
            op.get("Name"),
            op["Status"],
            op.get("StepDetails", {}).get("Result"),
            op.get("ContextDetails", {}).get("Result"),
        )
        for op in ops
    )


@pytest.mark.parametrize("kind", ["map", "parallel"])
def test_each_fanout_variant_writes_what_aws_sdk_writes(kind: str) -> None:
    """Our sync and async def handlers of a fan-out are the workflow AWS's SDK runs: the
    same operations (ids, parents, subtypes, names, results), each item one step."""
    written = {}
    for name, invoke in bench.fanout_variants(kind, 3, 2).items():
        backend = bench.MeteredBackend()
        event = backend.start_execution({})
        assert invoke(backend, event).response == {"Status": "SUCCEEDED", "Result": "6"}
        # All but the EXECUTION operation, whose id is the execution's own.
        ops = backend.operations(event["DurableExecutionArn"])[1:]
        written[name] = _fanout_summary([op.to_wire() for op in ops])
    assert sorted(op[6] for op in written["theirs"] if op[3] == "Step") == ["0", "2", "4"]
    assert written["sync"] == written["async"] == written["theirs"]


def test_the_fanout_at_scale_figure_runs_map_and_parallel_with_both_sdks() -> None:
    rows = bench.bench_fanout_at_scale(6, 4, 2, 0.001, 1)
    assert [r.key for r in rows] == [
        f"fanout_{kind}_{n}{key}"
        for kind, n in (("map", 6), ("parallel", 4))
        for key in ("", "_async", "_calls", "_async_calls")
    ]
    assert all(r.ours and r.theirs for r in rows)


def test_a_fanout_run_with_the_wrong_result_gives_no_figure() -> None:
    parallel_of_3 = bench.fanout_variants("parallel", 3, 2)["theirs"]
    with pytest.raises(bench.BenchError):
        bench.map_rate(parallel_of_3, 4, 0.0, 1)


def test_a_fanout_run_over_the_limit_runs_once() -> None:
    runs = []
    invoke = bench.fanout_variants("parallel", 2, 2)["sync"]

    def counted(backend: bench.MeteredBackend, event: dict[str, Any]) -> bench.Timed:
        runs.append(event)
        return invoke(backend, event)

    bench.map_rate(counted, 2, 0.0, 3, single_run_over=0.0)
    assert len(runs) == 1
    bench.map_rate(counted, 2, 0.0, 3)
    assert len(runs) == 4


def test_map_sizes_predicted_too_slow_are_skipped() -> None:
    report = bench.bench_map_large((4, 1_000_000_000), 2, 1, limit=1.0)
    assert [r.key for r in report.rows] == ["map_4", "map_4_cpu", "map_4_mem"]
    assert report.notes and "Map over 1,000,000,000 items skipped" in report.notes[0]


def test_both_sdks_run_the_same_execution_on_local_service() -> None:
    """Each SDK's handler, on a service of its own, suspends on the wait, is re-invoked
    and ends with the same result and the same history."""
    results = {}
    for name, wait in (("ours", 1), ("theirs", Duration.from_seconds(1))):
        service = LocalService()
        handlers = bench.local_handlers(bench.steps_workflow(3, wait), service)
        service.register(name, handlers[name])
        results[name] = service.run(name)
    for result in results.values():
        assert result.status is ExecutionStatus.SUCCEEDED
        assert result.result_payload == bench.expected_result(3)
        assert result.invocations == 2
    assert results["ours"].event_types == results["theirs"].event_types
    rows = bench.bench_local_service(2, 1)
    assert [r.key for r in rows] == ["local", "local_cpu", "local_sdk"]
    assert all(r.ours and r.theirs for r in rows)


def test_results_file_and_table(tmp_path: Path) -> None:
    report = bench.Report(rows=bench.bench_checkpoints(2), notes=["a note"])
    out = tmp_path / "results.md"
    bench.write_results(report, bench.QUICK, True, out)
    text = out.read_text()
    assert "aws-durable-execution-sdk-python" in text
    assert "| 4 | checkpoint calls, 2 steps | 2 | 2 | 1.00 |" in text
    assert "a note" in text
    # Batch mode made 1 call where AWS's SDK made 2: 0.50, above the 0.1 target.
    assert "| checkpoint calls, 100 steps, batch mode, ours/AWS | ≤ 0.1 | 0.50 | no |" in text
    assert "| cold import (bytecode cached), ours/AWS | ≤ 0.5 | not run |  |" in text


def test_every_target_names_a_row_the_figures_make() -> None:
    """A renamed row would leave its target "not run" in every results.md."""
    full = bench.Sizes().logs[-1]
    made = {
        row.key.replace("_100_", f"_{full}_")
        for row in [
            *bench.bench_execute(2, 1),
            *bench.bench_replay_steps(2, 1),
            *bench.bench_replay_logs((10, 100), 1).rows,
            *bench.bench_checkpoints(2),
            *bench.bench_latency(2, 0.001, 1),
            *bench.bench_map_latency(4, 2, 0.001, 1),
            *bench.bench_map_fanout(4, (50,), 0.001, 1),
        ]
    }
    # Figure 7c's rows are named by size (the format is checked at small sizes).
    sizes = bench.Sizes()
    made |= {
        row.key.replace("_map_4", f"_map_{sizes.fanout_map_items}").replace(
            "_parallel_3", f"_parallel_{sizes.parallel_branches}"
        )
        for row in bench.bench_fanout_at_scale(4, 3, 2, 0.001, 1)
    }
    made.add("import")  # bench_import's first row (a subprocess run, tested above)
    # Figure 10's rows are named by size (the format is checked at small sizes).
    paged = [row.key for row in bench.bench_replay_paged((10, 20), 1)]
    assert paged == ["replay_paged_10", "replay_paged_20", "growth_paged"]
    made |= {"growth_paged", *(f"replay_paged_{n}" for n in bench.Sizes().paged_logs)}
    assert {target.row for target in bench.TARGETS} <= made


@pytest.mark.parametrize("module", ["durable_closure", "aws_durable_execution_sdk_python"])
def test_importtime_parses(module: str) -> None:
    assert bench._importtime_us(module) > 0


def test_first_invocation_figure_runs_both_sdks_to_the_same_response() -> None:
    rows = {r.key: r for r in bench.bench_first_invocation(1, steps=2)}
    assert set(rows) == {"first_total", "first_cpu", "first_invoke"}
    assert all(r.ours and r.theirs for r in rows.values())
    # Each fresh interpreter answered SUCCEEDED with 0 + 1 (bench_first_invocation raises
    # BenchError otherwise); the report carries the response as the handler returned it.
    for sdk in ("ours", "theirs"):
        report = bench.first_invocation(sdk, 2)
        assert report["response"] == {"Status": "SUCCEEDED", "Result": "1"}
        assert report["total_s"] >= report["import_s"] > 0


def test_import_without_bytecode_compiles_from_source(tmp_path: Path) -> None:
    """The two interpreter environments of figure 5 differ exactly in where .pyc files are."""
    cached = bench.interpreter_env(tmp_path)
    assert cached["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in cached
    bench._import_seconds("import json", cached)
    assert list(tmp_path.rglob("*.pyc"))
    source = bench.interpreter_env(None)
    assert source["PYTHONDONTWRITEBYTECODE"] == "1"
    assert source["PYTHONPYCACHEPREFIX"] != str(tmp_path)


def test_paged_replay_reads_every_page_with_both_sdks() -> None:
    # 2,500 steps are three pages: an SDK that missed one would run (and checkpoint) the
    # steps it did not find, which the paged client refuses.
    rows = bench.bench_replay_paged((10, 2_500), 1)
    assert [r.key for r in rows] == ["replay_paged_10", "replay_paged_2500", "growth_paged"]
    assert all(r.ours is not None and r.theirs is not None for r in rows)


def test_a_paged_replay_that_checkpoints_is_refused() -> None:
    client, _ = bench.paged_log(3)
    with pytest.raises(bench.BenchError):
        client.checkpoint_durable_execution()
