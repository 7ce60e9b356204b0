"""``python -m autograder --self-check``: does this machine give the reference solutions full marks?

Grades the instructor notebooks in ``source/maml/`` exactly as a submission is graded. Run it on
every new grading machine; the course's demo runs it before grading anyone.
"""

import os
import platform

from autograder.course_root import source_notebooks
from autograder.grade import grade_notebooks
from autograder.student_process import EXTRA_XLA_FLAGS

PASSED, FAILED, GRADER_FAILED = 0, 1, 3  # exit statuses


def machine():
    flags = os.environ.get(EXTRA_XLA_FLAGS)
    return (f"{platform.machine()}, {os.cpu_count()} cores"
            + (f", extra XLA flags {flags!r}" if flags else ""))


def run(notebooks=None):
    """Grades the reference solutions of the course in the working directory (or other
    instructor's ``notebooks``, never a student's); returns ``(exit status, one line for a
    person)``."""
    # As a student's notebooks are graded (one sandbox); trusted, so their compiled programs fill
    # the compilation cache that students' processes read.
    results = grade_notebooks(list(notebooks or source_notebooks()), fill_cache=True)
    scores = ", ".join(f"{os.path.basename(r.notebook)} "
                       + (f"{r.total:g}/{r.max_total:g}" if r.total is not None else "not graded")
                       for r in results)
    failed = next((r for r in results if r.grader_failed or r.error), None)
    if failed is not None:
        return GRADER_FAILED, (f"self-check FAILED on this machine ({machine()}): {scores}. "
                               f"{failed.error}")
    short = [f"{p.name} ({p.feedback})" for r in results for p in r.parts if p.score < p.max]
    if short:
        return FAILED, (f"self-check FAILED on this machine ({machine()}): the reference solutions "
                        f"earn {scores}; short in {'; '.join(short)}. Do not grade on this machine "
                        "until this is fixed (SECURITY.md, 'Across machines').")
    return PASSED, f"self-check passed on this machine ({machine()}): the reference solutions earn {scores}."
