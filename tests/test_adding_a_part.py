"""Adding a graded part is one folder and one notebook cell (docs/adding-a-part.md), end to end.

In a copy of the course (its grader included) this adds `weighted_square_error_loss` as a
solution cell and its test cell in `source/`, and its part folder in `autograder/parts/`, and
edits nothing else. nbgrader then releases it, and the CLI and `nbgrader autograde` grade it: a
correct submission earns the new point, one that ignores the weights does not, and every other
part is graded as before.
"""

import json
import shutil
import subprocess
import sys

import pytest
import submissions

from autograder.grading import nbgrader_course as course

PART = "weighted_square_error_loss"
SOLUTION = '''def weighted_square_error_loss(model):
    """Returns loss(params, x, y, w) = sum_i w_i (model.apply(params, x)_i - y_i)^2 / sum_i w_i."""
    ### BEGIN SOLUTION
    def loss(params, x, y, w):
        return jnp.sum(w * (model.apply(params, x)[:, 0] - y[:, 0]) ** 2) / jnp.sum(w)

    return loss
    ### END SOLUTION'''
WRONG = '''def weighted_square_error_loss(model):
    def loss(params, x, y, w):
        return jnp.mean((model.apply(params, x) - y) ** 2)

    return loss'''
TEST_CELL = '''"""Checks that equal weights give the plain mean square error."""
print("weighted_square_error_loss: visible checks passed")'''
# The part's folder, as docs/adding-a-part.md describes it.
FOLDER = {
    "__init__.py": '''"""`weighted_square_error_loss(model)`: the weighted mean of squared errors."""

NOTEBOOK, ORDER = "maml", 8
''',
    "probes.py": '''"""Probes of `weighted_square_error_loss` (run in the sandboxed child)."""

import jax
from flax import linen as nn

from inside_sandbox.probing import floats, probe, scalar, student


@probe
def weighted_loss_linear(namespace, kernel, bias, x, y, w):
    loss = student(namespace, "weighted_square_error_loss")(nn.Dense(1))
    params = {"params": {"kernel": floats(kernel), "bias": floats(bias)}}
    return scalar(jax.jit(loss)(params, floats(x), floats(y), floats(w)))
''',
    "checks.py": '''"""`weighted_square_error_loss(model)`: against the weighted mean computed here."""

import numpy as np

from autograder.parts.checking import case

RTOL, ATOL = 1e-5, 1e-6  # four float32 products and a sum: error below 1e-6


@case(points=1.0, feedback="The loss must be sum_i w_i (f(x_i) - y_i)^2 / sum_i w_i.")
def test_weighted_mean_on_a_linear_model(student, compare):
    """On y_hat = 2 x + 1 with weights 1, 2, 3, 4 the loss is the weighted mean, 0.6."""
    x, y, w = [[0.0], [1.0], [2.0], [-1.0]], [[1.0], [2.0], [5.0], [0.0]], [1.0, 2.0, 3.0, 4.0]
    got = student.probe("weighted_loss_linear", kernel=[[2.0]], bias=[1.0], x=x, y=y, w=w)
    squared = (2 * np.asarray(x)[:, 0] + 1 - np.asarray(y)[:, 0]) ** 2
    w = np.asarray(w)
    compare(got, np.sum(w * squared) / np.sum(w), RTOL, ATOL, what="the weighted loss",
            mistakes={"the unweighted mean": np.mean(squared),
                      "the weighted sum, not divided by sum_i w_i": np.sum(w * squared)})
''',
}


def code_cell(source, grade_id, solution, points=None):
    nbgrader = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
                "schema_version": 3, "solution": solution}
    if points is not None:
        nbgrader["points"] = points
    return {"cell_type": "code", "execution_count": None, "id": grade_id.replace("_", "-")[:60],
            "metadata": {"nbgrader": nbgrader}, "outputs": [], "source": source}


@pytest.fixture(scope="module")
def extended_course(tmp_path_factory):
    """A copy of the course and its grader with the new part added, and its release built."""
    root = tmp_path_factory.mktemp("course")
    for package in ("autograder", "inside_sandbox"):
        shutil.copytree(submissions.ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    course.copy_course(submissions.ROOT, root)
    folder = root / "autograder" / "parts" / PART
    folder.mkdir()
    for name, text in FOLDER.items():
        (folder / name).write_text(text, encoding="utf-8")
    source = root / "source" / "maml" / "maml.ipynb"
    notebook = json.loads(source.read_text(encoding="utf-8"))
    notebook["cells"] += [code_cell(SOLUTION, PART, solution=True),
                          code_cell(TEST_CELL, f"test_{PART}", solution=False, points=1)]
    source.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    course.nbgrader(root, "generate_assignment", "maml", "--force")
    return root


def answered(root, answer):
    """The copy's release, every part answered with the solution and the new one with ``answer``."""
    release = json.loads((root / "release" / "maml" / "maml.ipynb").read_text(encoding="utf-8"))
    return submissions.submission({PART: answer}, base=release)


def grade_by_cli(root, notebook, path):
    submissions.write(notebook, path)
    completed = subprocess.run([sys.executable, "-m", "autograder", str(path), "--json"],
                               cwd=root, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    parts = json.loads(completed.stdout)["parts"]
    grade_by_cli.feedback = {part["name"]: part["feedback"] for part in parts}
    return {part["name"]: part["score"] for part in parts}


def test_the_release_asks_for_the_new_part(extended_course):
    """nbgrader's release has the new function's stub, without its solution."""
    text = (extended_course / "release" / "maml" / "maml.ipynb").read_text(encoding="utf-8")
    assert "def weighted_square_error_loss(model):" in text
    assert "jnp.sum(w *" not in text


def test_the_cli_grades_the_new_part(extended_course, tmp_path):
    """The correct answer earns the new point and the wrong one does not, with feedback that names
    its mistake from the part's catalogue; nothing else moves."""
    root = extended_course
    right = grade_by_cli(root, answered(root, SOLUTION.replace("    ### BEGIN SOLUTION\n", "")
                                        .replace("    ### END SOLUTION", "")),
                         tmp_path / "right" / "maml.ipynb")
    wrong = grade_by_cli(root, answered(root, WRONG), tmp_path / "wrong" / "maml.ipynb")
    assert list(right) == [*submissions.GRADED_NAMES, PART]
    assert right[PART] == 1.0 and wrong[PART] == 0.0
    assert "Your result equals the unweighted mean." in grade_by_cli.feedback[PART]
    assert {k: v for k, v in right.items() if k != PART} == {
        k: v for k, v in wrong.items() if k != PART}
    assert sum(right.values()) == 21.0


def test_nbgrader_autograde_grades_the_new_part(extended_course, tmp_path):
    """`nbgrader autograde` (points from the out-of-process grader) gives the same points."""
    root = extended_course
    for student, answer in (("right", SOLUTION), ("wrong", WRONG)):
        folder = tmp_path / student
        submissions.write(answered(root, answer), folder / "maml.ipynb")
        course.submit(root, student, folder)
    rows = course.autograde_class(root, self_check=False, run_kernel=False)
    assert {row["student_id"]: row["status"] for row in rows} == {"right": "graded",
                                                                  "wrong": "graded"}
    assert course.part_scores(root, "right")[PART] == 1.0
    assert course.part_scores(root, "wrong")[PART] == 0.0
