"""Grading the instructor's notebooks: the self-check (``python -m autograder --self-check``: does
this machine give the reference solutions full marks?) and recording the parts' reference values
(``python -m autograder.reference --update-goldens``).

Both grade the instructor notebooks in ``source/maml/`` exactly as a submission is graded. Run
the self-check on every new grading machine; the course's demo runs it before grading anyone.
"""

import json
import os
import pathlib
import platform

from autograder import parts
from autograder.grading.course_root import source_notebooks
from autograder.grading.grade import grade_notebooks
from autograder.grading.record import ExitStatus
from autograder.isolation.student_process import EXTRA_XLA_FLAGS


def machine() -> str:
    flags = os.environ.get(EXTRA_XLA_FLAGS)
    return (f"{platform.machine()}, {os.cpu_count()} cores"
            + (f", extra XLA flags {flags!r}" if flags else ""))


def run(notebooks: list | None = None) -> tuple[ExitStatus, str]:
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
        return ExitStatus.GRADER_FAILED, (f"self-check FAILED on this machine ({machine()}): "
                                          f"{scores}. {failed.error}")
    short = [f"{p.name} ({p.feedback})" for r in results for p in r.parts if p.score < p.max]
    if short:
        return ExitStatus.SELF_CHECK_FAILED, (
            f"self-check FAILED on this machine ({machine()}): the reference solutions earn "
            f"{scores}; short in {'; '.join(short)}. Do not grade on this machine until this is "
            "fixed (SECURITY.md, 'Across machines').")
    return ExitStatus.OK, (f"self-check passed on this machine ({machine()}): the reference "
                           f"solutions earn {scores}.")


def record_reference_values(notebooks: list[pathlib.Path] | None = None) -> tuple[list, dict]:
    """Grades the instructor notebooks (default: the course's in the working directory) with
    recording on, then writes each part's ``reference.json``; returns ``(results, {part:
    values})``."""
    recorded = {}
    results = grade_notebooks(notebooks or source_notebooks(), recorded=recorded)
    for name, values in sorted(recorded.items()):
        parts.get(name).reference_file.write_text(json.dumps(values, indent=1) + "\n",
                                                  encoding="utf-8")
    return results, recorded
