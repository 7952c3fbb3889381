"""Fuzz tests share the property suite's hypothesis profiles and its no-sleep backoff."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.property.harness import BackoffSleeps, patched_backoff, report_stats


@pytest.fixture(autouse=True, scope="module")
def backoff() -> Iterator[BackoffSleeps]:
    yield from patched_backoff()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Counts of what was injected, with -v: quiet runs end on pytest's own summary line.
    if terminalreporter.verbosity >= 0:  # -q is the default (addopts); -v brings it to 0
        report_stats(terminalreporter)
