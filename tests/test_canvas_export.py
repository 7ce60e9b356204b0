"""`python -m autograder.export canvas`: Canvas's gradebook import file from a graded class, with
the roster as Canvas exports it; no grader failure becomes a zero, and no graded student is lost
in silence."""

import csv
import json
import pathlib
import tempfile

import pytest

from autograder import export
from autograder.grading import canvas
from autograder.grading.record import GradeResult, PartResult, skipped_line, worker_failure_line

ASSIGNMENT = "MAML (4242)"
# Canvas's own gradebook export: its column order (with an Integration ID column, another
# assignment and its read-only score columns), a Points Possible row, its test student, names
# with a comma and a quote.
ROSTER = '''Student,ID,SIS User ID,SIS Login ID,Integration ID,Section,Homework 1 (101),Current Score,Final Score
    Points Possible,,,,,,10.00,(read only),(read only)
"Lovelace, Ada",11,s11,alice,,Section A,9.00,90.00,90.00
"Babbage, Charles ""Chuck""",12,s12,bob,,Section A,8.00,80.00,80.00
"Herschel, Caroline",13,s13,carol,,Section B,,,
"Somerville, Mary",14,s14,dave,,Section B,7.00,70.00,70.00
"Boole, Frank",15,s15,frank,,Section B,6.00,60.00,60.00
"Student, Test",16,,test_student,,Section A,,,
'''


def graded(student, notebook, total):
    result = GradeResult(notebook=f"{notebook}.ipynb", total=total, max_total=20.0,
                         parts=[PartResult("adapt", total, 20.0, "")])
    return result.to_batch_line(student, f"submitted/{student}/maml/{notebook}.ipynb", "0" * 64, "v")


def batch_lines():
    """alice: both notebooks; bob: the grader failed on part 2; carol: nothing; dave: only a
    link; erin: graded but not in the roster; frank: part 1 only, graded twice (the last line
    counts)."""
    failure = GradeResult.grader_failure("beyond_maml.ipynb", {"reptile_update": 4.0}, "no sandbox")
    return [graded("alice", "maml", 18.5), graded("alice", "beyond_maml", 10.0),
            graded("bob", "maml", 12.0),
            failure.to_batch_line("bob", "submitted/bob/maml/beyond_maml.ipynb", "1" * 64, "v"),
            skipped_line("dave", "submitted/dave/maml/maml.ipynb", "a symbolic link", "2" * 64, "v"),
            graded("erin", "maml", 20.0),
            graded("frank", "maml", 3.0), graded("frank", "maml", 7.25)]


@pytest.fixture
def exported(tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    grades = tmp_path / "batch_grades.jsonl"
    grades.write_text("".join(json.dumps(line) + "\n" for line in batch_lines()) + '{"cut off',
                      encoding="utf-8")
    out = tmp_path / "canvas.csv"
    status = export.main(["canvas", "--roster", str(roster), "--grades", str(grades),
                          "--assignment", ASSIGNMENT, "--out", str(out)])
    with open(out, newline="", encoding="utf-8") as f:
        return status, list(csv.reader(f)), capsys.readouterr().err


def test_the_header_follows_the_importer_s_rules(exported):
    """The header is Student, ID, SIS User ID, SIS Login ID, Section, then the assignment's
    'Name (id)' title; the second row is Points Possible with the assignment's autograded
    points in its column and nothing in the identity columns."""
    status, rows, _ = exported
    assert status == 0
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert rows[1] == [canvas.POINTS_POSSIBLE, "", "", "", "", "30"]
    assert rows[1][0].strip() == "Points Possible"
    assert all(len(row) == len(rows[0]) for row in rows)


def test_each_roster_student_gets_one_row_in_roster_order_with_their_sum(exported):
    """Students keep Canvas's identities (names with commas and quotes intact); the score is the
    sum of their notebooks; the roster's other columns are not carried over."""
    _, rows, _ = exported
    by_login = {row[3]: row for row in rows[2:]}
    assert [row[3] for row in rows[2:]] == ["alice", "bob", "carol", "dave", "frank", "test_student"]
    assert by_login["alice"] == ["Lovelace, Ada", "11", "s11", "alice", "Section A", "28.5"]
    assert by_login["bob"][0] == 'Babbage, Charles "Chuck"'
    assert by_login["frank"][-1] == "7.25"  # the last line of a notebook graded twice


def test_no_grade_and_grader_failures_are_empty_cells_never_zero(exported):
    """carol (nothing submitted) and the test student get an empty cell; bob (the grader failed
    on one notebook) and dave (only a link) get an empty cell and a warning."""
    _, rows, err = exported
    by_login = {row[3]: row[-1] for row in rows[2:]}
    assert by_login["carol"] == by_login["test_student"] == ""
    assert by_login["bob"] == "" and "bob (Babbage" in err and "the grader failed on beyond_maml.ipynb" in err
    assert by_login["dave"] == "" and "dave (Somerville, Mary): left empty: nothing gradable" in err
    assert "carol" not in err


def test_a_graded_student_missing_from_the_roster_is_reported(exported):
    """erin was graded but has no roster row: a warning names her; she is not silently dropped."""
    _, rows, err = exported
    assert "erin" not in {row[3] for row in rows}
    assert "warning: erin: graded, but no roster row has SIS Login ID 'erin'" in err


def test_students_can_be_matched_by_another_roster_column(tmp_path):
    """With --match 'SIS User ID', nbgrader's ids are looked up in that column."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    rows, warnings = canvas.canvas_rows(canvas.read_roster(roster, "SIS User ID"),
                                        {"s12": canvas.Grade(4.0)}, 30.0, ASSIGNMENT, "SIS User ID")
    assert [r[-1] for r in rows[2:]] == ["", "4", "", "", "", ""] and not warnings


@pytest.mark.parametrize("title", ["MAML", "MAML (abc)", "(4242)"])
def test_an_assignment_title_without_canvas_s_id_is_refused(tmp_path, title, capsys):
    """A title Canvas would not match to an existing assignment stops the export (exit 2) with
    what to give instead, and writes nothing."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    grades = tmp_path / "g.jsonl"
    grades.write_text("", encoding="utf-8")
    out = tmp_path / "canvas.csv"
    assert export.main(["canvas", "--roster", str(roster), "--grades", str(grades),
                        "--assignment", title, "--out", str(out)]) == 2
    assert "Name (id)" in capsys.readouterr().err and not out.exists()


def test_a_roster_that_is_not_canvas_s_is_refused(tmp_path, capsys):
    """A roster without Canvas's identity columns (here nbgrader's own export) is refused."""
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,first_name,last_name\nalice,Ada,Lovelace\n", encoding="utf-8")
    grades = tmp_path / "g.jsonl"
    grades.write_text("", encoding="utf-8")
    assert export.main(["canvas", "--roster", str(roster), "--grades", str(grades),
                        "--assignment", ASSIGNMENT, "--out", str(tmp_path / "c.csv")]) == 2
    assert "has no column 'Student'" in capsys.readouterr().err


def test_a_worker_failure_line_is_a_grader_failure():
    """A notebook whose worker process died is the grader's failure: empty, with a warning."""
    line = worker_failure_line("gus", "submitted/gus/maml/maml.ipynb", RuntimeError("killed"),
                               "3" * 64, "v")
    rows, warnings = canvas.canvas_rows(
        [{"Student": "G", "ID": "1", "SIS User ID": "", "SIS Login ID": "gus", "Section": ""}],
        _grades_of([line]), 30.0, ASSIGNMENT, "SIS Login ID")
    assert rows[2][-1] == "" and "the grader failed on maml.ipynb" in warnings[0]


def test_nbgrader_s_export_statuses_map_to_cells():
    """From the gradebook: graded gives its score, not submitted an empty cell, could not grade an
    empty cell with a warning; the points possible are nbgrader's maximum."""
    rows = [{"assignment": "maml", "student_id": "a", "status": "graded", "score": "31.5",
             "max_score": "40"},
            {"assignment": "maml", "student_id": "b", "status": "not submitted", "score": "0",
             "max_score": "40"},
            {"assignment": "maml", "student_id": "c", "status": "could not grade", "score": "",
             "max_score": "40"},
            {"assignment": "other", "student_id": "a", "status": "graded", "score": "1",
             "max_score": "1"}]
    grades, maximum = canvas.grades_from_export(rows, "maml")
    assert maximum == 40.0
    assert grades["a"] == canvas.Grade(31.5) and "b" not in grades
    assert grades["c"].score is None and grades["c"].problem


def _grades_of(lines):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "g.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        return canvas.grades_from_batch(path)


def test_a_title_canvas_would_ignore_is_warned_about(tmp_path):
    """Canvas's importer skips columns whose title contains 'final' (instructure/canvas-lms#2134):
    the export warns before the instructor uploads a file that would change nothing."""
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    _, warnings = canvas.canvas_rows(canvas.read_roster(roster, "SIS Login ID"), {}, 30.0,
                                     "MAML final project (77)", "SIS Login ID")
    assert any("canvas-lms#2134" in w for w in warnings)
    _, warnings = canvas.canvas_rows(canvas.read_roster(roster, "SIS Login ID"), {}, 30.0,
                                     ASSIGNMENT, "SIS Login ID")
    assert warnings == []
