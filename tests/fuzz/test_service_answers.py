"""Hostile service answers: random GetDurableExecutionState pages and checkpoint responses.

They come through ``LambdaBackend`` with a stand-in boto3 client, the path production
answers take, so malformed operations reach the same parsing code. Every outcome must
be a durable response or one of the SDK's typed errors, within a bound.
"""

from __future__ import annotations

from typing import Any

from durable_core import (
    CheckpointError,
    DurableContext,
    ExecutionOptions,
    LambdaBackend,
    MemoryBackend,
    run_invocation,
    use_backend,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.property.harness import examples

from .support import outcome
from .test_events import ARN, operations, well_formed_operations


class ScriptedClient:
    """A boto3 ``lambda`` client whose answers are scripted: pages by marker, responses in order."""

    def __init__(self, pages: dict[str, dict[str, Any]], answers: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.answers = list(answers)
        self.checkpoints = 0

    def get_durable_execution_state(self, **params: Any) -> dict[str, Any]:
        return self.pages.get(params["Marker"], {"Operations": []})

    def checkpoint_durable_execution(self, **params: Any) -> dict[str, Any]:
        self.checkpoints += 1
        if self.answers:
            return self.answers.pop(0)
        return {"CheckpointToken": f"token-{self.checkpoints}"}


markers = st.sampled_from(["m1", "m2", "m3", "m4"])
pages = st.dictionaries(
    markers,
    st.fixed_dictionaries(
        {},
        optional={
            "Operations": st.lists(operations | well_formed_operations, max_size=3),
            "NextMarker": markers | st.just("") | st.none(),
        },
    ),
    max_size=4,
)
answers = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "CheckpointToken": st.just("fresh") | st.none() | st.just(""),
            "NewExecutionState": st.fixed_dictionaries(
                {},
                optional={
                    # Malformed ones: test_a_malformed_operation_in_a_checkpoint_response...
                    "Operations": st.lists(well_formed_operations, max_size=3),
                    "NextMarker": markers,
                },
            ),
        },
    ),
    max_size=4,
)


def workflow(event: Any, ctx: DurableContext) -> str:
    ctx.step(lambda _: 1, name="a")
    ctx.run_in_child_context(lambda c: c.step(lambda _: 2, name="in"), name="kid")
    ctx.wait(5, name="w")
    return "done"


def _event(first_marker: str | None) -> dict[str, Any]:
    return {
        "DurableExecutionArn": ARN,
        "CheckpointToken": "token-0",
        "InitialExecutionState": {"Operations": [], "NextMarker": first_marker},
    }


@settings(max_examples=examples(300))
@given(pages, answers, markers | st.none())
@example({"m1": {"NextMarker": "m1"}}, [], "m1")  # a marker repeated: not an endless loop
def test_random_pages_and_checkpoint_responses_give_typed_outcomes(
    pages: dict[str, dict[str, Any]], answers: list[dict[str, Any]], first: str | None
) -> None:
    backend = LambdaBackend(client=ScriptedClient(pages, answers))
    options = ExecutionOptions(backend=backend)
    outcome("service answer", run_invocation, workflow, _event(first), None, options)


def test_a_malformed_operation_in_a_checkpoint_response_is_a_typed_error() -> None:
    answer = {"CheckpointToken": "fresh", "NewExecutionState": {"Operations": [{"Id": "x"}]}}
    client = ScriptedClient({}, [answer])
    options = ExecutionOptions(backend=LambdaBackend(client=client))
    error = outcome("service answer", run_invocation, workflow, _event(None), None, options)
    # Not dropped, not retried: the invocation ends with an error naming the API and field.
    assert isinstance(error, CheckpointError), error
    assert error.error_code == "MalformedResponse" and not error.retryable
    assert "CheckpointDurableExecution" in str(error) and "Type" in str(error)
    assert client.checkpoints == 1


def test_a_malformed_operation_in_a_state_page_is_a_typed_error() -> None:
    page = {"Operations": [{"Id": "x", "Type": "STEP", "Status": "NOT-A-STATUS"}]}
    client = ScriptedClient({"m1": page}, [])
    options = ExecutionOptions(backend=LambdaBackend(client=client))
    error = outcome("service answer", run_invocation, workflow, _event("m1"), None, options)
    assert isinstance(error, CheckpointError), error
    assert error.error_code == "MalformedResponse" and not error.retryable
    assert "GetDurableExecutionState" in str(error) and "Status" in str(error)
    assert client.checkpoints == 0  # nothing ran on a log it could not read


class TokenlessOnce(MemoryBackend):
    """The service, answering its first checkpoint without a CheckpointToken.

    AWS's SDK reads that as the token revoked mid-invocation: it stops checkpointing
    and ends the invocation PENDING (state.py ``_handle_revoked_checkpoint_token``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.revoked = False

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        response = super().checkpoint(*args, **kwargs)
        if not self.revoked:
            self.revoked = True
            return type(response)(checkpoint_token=None, operations=response.operations)
        return response


def test_a_checkpoint_response_without_a_token_ends_the_invocation_pending() -> None:
    backend = TokenlessOnce()
    event = backend.start_execution(None)

    def two_steps(event: Any, ctx: DurableContext) -> int:
        ctx.step(lambda _: 1, name="a")
        return ctx.step(lambda _: 2, name="b")

    with use_backend(backend):
        response = run_invocation(two_steps, event)
    assert response == {"Status": "PENDING"}
