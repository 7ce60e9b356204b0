"""Building realistic submissions: the release notebook with chosen solution cells filled in."""

import copy
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "maml" / "maml.ipynb"
RELEASE = ROOT / "release" / "maml" / "maml.ipynb"
GRADED_NAMES = ["inner_step_objective", "MLP", "square_error_loss", "adapt", "adaptation_loss",
                "batched_meta_loss", "make_meta_train_step"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cell_source(cell):
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_sources():
    """The instructor's solution cells, with the BEGIN/END SOLUTION marker lines removed."""
    solutions = {}
    for cell in load(SOURCE)["cells"]:
        if grade_id(cell) in GRADED_NAMES:
            lines = cell_source(cell).splitlines()
            solutions[grade_id(cell)] = "\n".join(
                line for line in lines if "### BEGIN SOLUTION" not in line
                and "### END SOLUTION" not in line)
    return solutions


def submission(overrides=None, base=None):
    """The release notebook with every solution cell answered: the instructor's answer, or the
    code in ``overrides[grade_id]`` (None leaves the release stub)."""
    notebook = copy.deepcopy(base or load(RELEASE))
    answers = {**solution_sources(), **(overrides or {})}
    for cell in notebook["cells"]:
        name = grade_id(cell)
        if name in answers and answers[name] is not None:
            cell["source"] = answers[name]
    return notebook


def write(notebook, path):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


EXAMPLES_DIR = ROOT / "examples"
# The bundled example class: a full solution, three realistic bugs, and an untouched release.
EXAMPLE_BUGS = {"bob": ["mlp_relu_on_output", "adapt_gradient_computed_once", "batched_sum_over_tasks"]}


def example_notebooks():
    """``{student: notebook}`` for the bundled examples (alice, bob, carol)."""
    from bank import WRONG

    by_name = {variant.name: variant for variant in WRONG}
    bob = {}
    for bug in EXAMPLE_BUGS["bob"]:
        bob.update(by_name[bug].cells)
    return {"alice": submission(), "bob": submission(bob), "carol": load(RELEASE)}


def main():
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate examples/ from the release and the bank.")
    parser.add_argument("--update-goldens", action="store_true", required=True)
    parser.parse_args()
    for student, notebook in example_notebooks().items():
        write(notebook, EXAMPLES_DIR / f"{student}.ipynb")


if __name__ == "__main__":
    main()
