"""nbgrader end to end: generate, submit three students, autograde, feedback, export."""

import pytest
import submissions

from autograder import course
from autograder.grade import grade_notebook

# Bob's three bugs cost exactly these checks (points declared in autograder/graders/).
EXPECTED = {
    "alice": {"inner_step_objective": 2, "MLP": 3, "square_error_loss": 2, "adapt": 4,
              "adaptation_loss": 3, "batched_meta_loss": 3, "make_meta_train_step": 3},
    "bob": {"inner_step_objective": 2, "MLP": 1.5, "square_error_loss": 2, "adapt": 0.5,
            "adaptation_loss": 3, "batched_meta_loss": 0.5, "make_meta_train_step": 3},
    "carol": {name: 0 for name in submissions.GRADED_NAMES},
}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = course.copy_course(tmp_path_factory.mktemp("course"))
    rows = course.grade_class(root, course.example_students())
    return root, rows


def test_bundled_examples_are_current():
    """examples/ is the current release answered as tests/submissions.py says."""
    for student, notebook in submissions.example_notebooks().items():
        assert submissions.load(course.EXAMPLES / f"{student}.ipynb") == notebook, (
            "examples/ is stale: run `python tests/submissions.py --update-goldens`")


def test_gradebook_scores_are_exactly_as_expected(graded_class):
    """Each student's autograded points per part are exactly the expected ones."""
    root, _ = graded_class
    for student, expected in EXPECTED.items():
        assert course.part_scores(root, student) == expected, student


def test_gradebook_equals_the_command_line_grader(graded_class):
    """nbgrader's points equal `python -m autograder` on the same submitted notebook."""
    root, _ = graded_class
    for student, notebook in course.example_students().items():
        cli = {p.name: p.score for p in grade_notebook(notebook).parts}
        assert course.part_scores(root, student) == cli, student


def test_export_and_feedback(graded_class):
    """The CSV export has every student's total, and each gets an HTML feedback file."""
    root, rows = graded_class
    scores = {row["student_id"]: float(row["raw_score"]) for row in rows}
    assert scores == {s: float(sum(parts.values())) for s, parts in EXPECTED.items()}
    for student in EXPECTED:
        html = (root / "feedback" / student / "maml" / "maml.html").read_text(encoding="utf-8")
        assert "Grader:" in html
        assert "BEGIN SOLUTION" not in html and "grading_case" not in html
