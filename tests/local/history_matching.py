"""Local-service tests state expected histories as the conformance requirements do.

One comparison rule for the whole repository: AWS's conformance validator's matcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.conformance.aws_validator import EventHistoryMatcher


def history_mismatches(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Every difference between the expected events and the actual history (empty: it matches)."""
    errors: list[str] = EventHistoryMatcher().match(list(expected), list(actual)).errors
    return errors
