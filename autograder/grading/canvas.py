"""Grades into Canvas: its gradebook import file, one row per student of the roster.

Canvas imports a CSV whose header starts with ``Student, ID, SIS User ID, SIS Login ID, Section``
(as its own gradebook export does), then one column per assignment titled ``Name (id)``, which
matches the assignment of that id; a ``Points Possible`` row may follow the header. Students are
matched by the roster's identifying columns, so the roster (Canvas's gradebook export, in its own
column order) supplies them, and nbgrader's student id is found in the roster's ``match`` column
(``SIS Login ID`` unless told otherwise).

A grade is the sum of the student's notebooks. Nothing is ever turned into a zero that looks
real: a student of the roster with no grade (nothing submitted) gets an empty cell; a student
whose notebook the grader could not grade gets an empty cell and a warning; a graded student
missing from the roster gets a warning and no row (Canvas could not match one).
"""

import csv
import pathlib
import re

from autograder.grading.class_grades import (Grade, NotBatchLines, latest_lines, points_possible,
                                             student_grades)

__all__ = ["ExportError", "Grade", "canvas_rows", "grades_from_batch", "grades_from_export",
           "points_possible", "read_roster", "write_csv"]

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it in its own export
ASSIGNMENT_TITLE = re.compile(r"^.+ \(\d+\)$")


class ExportError(Exception):
    """The inputs cannot make a valid import file; the message says what to fix."""


def grades_from_batch(path: str | pathlib.Path) -> dict[str, Grade]:
    """``{student: Grade}`` from `autograder.batch`'s lines (`class_grades.student_grades` of the
    last line of each notebook)."""
    try:
        return student_grades(latest_lines(path))
    except NotBatchLines as error:
        raise ExportError(str(error)) from None


def grades_from_export(rows: list[dict], assignment: str) -> tuple[dict[str, Grade], float]:
    """``({student: Grade}, points possible)`` from nbgrader's export with its ``status`` column
    (`nbgrader_plugin.GradeStatusCsvExport`): ``not submitted`` leaves the cell empty, ``could not
    grade`` too, with a warning."""
    grades, maximum = {}, 0.0
    for row in rows:
        if row["assignment"] != assignment:
            continue
        maximum = max(maximum, float(row["max_score"] or 0))
        if row["status"] == "graded":
            grades[row["student_id"]] = Grade(float(row["score"]))
        elif row["status"] == "could not grade":
            grades[row["student_id"]] = Grade(None, "nbgrader could not grade the submission")
    return grades, maximum


def read_roster(path: str | pathlib.Path, match: str) -> list[dict]:
    """The roster's students, in its order (its Points Possible row and blank lines dropped)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in [*CANVAS_COLUMNS, match] if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportError(f"{path} has no column {', '.join(map(repr, missing))}: export the "
                              "roster from Canvas's gradebook (Export, then Export Entire Gradebook)")
        return [row for row in reader
                if (row.get("Student") or "").strip() not in ("", "Points Possible")]


def canvas_rows(roster: list[dict], grades: dict[str, Grade], maximum: float, assignment: str,
                match: str) -> tuple[list[list[str]], list[str]]:
    """The import file's rows (header, Points Possible, one per roster student) and the warnings."""
    if not ASSIGNMENT_TITLE.match(assignment):
        raise ExportError(f"--assignment {assignment!r} is not a Canvas column title: give it as "
                          "'Name (id)', as it appears in the header of Canvas's gradebook export, so "
                          "that Canvas updates that assignment instead of creating a new one")
    rows = [CANVAS_COLUMNS + [assignment], [POINTS_POSSIBLE, "", "", "", "", _number(maximum)]]
    warnings, seen = [], set()
    if "final" in assignment.lower():
        warnings.append(f"Canvas's importer ignores a column whose title contains 'final' "
                        f"(instructure/canvas-lms#2134): rename the assignment {assignment!r} in "
                        "Canvas before importing")
    for student in roster:
        key = student[match].strip()
        grade = grades.get(key)
        seen.add(key)
        if grade is not None and grade.problem:
            warnings.append(f"{key} ({student['Student']}): left empty: {grade.problem}")
        score = "" if grade is None or grade.score is None else _number(grade.score)
        rows.append([student[c] for c in CANVAS_COLUMNS] + [score])
    for key in sorted(set(grades) - seen):
        warnings.append(f"{key}: graded, but no roster row has {match} {key!r}; not exported")
    return rows, warnings


def _number(value):
    return f"{value:g}"


def write_csv(path: str | pathlib.Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
