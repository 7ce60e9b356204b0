"""The instructor notebook runs end to end and earns full marks; the published solutions too."""

import filecmp
import json
import os

import nbformat
import pytest
import submissions
from nbclient import NotebookClient

from autograder.grade import grade_notebook

SOLUTIONS = submissions.ROOT / "solutions" / "maml" / "maml.ipynb"


@pytest.fixture(scope="module")
def executed_source(tmp_path_factory):
    """The instructor notebook executed in a real kernel with the autograding budget."""
    notebook = nbformat.read(submissions.SOURCE, as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(submissions.SOURCE.parent)}}).execute()
    finally:
        del os.environ["NBGRADER_EXECUTION"]
    path = tmp_path_factory.mktemp("executed") / "maml.ipynb"
    nbformat.write(notebook, path)
    return notebook, path


def outputs(notebook):
    return [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_instructor_notebook_runs_end_to_end(executed_source):
    """Every cell runs without error, visible tests print their success and figures are drawn."""
    notebook, _ = executed_source
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs(notebook))
    assert text.count("visible checks passed") == len(submissions.GRADED_NAMES)
    assert "meta-step    300/300" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs(notebook)) == 4


def test_instructor_notebook_earns_full_marks(executed_source):
    """The out-of-process grader gives the executed instructor notebook 20/20."""
    result = grade_notebook(executed_source[1])
    assert (result.total, result.max_total) == (20.0, 20.0), result.parts


def test_published_solutions_are_executed_and_earn_full_marks():
    """solutions/ holds the full run with outputs and figures, no test or grader code, 20/20."""
    notebook = json.loads(SOLUTIONS.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell has been run"
    assert not [o for o in outputs(notebook) if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs(notebook)) == 4
    text = "".join("".join(o.get("text", "")) for o in outputs(notebook))
    assert "meta-step  20000/20000" in text
    assert "autograder" not in SOLUTIONS.read_text(encoding="utf-8")
    result = grade_notebook(SOLUTIONS)
    assert (result.total, result.max_total) == (20.0, 20.0), result.parts


def test_published_helpers_match_source():
    """solutions/ ships the same maml_helpers as source/ (nbgrader copies them)."""
    comparison = filecmp.dircmp(SOLUTIONS.parent / "maml_helpers",
                                submissions.SOURCE.parent / "maml_helpers", ignore=["__pycache__"])
    assert not (comparison.diff_files or comparison.left_only or comparison.right_only)
