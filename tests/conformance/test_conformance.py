"""Every AWS conformance requirement, run on the local service and compared with its YAML.

A requirement listed in ``KNOWN_GAPS`` is a strict expected failure: it must fail, for
the reason given, and the suite turns red the day it passes so the entry is removed.
"""

from __future__ import annotations

import pytest

from tests.conformance.runner import KNOWN_GAPS, Requirement, load_requirements, run_requirement


def _param(requirement: Requirement) -> object:
    reason = KNOWN_GAPS.get(requirement.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(requirement, id=f"{requirement.suite}-{requirement.id}", marks=marks)


@pytest.mark.parametrize("requirement", [_param(r) for r in load_requirements()])
def test_requirement(requirement: Requirement) -> None:
    outcome = run_requirement(requirement)
    assert outcome.passed, f"{requirement.id} {requirement.title}:\n" + "\n".join(outcome.problems)
