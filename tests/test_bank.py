"""The graders against realistic wrong and alternative implementations."""

import pytest
import submissions
from bank import ALTERNATIVES, BROKEN, WRONG

from autograder.grading.grade import ALL_PARTS, _declared_cases


@pytest.mark.parametrize("variant", WRONG, ids=lambda v: v.name)
def test_wrong_implementation_loses_points_in_its_own_part(grade_variant, variant):
    """A bug costs points in the part it is in, and nowhere else."""
    submissions.assert_costs_only_its_part(grade_variant(variant), variant)


@pytest.mark.parametrize("variant", BROKEN, ids=lambda v: v.name)
def test_crash_hang_or_missing_code_costs_only_its_own_part(grade_variant, variant):
    """A part that hangs, kills its process, is missing or does not parse scores 0; others full."""
    result = grade_variant(variant)
    assert result.error is None
    for part in result.parts:
        expected = 0.0 if part.name == variant.part else part.max
        assert part.score == expected, (part.name, part.feedback)
    assert result.part(variant.part).feedback != "All checks passed."


@pytest.mark.parametrize("variant", ALTERNATIVES, ids=lambda v: v.name)
def test_alternative_correct_code_earns_full_marks(grade_variant, variant):
    """Other layer names, nn.Sequential, optax inner loops, fori_loop, Python loops, hand-written
    conjugate gradient: all correct."""
    result = grade_variant(variant)
    assert result.total == result.max_total, [p for p in result.parts if p.score < p.max]


def test_every_check_fails_on_some_wrong_implementation(grade_variant):
    """No grader check is vacuous: each one is failed by at least one wrong implementation."""
    assert len(WRONG) >= 15
    failed = {(c.part, c.name) for v in WRONG for c in grade_variant(v).cases if not c.passed}
    declared = {(c.part, c.name) for c in _declared_cases(ALL_PARTS)}
    assert declared - failed == set()
