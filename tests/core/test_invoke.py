"""ctx.invoke: CHAINED_INVOKE START, suspension, the recorded result or failure.

Expected updates follow AWS's SDK (operation/invoke.py: START with the payload in
plain JSON and ChainedInvokeOptions, subtype ``ChainedInvoke``); the FunctionName and
TenantId rules are those of boto3's service model (NamespacedFunctionName, TenantId).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from durable_closure import run
from durable_core import (
    DurableContext,
    DurableOperationError,
    ExtendedSerDes,
    InvokeConfig,
    InvokeError,
    ValidationError,
)
from durable_core._ids import operation_id
from durable_core.types import ErrorObject, OperationStatus, OperationType

from tests.driver import start


def test_invoke_starts_suspends_and_returns_the_result() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        receipt = ctx.invoke("charge-card", {"amount": 5, "items": [1, 2]}, name="charge")
        return {"receipt": receipt}

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    assert execution.updates() == [
        {
            "Id": operation_id(None, 1),
            "Name": "charge",
            "Type": "CHAINED_INVOKE",
            "SubType": "ChainedInvoke",
            "Action": "START",
            # json.dumps, as AWS's DEFAULT_JSON_SERDES writes it.
            "Payload": '{"amount": 5, "items": [1, 2]}',
            "ChainedInvokeOptions": {"FunctionName": "charge-card"},
        }
    ]
    # Still running: the next invocation suspends again and sends nothing.
    calls = execution.calls_count()
    assert execution.invoke()["Status"] == "PENDING"
    assert execution.calls_count() == calls

    op = execution.only(OperationType.CHAINED_INVOKE)
    execution.complete(op, OperationStatus.SUCCEEDED, result='{"id": "r-1"}')
    response = execution.invoke()
    assert response["Status"] == "SUCCEEDED"
    assert json.loads(response["Result"]) == {"receipt": {"id": "r-1"}}


def test_tenant_and_serdes_from_config() -> None:
    config: InvokeConfig[Any, Any] = InvokeConfig(
        payload_serdes=ExtendedSerDes(), result_serdes=ExtendedSerDes(), tenant_id="tenant-7"
    )

    def wf(event: Any, ctx: DurableContext) -> Any:
        value = ctx.invoke("fn", (1, 2), config=config)
        return list(value)

    execution = start(run(wf))
    execution.invoke()
    (update,) = execution.updates()
    assert update["ChainedInvokeOptions"] == {"FunctionName": "fn", "TenantId": "tenant-7"}
    assert json.loads(update["Payload"]) == {
        "t": "t",
        "v": [{"t": "i", "v": 1}, {"t": "i", "v": 2}],
    }
    execution.complete(
        execution.only(OperationType.CHAINED_INVOKE),
        OperationStatus.SUCCEEDED,
        result='{"t":"t","v":[{"t":"s","v":"a"}]}',
    )
    assert json.loads(execution.invoke()["Result"]) == ["a"]


def test_succeeded_without_result_returns_none() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return {"value": ctx.invoke("fn", None)}

    execution = start(run(wf))
    execution.invoke()
    assert execution.updates()[0]["Payload"] == "null"
    execution.complete(execution.only(OperationType.CHAINED_INVOKE), OperationStatus.SUCCEEDED)
    assert json.loads(execution.invoke()["Result"]) == {"value": None}


@pytest.mark.parametrize(
    "status", [OperationStatus.FAILED, OperationStatus.TIMED_OUT, OperationStatus.STOPPED]
)
def test_invoke_failure_raises_invoke_error_with_the_recorded_error(
    status: OperationStatus,
) -> None:
    caught: list[BaseException] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            return ctx.invoke("fn", {}, name="call")
        except InvokeError as exc:
            caught.append(exc)
            return "fallback"

    execution = start(run(wf))
    execution.invoke()
    error = ErrorObject(error_type="OutOfStock", error_message="none left", error_data='{"sku":1}')
    execution.complete(execution.by_name("call"), status, error=error)
    assert json.loads(execution.invoke()["Result"]) == "fallback"
    assert json.loads(execution.invoke()["Result"]) == "fallback"  # replay: same error
    assert len(caught) == 2
    for exc in caught:
        assert isinstance(exc, DurableOperationError)
        assert (exc.error_type, exc.message, exc.data) == ("OutOfStock", "none left", '{"sku":1}')


def test_unhandled_invoke_failure_fails_the_execution_with_its_message() -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.invoke("fn", {})

    execution = start(run(wf))
    execution.invoke()
    execution.complete(
        execution.only(OperationType.CHAINED_INVOKE),
        OperationStatus.FAILED,
        error=ErrorObject(error_type="Boom", error_message="target crashed"),
    )
    response = execution.invoke()
    assert response["Status"] == "FAILED"
    assert response["Error"]["ErrorMessage"] == "target crashed"


@pytest.mark.parametrize(
    "function_name",
    [
        "my-function",
        "my_function.v2",
        "my-function:prod",
        "my-function:$LATEST",
        "123456789012:function:my-function",
        "arn:aws:lambda:us-east-1:123456789012:function:my-function",
        "arn:aws:lambda:us-east-1:123456789012:function:my-function:7",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f",
        "a" * 256,
    ],
)
def test_valid_function_names_are_accepted(function_name: str) -> None:
    def wf(event: Any, ctx: DurableContext) -> Any:
        return ctx.invoke(function_name, 1)

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "PENDING"
    assert execution.updates()[0]["ChainedInvokeOptions"]["FunctionName"] == function_name


@pytest.mark.parametrize(
    "function_name",
    [
        "",
        "a" * 257,  # NamespacedFunctionName max 256
        "my function",
        "fn/with/slash",
        "arn:aws:lambda:us-east-1:123:function:f",  # the account id has 12 digits
        "fn:",
        None,
        42,
    ],
)
def test_invalid_function_names_are_rejected_before_any_checkpoint(function_name: Any) -> None:
    raised: list[BaseException] = []

    def wf(event: Any, ctx: DurableContext) -> Any:
        try:
            ctx.invoke(function_name, 1)
        except ValidationError as exc:
            raised.append(exc)
        return ctx.step(lambda s: "next", name="after")

    execution = start(run(wf))
    assert execution.invoke()["Status"] == "SUCCEEDED"
    assert len(raised) == 1
    # The rejected call took no operation id: the next operation is the first.
    assert execution.by_name("after").id == operation_id(None, 1)


@pytest.mark.parametrize("tenant_id", ["", "t" * 257, "tenant#1", "naïve"])
def test_invalid_tenant_ids_are_rejected(tenant_id: str) -> None:
    with pytest.raises(ValidationError):
        InvokeConfig(tenant_id=tenant_id)


def test_valid_tenant_id_characters() -> None:
    tenant = "a.b_c:d/e=f+g-h@i j"
    assert InvokeConfig(tenant_id=tenant).tenant_id == tenant
