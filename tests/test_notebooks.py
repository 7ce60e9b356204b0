"""The instructor notebooks run end to end and earn full marks; the published solutions too."""

import filecmp
import json
import os
import re

import nbformat
import pytest
import submissions
from nbclient import NotebookClient

from autograder.grading.grade import ASSIGNMENT_PARTS, grade_notebook

SOLUTIONS = submissions.ROOT / "solutions" / "maml"
# Per notebook: autograded points, figures drawn, and text that shows the training ran (under
# nbgrader's small budget, then with the full budget in the published solutions).
EXPECTED = {
    "maml": dict(points=20.0, figures=4, autograde_text="meta-step    300/300",
                 full_text="meta-step  20000/20000"),
    "beyond_maml": dict(points=10.0, figures=1, autograde_text="cosine(full, first-order)",
                        full_text="pretrained"),
}


@pytest.fixture(scope="module", params=submissions.NOTEBOOKS)
def executed_source(request, tmp_path_factory):
    """An instructor notebook executed in a real kernel with the autograding budget."""
    source = submissions.source_path(request.param)
    notebook = nbformat.read(source, as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(source.parent)}}).execute()
    finally:
        del os.environ["NBGRADER_EXECUTION"]
    path = tmp_path_factory.mktemp("executed") / source.name
    nbformat.write(notebook, path)
    return request.param, notebook, path


def outputs(notebook):
    return [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_instructor_notebook_runs_end_to_end(executed_source):
    """Every cell runs without error, visible tests print their success and figures are drawn."""
    name, notebook, _ = executed_source
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs(notebook))
    assert text.count("visible checks passed") == len(ASSIGNMENT_PARTS[name])
    assert EXPECTED[name]["autograde_text"] in text
    assert sum("image/png" in o.get("data", {}) for o in outputs(notebook)) == EXPECTED[name]["figures"]


def test_instructor_notebook_earns_full_marks(executed_source):
    """The out-of-process grader gives the executed instructor notebook full marks."""
    name, _, path = executed_source
    result = grade_notebook(path)
    assert result.total == result.max_total == EXPECTED[name]["points"], result.parts


@pytest.mark.parametrize("name", submissions.NOTEBOOKS)
def test_published_solutions_are_executed_and_earn_full_marks(name):
    """solutions/ holds the full run with outputs and figures, no test or grader code, full marks."""
    path = SOLUTIONS / f"{name}.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell has been run"
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs(notebook)) == EXPECTED[name]["figures"]
    text = "".join("".join(o.get("text", "")) for o in outputs(notebook))
    assert EXPECTED[name]["full_text"] in text
    assert "autograder" not in path.read_text(encoding="utf-8")
    result = grade_notebook(path)
    assert result.total == result.max_total == EXPECTED[name]["points"], result.parts


def test_published_helpers_match_source():
    """solutions/ ships the same maml_helpers as source/ (nbgrader copies them)."""
    comparison = filecmp.dircmp(SOLUTIONS / "maml_helpers",
                                submissions.SOURCE.parent / "maml_helpers", ignore=["__pycache__"])
    assert not (comparison.diff_files or comparison.left_only or comparison.right_only)


def test_pasting_part_1_as_told_runs_in_part_2():
    """Part 2's setup, then its paste cell filled with the student's part-1 cells exactly as the
    paste cell lists them (signatures and docstrings included), runs without error in a kernel."""
    release = nbformat.read(submissions.release_path("beyond_maml"), as_version=4)
    setup = next(c for c in release.cells if submissions.grade_id(c) == "setup")
    paste = next(c for c in release.cells if submissions.grade_id(c) == "part1_definitions")
    named = paste.source.split("from part 1")[0]
    student = {submissions.grade_id(c): submissions.cell_source(c)
               for c in submissions.submission()["cells"]}
    listed = [name for name in submissions.GRADED_NAMES if re.search(rf"\b{name}\b", named)]
    assert set(listed) >= {"MLP", "square_error_loss", "adapt", "adaptation_loss",
                           "batched_meta_loss", "make_meta_train_step"}, named
    pasted = nbformat.v4.new_code_cell("\n\n".join(student[name] for name in listed) + (
        "\nparams = MLP().init(jax.random.PRNGKey(0), jnp.zeros((10, 1)))\n"
        "step = make_meta_train_step(batched_meta_loss(square_error_loss(MLP()), 0.01), optax.sgd(0.1))\n"
        "batch = sample_meta_batch(jax.random.PRNGKey(1))\n"
        "state = optax.sgd(0.1).init(params)\n"
        "print('meta-loss', float(jax.jit(step)(params, state, batch)[2]))\n"))
    notebook = nbformat.v4.new_notebook(cells=[setup, pasted])
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(submissions.release_path("beyond_maml").parent)}}
                   ).execute()
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
    assert "meta-loss" in "".join("".join(o.get("text", "")) for o in outputs(notebook))
