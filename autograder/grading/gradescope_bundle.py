"""The Gradescope autograder: the zip (`build`), and grading one submission into Gradescope's
``results.json`` (`run`); the library of ``python -m autograder.gradescope``."""


import json
import pathlib
import sys
import zipfile

from autograder.grading.record import ExitStatus
SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder is uploaded.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
if ! command -v bwrap >/dev/null; then
    apt-get update -qq && apt-get install -y -qq bubblewrap
fi
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip==26.3
.venv/bin/python -m pip install --quiet --constraint requirements.lock --editable .
# The reference solutions must earn full marks on this machine before any student is graded.
.venv/bin/python -m autograder --self-check
"""
RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes $ROOT/results/results.json.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT/source"
export PATH="$ROOT/source/.venv/bin:$PATH"
python -m autograder.gradescope --run --root "$ROOT"
"""
# What the bundle carries from this repository (instructor notebooks: the self-check's reference).
BUNDLED = ["autograder", "inside_sandbox", "source/maml/maml_helpers", "source/maml/maml.ipynb",
           "source/maml/beyond_maml.ipynb", "nbgrader_config.py", "pyproject.toml",
           "requirements.lock"]


def build(out: pathlib.Path, root: pathlib.Path) -> list[str]:
    """Writes the zip of the course at ``root`` to ``out``; returns its member names."""
    names = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for script, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, text)
            names.append(script)
        for entry in BUNDLED:
            path = pathlib.Path(root) / entry
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            for file in files:
                name = str(file.relative_to(root))
                bundle.write(file, name)
                names.append(name)
    return names


def results(submission: pathlib.Path) -> dict:
    """Gradescope's ``results.json`` object for the notebooks in ``submission``: one test per
    graded part of each assignment notebook, its feedback as ``output``, and the total score.
    Only regular files are graded, the assignment's notebooks each once (by content); links,
    folders and extra notebooks are named in the top-level ``output`` and never opened."""
    from autograder.grading import submission_files
    from autograder.isolation.errors import GraderError
    from autograder.grading.grade import ASSIGNMENT_PARTS, grade_notebooks, max_points

    found = submission_files.find(submission, recursive=True)
    paths = list(found.graded.values())
    tests = []
    for assignment, path, result in zip(found.graded, paths, grade_notebooks(paths)):
        if result.grader_failed:  # never a zero: run_autograder fails, Gradescope says so
            raise GraderError(result.error)
        tests += result.gradescope_tests(path.name)
    for assignment, parts in ASSIGNMENT_PARTS.items():
        if assignment not in found.graded:
            maxima = max_points(parts)
            tests += [{"name": f"{part} ({assignment}.ipynb)", "score": 0.0,
                       "max_score": maxima[part],
                       "output": f"{assignment}.ipynb was not found in your submission."}
                      for part in parts]
    outcome = {"score": round(sum(t["score"] for t in tests), 6), "tests": tests}
    if found.skipped:
        outcome["output"] = "\n".join(str(skipped) for skipped in found.skipped)
    return outcome


def run(root: str | pathlib.Path) -> ExitStatus:
    """Writes ``results/results.json``; returns the exit status. When the grader itself fails
    there is no results.json and the status is 3: Gradescope then reports that the autograder
    failed (the instructor's problem, shown as such), never a score of 0."""
    root = pathlib.Path(root)
    try:
        outcome = results(root / "submission")
    except Exception as error:  # noqa: BLE001 - the grader's failure, not the student's
        print(f"The grader failed on this machine, not the submission: {error}", file=sys.stderr)
        return ExitStatus.GRADER_FAILED
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(outcome, indent=1))
    print(f"score {outcome['score']:g}", file=sys.stderr)
    return ExitStatus.OK
