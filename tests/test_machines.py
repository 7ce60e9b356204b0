"""Grades that hold on every CPU: the graders with XLA limited to older instruction sets.

XLA picks its kernels by instruction set (AVX-512, AVX2, SSE4.2), which changes the order of float
operations; `--xla_cpu_max_isa` makes this machine compute as an older CPU does. Correct code must
keep full marks, and wrong code must keep losing points, whatever the CPU.
"""

import pytest
from bank import ALTERNATIVES, SOLUTIONS, WRONG

OLDER_CPUS = ["AVX2", "SSE4_2"]
# The solutions on both; the alternatives on SSE4.2 only, the farthest from this AVX-512 machine
# (benchmarks/tolerance_margins.py measures every one on every instruction set).
CORRECT_ON_OLDER_CPUS = ([v.on_isa(isa) for isa in OLDER_CPUS for v in SOLUTIONS]
                         + [v.on_isa("SSE4_2") for v in ALTERNATIVES])
# Correct code stays this far inside each tolerance on every CPU tried (native AVX-512, AVX2,
# SSE4.2, one thread: benchmarks/tolerance_margins.py); a smaller margin needs a new measurement.
SAFETY = 0.25


@pytest.mark.parametrize("variant", CORRECT_ON_OLDER_CPUS, ids=lambda v: v.name)
def test_correct_code_earns_full_marks_on_older_cpus(grade_variant, variant):
    """The solutions (AVX2 and SSE4.2), the alternatives and float32 code (SSE4.2) earn every point
    with XLA limited to an older instruction set, each comparison within a quarter of its
    tolerance."""
    result = grade_variant(variant)
    assert result.total == result.max_total, [p for p in result.parts if p.score < p.max]
    for case in result.cases:
        assert max(case.margins, default=0.0) <= SAFETY, (case.name, case.margins)


# Wrong code is graded in its own part only: the other parts hold the solution's cells, which
# the tests above grade on both instruction sets.
@pytest.mark.parametrize("variant", [v.on_isa("SSE4_2", own_part_only=True) for v in WRONG],
                         ids=lambda v: v.name)
def test_wrong_code_loses_points_on_an_older_cpu(grade_variant, variant):
    """Every wrong implementation still loses points in its part on SSE4.2."""
    result = grade_variant(variant)
    assert result.error is None
    part = result.part(variant.part)
    assert part.score < part.max and part.feedback != "All checks passed.", variant.name
