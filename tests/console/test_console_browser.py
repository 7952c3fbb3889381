"""The console in a real browser: headless Chromium against ``durable serve``'s server.

A real workflow runs on the server's scheduler while the test watches the pages: the
list shows an execution started from its form and follows its status; the execution
page follows steps as they finish and completes the execution when its callback is
answered from the page; a step result, an input and a callback answer holding
``<script>`` and ``<img onerror>`` stay text. Expected values come from the workflow's
own code (what it returns for its input); "without a reload" is a marker set on the
page's ``window`` that a reload would wipe. Screenshots of each page are saved in the
test's temporary folder.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext
from durable_testing import LocalService
from durable_testing.http import LambdaApiServer

from tests.console.browser import Browser, Tab

PAYLOAD = "<script>window.__xss = 1</script><img src=x onerror=window.__xss=2>"


class Workflows:
    """The functions the server runs; ``packing`` holds the ``pack`` step until set."""

    def __init__(self) -> None:
        self.packing = threading.Event()

    def order(self, event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
        ctx.step(lambda _: "reserved", name="reserve")
        ctx.step(self._pack, name="pack")
        approval = ctx.wait_for_callback(lambda callback_id, _: None, name="approval")
        return {"order": event["order"], "approval": approval}

    def _pack(self, _: Any) -> str:
        assert self.packing.wait(20), "the test never let the pack step finish"
        return "packed"

    @staticmethod
    def note(event: dict[str, Any], ctx: DurableContext) -> Any:
        ctx.step(lambda _: PAYLOAD, name="<b>echo</b>")
        return ctx.wait_for_callback(lambda callback_id, _: None, name="note")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chrome = Browser(tmp_path_factory.mktemp("profile"))
    try:
        yield chrome
    finally:
        chrome.close()


@pytest.fixture
def workflows() -> Iterator[Workflows]:
    flows = Workflows()
    yield flows
    flows.packing.set()


@pytest.fixture
def server(workflows: Workflows) -> Iterator[LambdaApiServer]:
    service = LocalService()
    service.register("orders", run(workflows.order))
    service.register("notes", run(Workflows.note))
    with LambdaApiServer(service) as api_server:
        yield api_server


def _status(tab: Tab, selector: str) -> str:
    return str(tab.evaluate(f"document.querySelector({json.dumps(selector)})?.dataset.status"))


def _reloaded_since_marked(tab: Tab) -> bool:
    return not tab.evaluate("window.__marked === true")


def _pending_callback(server: LambdaApiServer, arn: str) -> str:
    callbacks = server.service.callbacks(arn)
    assert len(callbacks) == 1
    return callbacks[0].callback_id


def test_the_list_shows_an_execution_started_from_its_form_and_follows_it(
    browser: Browser, server: LambdaApiServer, workflows: Workflows, tmp_path: Path
) -> None:
    tab = browser.open(server.endpoint_url + "/")
    tab.evaluate(
        """(() => {
        const form = document.querySelector('form[data-action="start"]');
        form.FunctionName.value = 'orders';
        form.ExecutionName.value = 'o-1';
        form.Input.value = '{"order": "o-1"}';
        form.requestSubmit();
    })()"""
    )
    tab.wait_for("location.pathname.startsWith('/console/executions/')")
    (execution,) = server.service.store.list_executions()
    assert execution.function_name == "orders"
    described = server.api.get_durable_execution({"DurableExecutionArn": execution.arn})
    assert json.loads(described["InputPayload"]) == {"order": "o-1"}

    tab.go(server.endpoint_url + "/")
    row = '[data-execution="o-1"]'
    tab.wait_for(f"document.querySelector('{row}')?.dataset.status === 'RUNNING'")
    assert "orders" in tab.evaluate(f"document.querySelector('{row}').innerText")
    tab.screenshot(tmp_path / "list-running.png")
    tab.evaluate("window.__marked = true")

    workflows.packing.set()
    server.service.send_callback_success(
        _pending_callback_when_ready(server, execution.arn), {"approved": True}
    )
    tab.wait_for(f"document.querySelector('{row}')?.dataset.status === 'SUCCEEDED'")
    assert not _reloaded_since_marked(tab)
    tab.screenshot(tmp_path / "list-succeeded.png")


def _pending_callback_when_ready(server: LambdaApiServer, arn: str) -> str:
    """The execution's callback id, once the handler has created it (bounded)."""
    for _ in range(400):
        callbacks = server.service.callbacks(arn)
        if callbacks:
            return callbacks[0].callback_id
        threading.Event().wait(0.025)
    raise AssertionError(f"{arn} never created its callback")


def test_the_execution_page_follows_the_steps_and_a_callback_answered_there_completes_it(
    browser: Browser, server: LambdaApiServer, workflows: Workflows, tmp_path: Path
) -> None:
    arn = server.service.start("orders", {"order": "o-2"}, execution_name="o-2")
    tab = browser.open(server.endpoint_url + _path_of(arn))
    tab.wait_for("document.querySelector('[data-operation=\"reserve\"]')?.dataset.status")
    assert _status(tab, '[data-operation="reserve"]') == "SUCCEEDED"
    assert _status(tab, '[data-operation="pack"]') != "SUCCEEDED"
    assert _status(tab, "table.summary") == "RUNNING"
    tab.screenshot(tmp_path / "execution-packing.png")
    tab.evaluate("window.__marked = true")

    workflows.packing.set()
    tab.wait_for("document.querySelector('[data-operation=\"pack\"]')?.dataset.status")
    tab.wait_for("document.querySelector('form.callback')")
    assert _status(tab, '[data-operation="pack"]') == "SUCCEEDED"
    # Titled with the wait_for_callback's name, not its inner callback's.
    assert tab.evaluate("document.querySelector('form.callback h3').innerText") == "approval"
    tab.screenshot(tmp_path / "execution-callback.png")

    tab.evaluate(
        """(() => {
        const form = document.querySelector('form.callback');
        form.Result.value = '{"approved": true, "by": "ops"}';
        form.querySelector('button[value="succeed"]').click();
    })()"""
    )
    tab.wait_for("document.querySelector('table.summary')?.dataset.status === 'SUCCEEDED'")
    assert not _reloaded_since_marked(tab)
    shown = json.loads(tab.evaluate("document.querySelector('table.summary pre.result').innerText"))
    # A callback's result reaches the handler as the text sent (the SDK's default serdes).
    expected = {"order": "o-2", "approval": '{"approved": true, "by": "ops"}'}
    assert shown == expected
    assert server.service.describe(arn).result == expected
    assert tab.evaluate("document.querySelectorAll('form.callback').length") == 0
    assert tab.evaluate("document.querySelector('button[data-action=\"stop\"]')") is None

    tab.evaluate("document.querySelector('button[data-action=\"replay\"]').click()")
    report = tab.wait_for(
        "!document.getElementById('replay-report').hidden && "
        "document.getElementById('replay-report').innerText"
    )
    assert report.startswith("no divergence")
    tab.screenshot(tmp_path / "execution-succeeded.png")


def test_payloads_holding_markup_stay_text(
    browser: Browser, server: LambdaApiServer, tmp_path: Path
) -> None:
    arn = server.service.start("notes", {"note": PAYLOAD}, execution_name="n-1")
    tab = browser.open(server.endpoint_url + _path_of(arn))
    tab.wait_for("document.querySelector('form.callback')")
    tab.evaluate(
        f"""(() => {{
        const form = document.querySelector('form.callback');
        form.Result.value = {json.dumps(json.dumps(PAYLOAD))};
        form.querySelector('button[value="succeed"]').click();
    }})()"""
    )
    # The answer comes back through the live update, the path that swaps in new markup.
    tab.wait_for("document.querySelector('table.summary')?.dataset.status === 'SUCCEEDED'")
    assert server.service.describe(arn).result == json.dumps(PAYLOAD)
    assert tab.evaluate("window.__xss") is None
    assert tab.evaluate("document.querySelectorAll('main img, main script, main b').length") == 0
    text = tab.evaluate("document.querySelector('main').innerText")
    assert text.count(PAYLOAD) >= 3  # the input, the step's result, the execution's result
    assert "<b>echo</b>" in text
    tab.screenshot(tmp_path / "execution-markup.png")


def _path_of(arn: str) -> str:
    from urllib.parse import quote

    return "/console/executions/" + quote(arn, safe="")
