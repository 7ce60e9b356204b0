"""A graded class read back from `autograder.batch`'s JSON lines: the last line of each notebook,
what became of it, and each student's grade (what the Canvas export and the class report share).
"""

import dataclasses
import json
import pathlib

from autograder import parts
from autograder.grading.grade import max_points
from autograder.grading.record import Status


class NotBatchLines(ValueError):
    """The file is not `autograder.batch`'s output; the message says where."""


@dataclasses.dataclass
class Grade:
    """One student's grade: ``score`` None means there is none to give; ``problem`` says why."""

    score: float | None
    problem: str | None = None


def points_possible() -> float:
    """The autograded points of every notebook of the assignment."""
    return round(sum(sum(max_points(parts.of_notebook(n)).values()) for n in parts.NOTEBOOKS), 6)


def latest_lines(path: str | pathlib.Path) -> list[dict]:
    """The last line of each notebook (a regrade appends or replaces), by student then path; a
    last line cut off by a crash is ignored (that notebook is graded again by the next run).

    Raises:
      NotBatchLines: a complete line that `autograder.batch` did not write.
    """
    latest = {}
    text = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(text, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(text):
                continue  # cut off by a crash
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("student"), str):
            raise NotBatchLines(f"{path}, line {number}: not a line of `python -m autograder.batch`")
        latest[record["student"], str(record.get("path"))] = record
    return [latest[key] for key in sorted(latest)]


def line_status(line: dict) -> Status:
    """What became of the notebook of a batch line."""
    if line.get("skipped"):
        return Status.SKIPPED
    if line.get("grader_failed") or line.get("total") is None:
        return Status.GRADER_FAILED
    return Status.UNREADABLE if line.get("error") else Status.GRADED


def student_grades(lines: list[dict]) -> dict[str, Grade]:
    """``{student: Grade}``: the sum of the student's notebooks, a notebook not submitted counting
    0 as in nbgrader; None, with the reason, if the grader failed on one of them or nothing
    gradable was submitted. An unreadable notebook counts what the grader gave it (the student's
    file, not the grader, is at fault); a reported, never-opened file (a link, an extra notebook)
    counts nothing."""
    totals, failed, skipped = {}, {}, {}
    for line in lines:
        student, name = line["student"], pathlib.Path(line.get("path") or "?").name
        status = line_status(line)
        if status is Status.SKIPPED:
            skipped.setdefault(student, []).append(f"{name}: {line.get('error')}")
        elif status is Status.GRADER_FAILED:
            failed.setdefault(student, []).append(name)
        else:
            totals[student] = round(totals.get(student, 0.0) + line["total"], 6)
    grades = {}
    for student in sorted({*totals, *failed, *skipped}):
        if student in failed:
            grades[student] = Grade(None, f"the grader failed on {', '.join(failed[student])}; "
                                          "grade it again")
        elif student in totals:
            grades[student] = Grade(totals[student])
        else:
            grades[student] = Grade(None, "nothing gradable was submitted (" + "; ".join(
                skipped[student]) + ")")
    return grades
