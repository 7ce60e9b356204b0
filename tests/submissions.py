"""Building realistic submissions: the release notebook with chosen solution cells filled in."""

import copy
import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ["maml", "beyond_maml"]  # the assignment's notebooks, in order
SOURCE = ROOT / "source" / "maml" / "maml.ipynb"
RELEASE = ROOT / "release" / "maml" / "maml.ipynb"
GRADED_NAMES = ["inner_step_objective", "MLP", "square_error_loss", "adapt", "adaptation_loss",
                "batched_meta_loss", "make_meta_train_step"]


def _bubblewrap_missing():
    from autograder.isolation import sandbox

    return sandbox.bubblewrap() is None and not os.environ.get("CI")


# Tests of what the sandbox enforces: skipped without bubblewrap, except in CI (which installs it).
NEEDS_BUBBLEWRAP = pytest.mark.skipif(_bubblewrap_missing(), reason="bubblewrap is not available "
                                      "(CI installs it and never skips)")


def source_path(notebook="maml"):
    return ROOT / "source" / "maml" / f"{notebook}.ipynb"


def release_path(notebook="maml"):
    return ROOT / "release" / "maml" / f"{notebook}.ipynb"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cell_source(cell):
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_solution_code(cell):
    return cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")


def solution_sources(notebook="maml"):
    """The instructor's solution code cells, with the BEGIN/END SOLUTION marker lines removed."""
    solutions = {}
    for cell in load(source_path(notebook))["cells"]:
        if is_solution_code(cell):
            lines = cell_source(cell).splitlines()
            solutions[grade_id(cell)] = "\n".join(
                line for line in lines if "### BEGIN SOLUTION" not in line
                and "### END SOLUTION" not in line)
    return solutions


def submission(overrides=None, base=None, notebook="maml"):
    """The release notebook with every solution code cell answered: the instructor's answer, or
    the code in ``overrides[grade_id]`` (None leaves the release stub)."""
    answers = {**solution_sources(notebook), **(overrides or {})}
    notebook = copy.deepcopy(base or load(release_path(notebook)))
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
# The bundled example class: a full solution of both notebooks, three realistic bugs, an untouched
# release, the same three bugs with a kernel that attacks the course, and a notebook cut off
# mid-file.
EXAMPLE_BUGS = {"bob": ["mlp_relu_on_output", "adapt_gradient_computed_once", "batched_sum_over_tasks"]}
# Runs at the top level of a cell, so only in nbgrader's kernel, whose working directory is
# autograded/mallory/maml: the course root is three levels up.
KERNEL_ATTACKS = """

import os as _os, sqlite3 as _sqlite3
_course = _os.path.abspath(_os.path.join("..", "..", ".."))


def _attempt(what, action):
    try:
        action()
        print(f"attack: {what}: succeeded")
    except Exception as error:
        print(f"attack: {what}: blocked ({type(error).__name__})")


def _raise_every_grade():
    with _sqlite3.connect(_os.path.join(_course, "gradebook.db")) as db:
        db.execute("UPDATE grade SET manual_score = 100")


_attempt("read the instructor notebook",
         lambda: open(_os.path.join(_course, "source", "maml", "maml.ipynb")).read())
_attempt("read the solutions", lambda: open(_os.path.join(_course, "solutions", "maml", "maml.ipynb")).read())
_attempt("write the gradebook", _raise_every_grade)
_attempt("write into the course", lambda: open(_os.path.join(_course, "pwned.txt"), "w").write("x"))
"""
ATTACK_NAMES = ["read the instructor notebook", "read the solutions", "write the gradebook",
                "write into the course"]


def example_files():
    """``{"student/notebook.ipynb": file text}`` for the bundled examples in ``examples/``."""
    from bank import WRONG

    by_name = {variant.name: variant for variant in WRONG}
    bob = {}
    for bug in EXAMPLE_BUGS["bob"]:
        bob.update(by_name[bug].cells)
    mallory = {**bob, "adapt": bob["adapt"] + KERNEL_ATTACKS}
    notebooks = {"alice/maml": submission(), "alice/beyond_maml": submission(notebook="beyond_maml"),
                 "bob/maml": submission(bob), "carol/maml": load(RELEASE),
                 "mallory/maml": submission(mallory)}
    files = {f"{name}.ipynb": json.dumps(notebook, indent=1) for name, notebook in notebooks.items()}
    bob_text = files["bob/maml.ipynb"]
    files["trent/maml.ipynb"] = bob_text[:len(bob_text) // 2]  # an upload cut off halfway
    return files


def main():
    import argparse

    parser = argparse.ArgumentParser(description="Regenerate examples/ from the release and the bank.")
    parser.add_argument("--update-goldens", action="store_true", required=True)
    parser.parse_args()
    for name, text in example_files().items():
        (EXAMPLES_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (EXAMPLES_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()


def grade_submission(variant, folder, sandboxes=None):
    """Writes ``variant``'s submission into ``folder`` and grades it, with the variant's extra XLA
    flags for the grader's child (run in a worker process), in a sandbox from ``sandboxes``
    (a `SandboxPool`) or a new one."""
    import os

    from autograder.grading.grade import grade_notebooks
    from autograder.isolation.student_process import EXTRA_XLA_FLAGS

    path = write(submission(variant.cells, notebook=variant.notebook),
                 pathlib.Path(folder) / f"{variant.notebook}.ipynb")
    os.environ.pop(EXTRA_XLA_FLAGS, None)
    if variant.xla_flags:
        os.environ[EXTRA_XLA_FLAGS] = variant.xla_flags
    try:
        return grade_notebooks([path], parts=[variant.part] if variant.own_part_only else None,
                               sandboxes=sandboxes)[0]
    finally:
        os.environ.pop(EXTRA_XLA_FLAGS, None)


def grade_in_shared_sandboxes(variant, folder):
    """`grade_submission` in this process's pool of sandboxes, which serve one notebook after
    another as a batch worker's do (`autograder.isolation.student_process.process_sandboxes`)."""
    from autograder.isolation.student_process import process_sandboxes

    return grade_submission(variant, folder, process_sandboxes())


def assert_costs_only_its_part(result, variant):
    """``variant``'s bug cost points in its own part, with feedback, and nowhere else."""
    assert result.error is None
    for part in result.parts:
        if part.name == variant.part:
            assert part.score < part.max, f"{variant.name} kept full marks in {part.name}"
            assert part.feedback != "All checks passed."
        else:
            assert part.score == part.max, f"{variant.name} lost points in {part.name}: {part.feedback}"
