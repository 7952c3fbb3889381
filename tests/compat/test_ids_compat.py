"""Operation ids: ours, AWS's OperationIdNamespace and an independent blake2b agree."""

from __future__ import annotations

import hashlib

import pytest
from aws_durable_execution_sdk_python.identifier import OperationIdNamespace
from durable_core._ids import IdNamespace, operation_id


def blake(raw: str) -> str:
    return hashlib.blake2b(raw.encode("utf-8")).hexdigest()[:64]


@pytest.mark.parametrize("position", [1, 2, 3])
def test_root_ids(position: int) -> None:
    expected = OperationIdNamespace(None).create_id_for_step(position)
    assert expected == blake(str(position))
    assert operation_id(None, position) == expected
    assert len(expected) == 64


@pytest.mark.parametrize("position", [1, 2])
def test_child_of_first_root_operation(position: int) -> None:
    parent = OperationIdNamespace(None).create_id_for_step(1)
    expected = OperationIdNamespace(parent).create_id_for_step(position)
    assert expected == blake(f"{parent}-{position}")
    assert operation_id(parent, position) == expected


def test_grandchild_and_namespace_order() -> None:
    root = IdNamespace(None)
    aws_root = OperationIdNamespace(None)
    ours = [root.next_id() for _ in range(3)]
    assert ours == [aws_root.create_id_for_step(n) for n in (1, 2, 3)]
    child = IdNamespace(ours[0])
    aws_child = OperationIdNamespace(ours[0])
    first_child = child.next_id()
    assert first_child == aws_child.create_id_for_step(1)
    assert operation_id(first_child, 1) == OperationIdNamespace(first_child).create_id_for_step(1)


def test_ids_in_a_real_run_match() -> None:
    """The ids our engine sent are the ones AWS's namespace derives for those positions."""
    from collections import Counter

    from tests.compat.conftest import our_invoker, start
    from tests.compat.workflows import OURS, full_workflow

    run = start({"who": "ada"})
    run.until_done(our_invoker(full_workflow(OURS, Counter())))
    ids = {u["Name"]: u["Id"] for call in run.updates_by_call() for u in call if "Name" in u}
    root = OperationIdNamespace(None)
    assert ids["greet"] == root.create_id_for_step(1)
    assert ids["pause"] == root.create_id_for_step(4)
    assert ids["child"] == root.create_id_for_step(5)
    assert ids["inner-a"] == OperationIdNamespace(ids["child"]).create_id_for_step(1)
    assert ids["inner-b"] == OperationIdNamespace(ids["child"]).create_id_for_step(2)
    assert ids["flaky"] == root.create_id_for_step(6)
