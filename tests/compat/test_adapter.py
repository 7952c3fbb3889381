"""The adapter itself: converting between the two SDKs' wire models loses nothing."""

from __future__ import annotations

from collections import Counter

from durable_core.types import Operation, OperationUpdate

from tests.compat.conftest import aws_invoker, our_invoker, start, to_aws_operation
from tests.compat.workflows import OURS, aws_handler, full_workflow


def test_operations_round_trip_through_aws_model() -> None:
    run = start({"who": "ada"})
    run.until_done(our_invoker(full_workflow(OURS, Counter())))
    operations = run.operations()
    assert {op.type.value for op in operations} >= {"EXECUTION", "STEP", "WAIT", "CONTEXT"}
    for op in operations:
        back = Operation.from_wire(to_aws_operation(op).to_dict())
        assert back == op


def test_aws_updates_round_trip_through_our_model() -> None:
    aws, _ = aws_handler(full_workflow)
    run = start({"who": "ada"})
    run.until_done(aws_invoker(aws))
    raw = [u for call in run.aws_raw_updates for u in call]
    assert raw
    for update in raw:
        assert OperationUpdate.from_wire(update).to_wire() == update
