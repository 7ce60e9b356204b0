"""Notebooks that are damaged but still notebooks are graded by their content."""

import copy

import pytest
import submissions

from autograder.grading.grade import grade_notebook


def correct():
    return submissions.submission()


def cells_by_id(notebook):
    return {submissions.grade_id(cell): index for index, cell in enumerate(notebook["cells"])}


def stripped(notebook):
    for cell in notebook["cells"]:
        cell["metadata"] = {}
    notebook["metadata"] = {}
    return notebook


def reordered(notebook):
    """Solution cells moved to the end, in reverse order (a later cell used before it is defined)."""
    ids = cells_by_id(notebook)
    moved = [notebook["cells"][ids[name]] for name in reversed(submissions.GRADED_NAMES)]
    notebook["cells"] = [c for c in notebook["cells"] if c not in moved] + moved
    return notebook


def duplicated_with_a_broken_first_copy(notebook):
    """An earlier broken copy of `adapt`, then the correct one: the last definition counts."""
    ids = cells_by_id(notebook)
    broken = copy.deepcopy(notebook["cells"][ids["adapt"]])
    broken["source"] = "def adapt(*args, **kwargs):\n    raise RuntimeError('old attempt')\n"
    notebook["cells"].insert(ids["adapt"], broken)
    return notebook


def huge_outputs(notebook):
    """Every code cell carries a 2 MB stored output, as after printing in a loop."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 2_000_000}]
    return notebook


@pytest.mark.parametrize("damage", [stripped, reordered, duplicated_with_a_broken_first_copy,
                                    huge_outputs], ids=lambda f: f.__name__)
def test_correct_code_in_a_damaged_notebook_earns_full_marks(tmp_path, damage):
    """Stripped nbgrader metadata, reordered or duplicated cells and huge outputs cost nothing."""
    path = submissions.write(damage(correct()), tmp_path / "maml.ipynb")
    result = grade_notebook(path)
    assert (result.total, result.error) == (20.0, None), result.parts


def test_deleted_and_markdown_cells_cost_only_their_parts(tmp_path):
    """A deleted solution cell and one turned into markdown lose exactly their parts."""
    notebook = correct()
    ids = cells_by_id(notebook)
    notebook["cells"][ids["adapt"]]["cell_type"] = "markdown"
    notebook["cells"][ids["adapt"]].pop("outputs", None)
    del notebook["cells"][ids["MLP"]]
    result = grade_notebook(submissions.write(notebook, tmp_path / "maml.ipynb"))
    assert {p.name: p.score for p in result.parts if p.score < p.max} == {"adapt": 0, "MLP": 0}
    assert result.part("adapt").feedback == "`adapt` is not defined in your notebook."
    assert result.part("MLP").feedback == "`MLP` is not defined in your notebook."


def test_json_nested_too_deeply_is_an_unreadable_notebook_not_a_grader_failure(tmp_path):
    """JSON nested past the parser's recursion limit makes the file unreadable (exit 2), the
    student's fault, never a grader failure (which would spare them the grade)."""
    from autograder.grading.record import ExitStatus

    path = tmp_path / "maml.ipynb"
    path.write_text("[" * 200_000 + "]" * 200_000)
    result = grade_notebook(path)
    assert result.exit_status() == ExitStatus.UNREADABLE and not result.grader_failed
    assert "nested too deeply" in result.error and result.total == 0


def test_a_file_larger_than_the_cap_is_not_read(tmp_path):
    """The trusted parent reads at most MAX_NOTEBOOK_BYTES of a file: more is an unreadable
    notebook, whatever it holds."""
    from autograder.grading.notebook import MAX_NOTEBOOK_BYTES

    notebook = correct()
    notebook["metadata"]["padding"] = "x" * (MAX_NOTEBOOK_BYTES + 1)
    result = grade_notebook(submissions.write(notebook, tmp_path / "maml.ipynb"))
    assert result.error.startswith("The file is larger than") and result.total == 0


def test_an_expression_too_large_to_parse_costs_only_its_cell(tmp_path):
    """A 200,000-term expression in `adapt`'s cell makes that cell unparsable: `adapt` loses its
    points, with the reason in its feedback, and every other part keeps full marks."""
    adapt = submissions.solution_sources()["adapt"]
    notebook = submissions.submission({"adapt": adapt + "\nBIG = " + "+".join(["1"] * 200_000)})
    result = grade_notebook(submissions.write(notebook, tmp_path / "maml.ipynb"))
    assert result.error is None and not result.grader_failed
    assert {p.name for p in result.parts if p.score < p.max} == {"adapt"}
    assert "too large to parse" in result.part("adapt").feedback
