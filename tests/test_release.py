"""The student release: current, free of solutions and hidden tests, and worth 0 when blank."""

import filecmp
import json

import pytest
import submissions

from autograder.grading import nbgrader_course as course
from autograder.grading.grade import ASSIGNMENT_PARTS, MANUAL_POINTS, grade_notebook

VOLATILE_METADATA = ("execution",)  # per-cell timing that nbgrader may add


def normalized(notebook):
    for cell in notebook["cells"]:
        for key in VOLATILE_METADATA:
            cell.get("metadata", {}).pop(key, None)
        cell.pop("id", None)
    return notebook


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    root = course.copy_course(submissions.ROOT, tmp_path_factory.mktemp("course"))
    course.nbgrader(root, "generate_assignment", course.ASSIGNMENT, "--force")
    return root / "release" / course.ASSIGNMENT


def test_release_matches_regeneration_from_source(regenerated):
    """`nbgrader generate_assignment` on source/ reproduces the committed release/ exactly."""
    assert sorted(p.name for p in regenerated.glob("*.ipynb")) == sorted(
        f"{name}.ipynb" for name in submissions.NOTEBOOKS)
    for name in submissions.NOTEBOOKS:
        committed = normalized(submissions.load(submissions.release_path(name)))
        fresh = normalized(submissions.load(regenerated / f"{name}.ipynb"))
        assert fresh == committed, "release/ is stale: run `nbgrader generate_assignment maml --force`"
    helpers = submissions.RELEASE.parent / "maml_helpers"
    comparison = filecmp.dircmp(regenerated / "maml_helpers", helpers, ignore=["__pycache__"])
    assert not (comparison.diff_files or comparison.left_only or comparison.right_only)


def solution_lines(name):
    """Every substantive line the instructor wrote between BEGIN and END SOLUTION."""
    lines = set()
    for cell in submissions.load(submissions.source_path(name))["cells"]:
        inside = False
        for line in submissions.cell_source(cell).splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                lines.add(line.strip())
    return lines


@pytest.mark.parametrize("name", submissions.NOTEBOOKS)
def test_release_contains_no_solution_rubric_or_grader_code(name):
    """No solution line in a code cell, and no rubric, marker or grader text, in the release.

    (The teaching text may show an API call as a hint, so markdown is checked for markers only.)
    """
    text = submissions.release_path(name).read_text(encoding="utf-8")
    release_lines = {line.strip() for cell in json.loads(text)["cells"] if cell["cell_type"] == "code"
                     for line in submissions.cell_source(cell).splitlines()}
    leaked = solution_lines(name) & release_lines
    assert solution_lines(name), "the source notebook should have solutions"
    assert not leaked, leaked
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "Rubric", "autograder",
                   "probes", "reference.json", "grading_case"):
        assert marker not in text, marker


@pytest.mark.parametrize("name", submissions.NOTEBOOKS)
def test_blank_release_scores_zero_without_crashing(name):
    """The release as handed out earns 0 in every part, each with a message, and no error."""
    result = grade_notebook(submissions.release_path(name))
    assert result.error is None
    assert result.max_total == {"maml": 20, "beyond_maml": 10}[name]
    assert [(p.name, p.score) for p in result.parts] == [(part, 0.0) for part in ASSIGNMENT_PARTS[name]]
    assert all(p.feedback == f"{p.name}: Not implemented yet." for p in result.parts)


@pytest.mark.parametrize("name", submissions.NOTEBOOKS)
def test_hand_graded_points_match_the_notebook(name):
    """The CLI's "more points are graded by hand" is the sum of the notebook's manual cells."""
    cells = submissions.load(submissions.source_path(name))["cells"]
    manual = sum(float(c["metadata"]["nbgrader"].get("points", 0)) for c in cells
                 if c["metadata"].get("nbgrader", {}).get("grade")
                 and c["metadata"]["nbgrader"].get("solution"))
    assert manual == MANUAL_POINTS[name] > 0
