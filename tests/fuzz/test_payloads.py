"""Hostile payloads: random strings and envelopes into the serdes and into a replayed step.

A checkpointed payload that cannot be read must surface as ``SerDesError`` (naming the
operation on replay), never as another exception and never as a silently different value.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, ExtendedSerDes, MemoryBackend, SerDesError, use_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.harness import STATS, examples

from .support import bounded

TAGS = ["n", "s", "b", "i", "f", "B", "u", "d", "dt", "D", "l", "t", "m", "zz", ""]
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
envelopes = st.recursive(
    st.fixed_dictionaries({"t": st.sampled_from(TAGS), "v": scalars}),
    lambda inner: st.fixed_dictionaries(
        {
            "t": st.sampled_from(TAGS),
            "v": st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        }
    ),
    max_leaves=6,
)
payloads = st.one_of(
    st.text(max_size=60),
    scalars.map(json.dumps),
    envelopes.map(json.dumps),
    st.lists(envelopes, max_size=2).map(json.dumps),
)

DEEP = "[" * 100_000 + "]" * 100_000


def _read(payload: str) -> Any:
    """``ExtendedSerDes.deserialize``: any exception but ``SerDesError`` fails the test."""
    return ExtendedSerDes().deserialize(payload)


@settings(max_examples=examples(500))
@given(payloads)
def test_deserialize_returns_a_value_or_a_serdes_error(payload: str) -> None:
    with bounded():
        try:
            _read(payload)
        except SerDesError:
            STATS["payload: SerDesError"] += 1
        else:
            STATS["payload: value"] += 1


@given(scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=4), scalars))
def test_what_is_written_reads_back_equal(value: Any) -> None:
    serdes = ExtendedSerDes()
    back = serdes.deserialize(serdes.serialize(value))
    assert json.dumps(back) == json.dumps(value)


def test_an_invalid_decimal_envelope_is_a_serdes_error() -> None:
    with pytest.raises(SerDesError):
        ExtendedSerDes().deserialize('{"t":"d","v":"abc"}')


def test_a_deeply_nested_payload_is_a_serdes_error() -> None:
    with pytest.raises(SerDesError):
        ExtendedSerDes().deserialize(DEEP)


def _replay_with_result(payload: str) -> tuple[dict[str, Any], list[Any]]:
    """Record step "s", replace its recorded result with ``payload``, replay it."""
    seen: list[Any] = []

    def workflow(event: Any, ctx: DurableContext) -> str:
        seen.append(ctx.step(lambda _: "original", name="s"))
        ctx.wait(1, name="w")
        return "done"

    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    with use_backend(backend):
        run(workflow)(event, None)
        step = next(op for op in backend.operations(arn) if op.name == "s")
        assert step.step_details is not None
        details = dataclasses.replace(step.step_details, result=payload)
        backend.set_operation(arn, dataclasses.replace(step, step_details=details))
        backend.fire_timers(arn)
        seen.clear()
        with bounded():
            response = run(workflow)(backend.invocation_event(arn), None)
    return response, seen


@settings(max_examples=examples(150))
@given(payloads | st.just(DEEP))
def test_a_replayed_result_is_the_recorded_value_or_a_serdes_error(payload: str) -> None:
    response, seen = _replay_with_result(payload)
    try:
        expected = _read(payload)
    except SerDesError:
        assert response["Status"] == "FAILED"
        assert response["Error"]["ErrorType"] == (
            "aws_durable_execution_sdk_python.exceptions.SerDesError"
        )
        assert "'s'" in response["Error"]["ErrorMessage"]
        STATS["replayed payload: FAILED SerDesError"] += 1
        return
    assert response == {"Status": "SUCCEEDED", "Result": '"done"'}
    assert repr(seen[0]) == repr(expected)
    STATS["replayed payload: value"] += 1
