"""Scores do not depend on the machine's load: the same submission, graded five times in a row
while every core is oversubscribed, earns the same points in every check."""

import os
import subprocess
import sys

import pytest
import submissions

from autograder.grading.grade import grade_notebook

BUSY_PER_CORE = 3  # 4 runnable processes per core with the grader: it slows down ~1.6x here


@pytest.fixture
def loaded_machine():
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(BUSY_PER_CORE * (os.cpu_count() or 1))]
    yield
    for process in busy:
        process.kill()
        process.wait()


def outcome(result):
    """Every check's part, name, points, verdict, feedback and error, and the total."""
    return [(c.part, c.name, c.points, c.passed, c.feedback, str(c.student_error))
            for c in result.cases], result.total


def test_same_score_five_times_under_load(loaded_machine):
    """bob (three bugs, so passing and failing checks) gets identical results five times."""
    notebook = submissions.EXAMPLES_DIR / "bob" / "maml.ipynb"
    outcomes = [outcome(grade_notebook(notebook)) for _ in range(5)]
    assert outcomes[0][1] == 12.5
    assert all(o == outcomes[0] for o in outcomes[1:])
