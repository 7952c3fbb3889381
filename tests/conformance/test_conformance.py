"""Every AWS conformance requirement, run on the local service and judged by AWS's validator.

A requirement listed in ``KNOWN_GAPS`` is a strict expected failure: it must fail, for
the reason given, and the suite turns red the day it passes so the entry is removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.aws_validator import Requirement, judge, load_requirements
from tests.conformance.runner import local_service

# id -> why it cannot pass yet (the issue and point that fix it).
KNOWN_GAPS: dict[str, str] = {}


@pytest.fixture(scope="module")
def service() -> Iterator[Any]:
    with local_service() as running:
        yield running


def _param(requirement: Requirement) -> object:
    reason = KNOWN_GAPS.get(requirement.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(requirement, id=f"{requirement.suite}-{requirement.id}", marks=marks)


@pytest.mark.parametrize("requirement", [_param(r) for r in load_requirements()])
def test_requirement_on_the_local_service(requirement: Requirement, service: Any) -> None:
    verdict = judge(requirement, service)
    assert verdict.passed, f"{requirement.id} {requirement.title}:\n" + "\n".join(verdict.errors)
