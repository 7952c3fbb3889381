"""The same workflow on AWS's SDK and on ours, each on its own MemoryBackend.

AWS's SDK is the reference: every expected value below comes from its run. Batching
note: AWS's SDK sends a step's START without waiting (``is_sync=False``) and the
SUCCEED/RETRY/FAIL synchronously, and its batcher puts them in one call; a child's
START likewise rides with the first inner step. Our checkpointer buffers the same
non-blocking updates, so the calls match one for one, and the tests compare them call
by call (the flattened sequence is compared too, so a batching change is told apart
from a change of content).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.compat.conftest import Run, aws_invoker, our_invoker, start
from tests.compat.workflows import (
    Factory,
    aws_handler,
    full_workflow,
    our_handler,
    unnamed_workflow,
)

WORKFLOWS = [
    pytest.param(full_workflow, {"who": "ada"}, id="full"),
    pytest.param(unnamed_workflow, {}, id="unnamed"),
]


def flat(calls: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [update for call in calls for update in call]


def key_fields(update: dict[str, Any]) -> tuple[Any, ...]:
    error = update.get("Error") or {}
    return (
        update["Id"],
        update.get("ParentId"),
        update["Type"],
        update.get("SubType"),
        update["Action"],
        update.get("Name"),
        update.get("Payload"),
        error.get("ErrorType"),
        error.get("ErrorMessage"),
    )


def run_both(factory: Factory, event: Any) -> tuple[Run, Run]:
    aws, _ = aws_handler(factory)
    ours, _ = our_handler(factory)
    aws_run = start(event)
    aws_run.until_done(aws_invoker(aws))
    our_run = start(event)
    our_run.until_done(our_invoker(ours))
    return aws_run, our_run


@pytest.mark.parametrize(("factory", "event"), WORKFLOWS)
def test_checkpoint_updates_identical_call_by_call(factory: Factory, event: Any) -> None:
    aws_run, our_run = run_both(factory, event)
    expected, actual = aws_run.updates_by_call(), our_run.updates_by_call()
    assert expected, "AWS's SDK sent no checkpoint"
    # The adapter lost nothing: AWS's own dicts equal what our backend recorded.
    assert aws_run.aws_raw_updates == expected
    assert [key_fields(u) for u in flat(actual)] == [key_fields(u) for u in flat(expected)]
    assert flat(actual) == flat(expected)
    assert actual == expected


@pytest.mark.parametrize(("factory", "event"), WORKFLOWS)
def test_results_and_invocations_identical(factory: Factory, event: Any) -> None:
    aws_run, our_run = run_both(factory, event)
    assert aws_run.final["Status"] == "SUCCEEDED"
    assert our_run.responses == aws_run.responses
    assert json.loads(our_run.final["Result"]) == json.loads(aws_run.final["Result"])


def test_full_workflow_shape() -> None:
    """What the reference run did, so a vacuous parity (both empty) cannot pass."""
    aws, aws_calls = aws_handler(full_workflow)
    ours, our_calls = our_handler(full_workflow)
    aws_run = start({"who": "ada"})
    aws_run.until_done(aws_invoker(aws))
    our_run = start({"who": "ada"})
    our_run.until_done(our_invoker(ours))

    # Each body ran once, the flaky one twice, in both SDKs.
    assert our_calls == aws_calls
    assert aws_calls["flaky"] == 2 and aws_calls["greet"] == 1

    updates = flat(aws_run.updates_by_call())
    actions = [(u.get("Name"), u["Action"]) for u in updates]
    assert ("pause", "START") in actions and ("flaky", "RETRY") in actions
    retry = next(u for u in updates if u["Action"] == "RETRY")
    assert retry["StepOptions"] == {"NextAttemptDelaySeconds": 2}
    assert retry["Error"] == {"ErrorMessage": "transient failure", "ErrorType": "RuntimeError"}
    typed = next(u for u in updates if u.get("Name") == "typed" and u["Action"] == "SUCCEED")
    assert json.loads(typed["Payload"])["t"] == "m"  # the envelope, not plain JSON

    result = json.loads(our_run.final["Result"])
    assert result["when"] == "2024-01-02T03:04:05.678000+00:00"
    assert result["amount"] == "12.50"
    assert result["inner_types"] == ["tuple", "date"]


# -- cross replay: one SDK starts the execution, the other finishes it --------------


SWITCH_POINTS = [
    pytest.param(1, id="after-wait-started"),
    pytest.param(2, id="after-retry-scheduled"),
]


def reference(factory: Factory, event: Any) -> Run:
    aws, _ = aws_handler(factory)
    run = start(event)
    run.until_done(aws_invoker(aws))
    return run


@pytest.mark.parametrize("switch_after", SWITCH_POINTS)
@pytest.mark.parametrize("first", ["aws", "ours"])
def test_cross_replay(first: str, switch_after: int) -> None:
    aws, aws_calls = aws_handler(full_workflow)
    ours, our_calls = our_handler(full_workflow)
    invokers = {"aws": aws_invoker(aws), "ours": our_invoker(ours)}
    counters = {"aws": aws_calls, "ours": our_calls}
    second = "ours" if first == "aws" else "aws"

    run = start({"who": "ada"})
    for _ in range(switch_after):
        assert run.invoke(invokers[first])["Status"] == "PENDING"
    before = dict(counters[first])
    run.until_done(invokers[second])

    expected = reference(full_workflow, {"who": "ada"})
    assert run.final == expected.final
    assert flat(run.updates_by_call()) == flat(expected.updates_by_call())
    # Bodies completed by the first SDK were replayed, not re-run, by the second.
    for name in ("greet", "typed", "plain"):
        assert before[name] == 1
        assert counters[second][name] == 0
    total = counters[first] + counters[second]
    assert total == {"greet": 1, "typed": 1, "plain": 1, "inner-a": 1, "inner-b": 1, "flaky": 2}
    if switch_after == 2:
        # The failed first attempt ran under the first SDK; the second SDK ran attempt 2 only.
        assert counters[first]["flaky"] == 1 and counters[second]["flaky"] == 1
        assert counters[second]["inner-a"] == 0
