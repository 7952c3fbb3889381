"""Build the ``OperationUpdate`` an operation sends, from its call identity."""

from __future__ import annotations

from typing import Any

from durable_core._replay import OperationCall
from durable_core.types import OperationAction, OperationUpdate


def update_for(call: OperationCall, action: OperationAction, **fields: Any) -> OperationUpdate:
    return OperationUpdate(
        id=call.id,
        parent_id=call.parent_id,
        name=call.name,
        type=call.type,
        sub_type=call.sub_type,
        action=action,
        **fields,
    )
