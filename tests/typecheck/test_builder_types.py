"""``DurableBuilder.build()`` is typed by whether the builder has its handler (issue 14):
the Lambda handler, or a decorator that makes one. Checked by ``make typecheck``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_type

from durable_builder import DurableBuilder
from durable_core import DurableContext, DurableHandler, LambdaHandler


def workflow(event: Any, ctx: DurableContext) -> int:
    return 1


assert_type(DurableBuilder(workflow).with_tracing().build(), LambdaHandler)
assert_type(DurableBuilder().handler(workflow).build(), LambdaHandler)
assert_type(DurableBuilder().with_tracing().build(), Callable[[DurableHandler], LambdaHandler])


@DurableBuilder().with_tracing().build()
def decorated(event: Any, ctx: DurableContext) -> int:
    return 1


assert_type(decorated, LambdaHandler)
