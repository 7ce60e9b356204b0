"""One grade record owns every form a grade takes (`autograder.grading.record`)."""

import json

from autograder.grading.record import ExitStatus, GradeResult, PartResult, Status

PARTS = [PartResult("adapt", 2.0, 4.0, "Several steps of adapt are wrong."),
         PartResult("MLP", 3.0, 3.0, "All checks passed.")]


def graded():
    return GradeResult("maml.ipynb", 5.0, 7.0, [PartResult(**vars(p)) for p in PARTS],
                       assignment="maml", grading_key="abc")


def test_the_cli_json_holds_exactly_the_documented_fields():
    """``--json`` prints notebook, total, max_total, parts (name, score, max, feedback), error."""
    assert graded().to_json() == {
        "notebook": "maml.ipynb", "total": 5.0, "max_total": 7.0, "error": None,
        "parts": [{"name": "adapt", "score": 2.0, "max": 4.0,
                   "feedback": "Several steps of adapt are wrong."},
                  {"name": "MLP", "score": 3.0, "max": 3.0, "feedback": "All checks passed."}]}


def test_a_batch_line_is_the_cli_object_plus_where_it_came_from_and_reads_back():
    """A batch line extends the CLI's object; read back, it is the same grade, marked as such."""
    line = graded().to_batch_line("alice", "submitted/alice/maml/maml.ipynb", "f00", "v1")
    assert {k: v for k, v in line.items() if k in graded().to_json()} == {
        **graded().to_json(), "notebook": "submitted/alice/maml/maml.ipynb"}
    assert line["student"] == "alice" and line["grading_key"] == "abc"
    back = GradeResult.from_batch_line(json.loads(json.dumps(line)))
    assert back.from_batch and back.status is Status.GRADED
    assert back.parts == graded().parts and back.total == 5.0


def test_each_status_has_its_exit_status():
    """Graded 0, unreadable 2, grader failure 3 (never a zero score)."""
    assert graded().exit_status() == ExitStatus.OK
    unreadable = GradeResult.unreadable("x.ipynb", {"adapt": 4.0}, "not JSON")
    assert unreadable.exit_status() == ExitStatus.UNREADABLE and unreadable.total == 0.0
    failed = GradeResult.grader_failure("x.ipynb", {"adapt": 4.0}, "no child")
    assert failed.exit_status() == ExitStatus.GRADER_FAILED and failed.grader_failed
    assert failed.total is None and failed.parts[0].score is None


def test_gradescope_tests_carry_each_part_or_the_error():
    """One Gradescope test per part; an unreadable notebook's tests say why, scored 0."""
    assert [t["name"] for t in graded().gradescope_tests("maml.ipynb")] == [
        "adapt (maml.ipynb)", "MLP (maml.ipynb)"]
    tests = GradeResult.unreadable("x.ipynb", {"adapt": 4.0}, "not JSON").gradescope_tests("x.ipynb")
    assert tests == [{"name": "adapt (x.ipynb)", "score": 0.0, "max_score": 4.0,
                      "output": "x.ipynb: not JSON"}]


def test_the_table_shows_scores_hand_graded_points_and_a_warning():
    """The table names the notebook, its total, the hand-graded points and each part."""
    table = graded().to_table(manual_points=6.0, warning="WARNING: unsandboxed")
    lines = table.splitlines()
    assert lines[0] == "maml.ipynb: 5/7 autograded; 6 more points are graded by hand"
    assert "2/4" in lines[1] and lines[-1] == "WARNING: unsandboxed"
