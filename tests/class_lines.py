"""A class's batch lines, generated: real `GradeResult`s of the declared checks with seeded
outcomes, as `autograder.batch` writes them (for the report's tests and benchmark)."""

import random

from autograder import parts
from autograder.grading.grade import _declared_cases, summarize
from autograder.grading.record import GradeResult

DIAGNOSIS = "the gradient of the loss at the adapted parameters, not through the inner steps"


def graded_line(student, notebook, failed=(), seconds=10.0, diagnosed=()):
    """The batch line of ``student``'s ``notebook`` graded with the checks named in ``failed``
    (``"part/check"``) failing; those in ``diagnosed`` matched a known mistake."""
    own = parts.of_notebook(notebook)
    cases = _declared_cases(own)
    for case in cases:
        key = f"{case.part}/{case.name}"
        case.passed = key not in failed
        case.diagnosis = DIAGNOSIS if key in diagnosed else None
    result = summarize(f"{notebook}.ipynb", own, cases)
    result.assignment, result.seconds = notebook, seconds
    return result.to_batch_line(student, path(student, notebook), "0" * 64, "v1")


def path(student, notebook):
    return f"submitted/{student}/maml/{notebook}.ipynb"


def random_class(students, seed=0, failure_rate=0.15):
    """Every student's two notebooks, each check failing with probability ``failure_rate``."""
    rng = random.Random(seed)
    checks = {n: [f"{c.part}/{c.name}" for c in _declared_cases(parts.of_notebook(n))]
              for n in parts.NOTEBOOKS}
    lines = []
    for number in range(students):
        student = f"student{number:04d}"
        for notebook in parts.NOTEBOOKS:
            failed = {c for c in checks[notebook] if rng.random() < failure_rate}
            diagnosed = {c for c in failed if rng.random() < 0.3}
            lines.append(graded_line(student, notebook, failed, round(rng.uniform(5, 30), 3),
                                     diagnosed))
    return lines


def failure_line(student, notebook):
    """The batch line of a notebook the grader failed on."""
    return GradeResult.grader_failure(path(student, notebook), {"MLP": 3.0}, "no memory").to_batch_line(
        student, path(student, notebook), "1" * 64, "v1")


def unreadable_line(student, notebook):
    """The batch line of a file that is not a notebook (0 points, with the reason)."""
    return GradeResult.unreadable(path(student, notebook), {"MLP": 3.0}, "not JSON").to_batch_line(
        student, path(student, notebook), "2" * 64, "v1")
