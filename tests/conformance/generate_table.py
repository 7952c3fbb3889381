"""Write docs/conformance.md: every AWS conformance requirement on both servers, judged by
AWS's validator.

Run from the repository root (after ``make conformance-venv``):
``python -m uv run --frozen python tests/conformance/generate_table.py``

Columns: our local service (virtual clock), and AWS's ``dex-local-runner`` in server
mode with our handlers checkpointing through ``LambdaBackend`` (real time: a few
minutes). A requirement that fails on the runner and has a handler written with AWS's
own SDK (``tests/conformance/aws_handlers.py``) is run again with that handler on the
same runner: when AWS's SDK's history lacks the same fields, the failure is the
runner's, and the table says so.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conformance.aws_handlers import AWS_FUNCTIONS, AWS_HANDLERS  # noqa: E402
from tests.conformance.aws_validator import (  # noqa: E402
    SUITES,
    Requirement,
    Verdict,
    judge,
    load_requirements,
)
from tests.conformance.dex import dex_service  # noqa: E402
from tests.conformance.handlers import FUNCTIONS, HANDLERS  # noqa: E402
from tests.conformance.runner import local_service  # noqa: E402
from tests.conformance.test_conformance import KNOWN_GAPS  # noqa: E402

OUTPUT = ROOT / "docs" / "conformance.md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


_MISSING = re.compile(r"Event\[EventId=\d+\]\.(.+): key missing in actual event")


def _missing(errors: list[str]) -> set[str]:
    """The fields a history lacks, by event type (``StepSucceededDetails.RetryDetails``)."""
    return {m[1] for error in errors if (m := _MISSING.fullmatch(error))}


def _shape(errors: list[str]) -> list[str]:
    """The validator's messages without the values one run draws (names, ARNs)."""
    return sorted(re.sub(r"'[^']*'", "'…'", error) for error in errors)


def _local(requirements: list[Requirement]) -> dict[str, Verdict]:
    with local_service() as service:
        return {r.id: judge(r, service) for r in requirements}


def _dex(requirements: list[Requirement]) -> tuple[dict[str, Verdict], dict[str, Verdict]]:
    """Our handlers on the runner; then AWS's SDK's, for what failed and has one."""
    with dex_service(HANDLERS, FUNCTIONS) as service:
        ours = {r.id: judge(r, service) for r in requirements}
    again = [r for r in requirements if not ours[r.id].passed and r.id in AWS_HANDLERS]
    if not again:
        return ours, {}
    with dex_service(AWS_HANDLERS, AWS_FUNCTIONS) as service:
        return ours, {r.id: judge(r, service) for r in again}


def _runner_drops(dex: dict[str, Verdict], aws: dict[str, Verdict]) -> dict[str, str]:
    """Each field AWS's SDK's handler also finds missing on the runner -> that requirement."""
    shown: dict[str, str] = {}
    for rid, verdict in aws.items():
        for missing in _missing(verdict.errors) & _missing(dex[rid].errors):
            shown.setdefault(missing, rid)
    return shown


def _dex_cell(ours: Verdict, aws: Verdict | None, shown: dict[str, str]) -> tuple[str, str]:
    """Pass, or fail with the validator's messages and what AWS's SDK shows of them.

    **runner**: AWS's SDK's handler for this requirement fails with the same messages;
    or every message is a field missing from the history, and AWS's SDK's handler (for
    this requirement, or else for the one named) lacks the same field.
    """
    if ours.passed:
        return "pass", ""
    message = "; ".join(ours.errors[:3])
    if aws is not None and not aws.passed and _shape(aws.errors) == _shape(ours.errors):
        return "fail (runner)", f"{message} — AWS's SDK's handler fails with the same messages"
    missing = _missing(ours.errors)
    only_missing = all(_MISSING.fullmatch(error) for error in ours.errors)
    if only_missing and missing <= shown.keys():
        where = sorted({shown[m] for m in missing})
        if aws is None:
            return "fail (runner)", f"{message} — AWS's SDK lacks it too in {', '.join(where)}"
        if missing <= _missing(aws.errors):
            return "fail (runner)", f"{message} — AWS's SDK's handler lacks it too"
    if aws is None:
        return "fail", message
    verdict = "passes" if aws.passed else "fails otherwise: " + "; ".join(aws.errors[:3])
    return "fail", f"{message} — AWS's SDK's handler {verdict}"


def render() -> str:
    requirements = load_requirements()
    local = _local(requirements)
    dex, aws = _dex(requirements)
    shown = _runner_drops(dex, aws)
    total: Counter[str] = Counter(r.suite for r in requirements)
    local_passed: Counter[str] = Counter(r.suite for r in requirements if local[r.id].passed)
    dex_passed: Counter[str] = Counter(r.suite for r in requirements if dex[r.id].passed)
    runner_only: Counter[str] = Counter()
    rows: list[str] = []
    for r in requirements:
        on_local = "pass" if local[r.id].passed else "fail"
        local_note = "" if local[r.id].passed else "; ".join(local[r.id].errors[:3])
        if r.id in KNOWN_GAPS:
            local_note = f"{KNOWN_GAPS[r.id]}: {local_note}"
        on_dex, dex_note = _dex_cell(dex[r.id], aws.get(r.id), shown)
        runner_only[r.suite] += on_dex == "fail (runner)"
        notes = "; ".join(n for n in (local_note, dex_note) if n)
        cells = (r.suite, r.id, _cell(r.title), on_local, on_dex, _cell(notes))
        rows.append("| " + " | ".join(cells) + " |")
    summary = [
        f"| {s} | {local_passed[s]} / {total[s]} | {dex_passed[s]} / {total[s]}"
        f" | {runner_only[s]} |"
        for s in SUITES
    ]
    count = len(requirements)
    return "\n".join(
        [
            "# Conformance with AWS's durable execution requirements",
            "",
            "Generated by `python -m uv run --frozen python tests/conformance/generate_table.py`."
            " Every requirement of the `aws-durable-execution-conformance-tests` 1.0.0 wheel is"
            " judged by the wheel's own `validate_description` (history, result, and"
            " `ExpectedLogs` against the lines the run logged in Lambda's JSON log format),"
            " on two servers:",
            "",
            "* **local service**: `LocalService` (virtual clock) behind `LambdaApiServer`; the"
            " validator reads it through boto3 (`tests/conformance/runner.py`). `make test`"
            " runs this column.",
            "* **dex-local-runner**: AWS's runner in server mode, real time, our handlers"
            " checkpointing through `LambdaBackend` (`tests/conformance/dex.py`), with one"
            " patch: it drops `InvocationCompletedDetails` when it renumbers events"
            " (`tests/conformance/dex_runner.py`; `tests/conformance/test_dex.py` shows it"
            " with AWS's SDK). `make test` runs a representative subset of this column;"
            " the whole column takes minutes of real time.",
            "",
            "**fail (runner)**: a handler written with AWS's SDK for the requirement, run the"
            " same way on the same runner, fails with the same validator messages (the"
            " interrupted-step requirements: the runner records no `InvocationCompleted` for"
            " an invocation that crashed); or every validator message is a field missing from"
            " the runner's"
            " history, and a handler written with AWS's SDK (`tests/conformance/aws_handlers.py`),"
            " run the same way on the same runner, lacks the same field: the one for this"
            " requirement, or else the one for the requirement named (the runner drops the"
            " field whatever wrote the operation: `StepSucceededDetails.RetryDetails`,"
            " `CallbackStartedDetails.Timeout`/`HeartbeatTimeout`,"
            " `ChainedInvokeStartedDetails.ExecutedVersion`/`TenantId`, a wait_for_condition"
            " retry's `Result`). Other failures are listed with the validator's messages and,"
            " where there is one, what AWS's SDK's handler did.",
            "",
            f"**Local service: {sum(local_passed.values())} of {count} pass."
            f" dex-local-runner: {sum(dex_passed.values())} of {count} pass,"
            f" {sum(runner_only.values())} fail the same way with AWS's SDK.**",
            "",
            "| suite | local service | dex-local-runner | fail (runner) |",
            "| --- | --- | --- | --- |",
            *summary,
            "",
            "| suite | id | requirement | local service | dex-local-runner | notes |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
