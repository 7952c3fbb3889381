"""Large step results offloaded to a payload store (S3 through moto, or memory).

Limits come from boto3's service model (OperationUpdate.Payload max length) and the
child-result threshold of AWS's SDK; the reference's preview length (200 characters)
is the documented envelope (docs/payloads.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from durable_closure import run
from durable_core import DurableContext, ExecutionOptions, StepConfig
from durable_core.payloads import (
    PAYLOAD_LIMIT_BYTES,
    MemoryPayloadStore,
    Offload,
    PayloadNotFoundError,
    PayloadStoreError,
    S3PayloadStore,
)
from moto import mock_aws

from tests.driver import start

BIG = "x" * 2000 + "tail"


@pytest.fixture
def s3_store() -> Any:
    with mock_aws():
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        client.create_bucket(Bucket="payloads")
        yield S3PayloadStore("payloads", prefix="runs/", client=client)


def _workflow(store: Any, threshold: int = 1000) -> Any:
    config: StepConfig[dict[str, Any]] = StepConfig(offload=Offload(store, threshold))

    def wf(event: Any, ctx: DurableContext) -> list[Any]:
        report = ctx.step(lambda s: {"body": BIG, "n": 7}, name="report", config=config)
        ctx.wait(5, name="later")
        small = ctx.step(lambda s: "small", name="small", config=config)
        return [report["n"], len(report["body"]), small]

    return run(wf)


def test_large_result_goes_to_s3_and_replays_identically(s3_store: S3PayloadStore) -> None:
    execution = start(_workflow(s3_store))
    assert execution.invoke()["Status"] == "PENDING"
    recorded = execution.by_name("report").result
    assert recorded is not None
    reference = json.loads(recorded)
    assert set(reference) == {"$durable_ref", "preview", "size", "sha256"}
    assert reference["$durable_ref"].startswith("s3://payloads/runs/")
    assert len(reference["preview"]) == 200
    key = reference["$durable_ref"].removeprefix("s3://payloads/")
    stored = s3_store._client.get_object(Bucket="payloads", Key=key)["Body"].read()
    assert len(stored) == reference["size"]
    assert json.loads(stored.decode())  # the serdes' own encoding, unchanged

    execution.fire_timers()
    response = execution.invoke()  # replays "report" from S3
    assert json.loads(response["Result"]) == [7, 2004, "small"]
    # Below the threshold a result is checkpointed as usual.
    assert execution.by_name("small").result == '"small"'


def test_missing_object_raises_a_typed_error(s3_store: S3PayloadStore) -> None:
    execution = start(_workflow(s3_store))
    execution.invoke()
    reference = json.loads(execution.by_name("report").result or "")
    key = reference["$durable_ref"].removeprefix("s3://payloads/")
    s3_store._client.delete_object(Bucket="payloads", Key=key)
    execution.fire_timers()
    response = execution.invoke()
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorType"] == "durable_core.payloads.PayloadNotFoundError"
    assert "report" in response["Error"]["ErrorMessage"]


def test_changed_object_is_refused() -> None:
    store = MemoryPayloadStore()
    execution = start(_workflow(store))
    execution.invoke()
    (key,) = store.objects
    store.objects[key] = b'"tampered"'
    execution.fire_timers()
    response = execution.invoke()
    assert response["Error"]["ErrorType"] == "durable_core.payloads.PayloadStoreError"


def test_memory_store_reports_a_missing_reference() -> None:
    with pytest.raises(PayloadNotFoundError):
        MemoryPayloadStore().get("memory://nothing")
    assert issubclass(PayloadNotFoundError, PayloadStoreError)


def test_results_near_the_payload_limit_warn_on_the_budget_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    near = PAYLOAD_LIMIT_BYTES * 9 // 10  # 90 % of the service's limit

    def wf(event: Any, ctx: DurableContext) -> int:
        return len(ctx.step(lambda s: "y" * near, name="huge"))

    with caplog.at_level(logging.WARNING, logger="durable.budget"):
        response = start(run(wf)).invoke()
    assert response["Status"] == "SUCCEEDED"
    (record,) = [r for r in caplog.records if r.name == "durable.budget"]
    assert "huge" in record.getMessage()
    assert record.limit_bytes == PAYLOAD_LIMIT_BYTES  # type: ignore[attr-defined]


def test_an_execution_wide_offload_applies_to_every_step_without_its_own() -> None:
    store = MemoryPayloadStore()
    own_store = MemoryPayloadStore()
    own: StepConfig[str] = StepConfig(offload=Offload(own_store, 10))

    def wf(event: Any, ctx: DurableContext) -> list[int]:
        first = ctx.step(lambda s: BIG, name="first")
        second = ctx.step(lambda s: BIG, name="second", config=own)
        ctx.wait(5, name="later")
        return [len(first), len(second)]

    options = ExecutionOptions(offload=Offload(store, 1000))
    execution = start(run(wf, options=options))
    assert execution.invoke()["Status"] == "PENDING"
    execution.fire_timers()
    assert execution.invoke() == {"Status": "SUCCEEDED", "Result": json.dumps([2004, 2004])}
    # Each large result went to one store: the execution's, or the step's own.
    assert len(store.objects) == 1 and len(own_store.objects) == 1
