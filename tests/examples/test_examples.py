"""Every deployable example runs to completion on the local service, and the SAM
template declares each of them as a durable function.

Expected results are arithmetic on the inputs given here (prices, usage, row counts).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from durable_testing.runner import DurableTestRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEPLOYABLE = ("closure_order", "decorator_signup", "class_invoice", "builder_report")


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_closure_order() -> None:
    result = DurableTestRunner(load("closure_order").handler).run(
        {"order_id": "o-1", "items": [1250, 800]}
    )
    assert result.status == "SUCCEEDED"
    assert result.result == {
        "order_id": "o-1",
        "cents": 2050,
        "charge": "ch_o-1_2050",
        "tracking": "1Z-parcel-o-1",
    }
    assert [c.name for c in result.operation("ship").children] == ["pack", "label"]


def test_decorator_signup_waits_for_the_confirmation_callback() -> None:
    runner = DurableTestRunner(load("decorator_signup").handler)
    waiting = runner.start({"email": "ana@example.com"})
    assert waiting.status == "RUNNING"
    callback_id = waiting.operation("confirm-email").callback_id
    assert callback_id
    assert waiting.operation("ask").result == f"confirm/{callback_id}:ana@example.com"
    runner.send_callback_success(callback_id, {"confirmed": True})
    done = runner.wait()
    assert done.result == {"account": "acct-ana", "status": "active"}
    assert done.operation("tips").status == "SUCCEEDED"


def test_class_invoice_reminds_weekly_until_paid() -> None:
    result = DurableTestRunner(load("class_invoice").handler).run(
        {"customer": "c-9", "usage": {"api": 1200, "storage": 300}}
    )
    # 1200 * 2 + 300 * 10 cents; paid after the second reminder
    assert result.result == {"invoice": "INV-c-9-5400", "total_cents": 5400, "reminders": 2}


def test_builder_report_fetches_in_parallel() -> None:
    result = DurableTestRunner(load("builder_report").handler).run({"day": "2026-11-27"})
    # fetch(): len(source) * 100 + day of month
    counts = {"orders": 627, "refunds": 727, "signups": 727}
    assert result.result == {
        "day": "2026-11-27",
        "counts": counts,
        "url": "s3://reports/2026-11-27.json",
    }


def test_the_sam_template_declares_every_example_as_a_durable_function() -> None:
    template = (EXAMPLES / "template.yaml").read_text()
    functions = re.findall(
        r"Handler: (\w+)\.(\w+)\n\s+DurableConfig:\n\s+ExecutionTimeout: (\d+)", template
    )
    assert sorted(module for module, _, _ in functions) == sorted(DEPLOYABLE)
    for module, attr, timeout in functions:
        assert callable(getattr(load(module), attr))
        assert 1 <= int(timeout) <= 31_622_400  # DurableConfig.ExecutionTimeout's bounds
