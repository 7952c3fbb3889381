"""Local-service tests state expected histories as the conformance requirements do.

One comparison rule for the whole repository: the conformance suite's matcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.conformance.matching import Bindings, match_history


def history_mismatches(
    expected: Sequence[Mapping[str, Any]], actual: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Every difference between the expected events and the actual history (empty: it matches)."""
    return match_history(expected, actual, Bindings())
