"""``python -m autograder.gradescope --out autograder.zip``: the Gradescope autograder bundle.

The zip holds this project's grader (``autograder/`` and ``inside_sandbox/``, the provided
``maml_helpers``, the pinned
``pyproject.toml`` and ``requirements.lock``, and the instructor notebooks for the self-check),
``setup.sh`` (installs bubblewrap and the pinned environment) and ``run_autograder`` (grades the
notebooks found in the submission folder and writes ``results/results.json`` in Gradescope's
format). Both scripts honour ``AUTOGRADER_ROOT`` (default ``/autograder``), so they can be tried
outside Gradescope: unpack the zip into ``$AUTOGRADER_ROOT/source``, run ``setup.sh``, put the
submission in ``$AUTOGRADER_ROOT/submission`` and run ``run_autograder``.

``python -m autograder.gradescope --run`` is what ``run_autograder`` calls.
"""

import argparse
import json
import os
import pathlib
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
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


def build(out):
    """Writes the zip to ``out``; returns its member names."""
    names = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for script, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(script)
            info.external_attr = 0o755 << 16
            bundle.writestr(info, text)
            names.append(script)
        for entry in BUNDLED:
            path = ROOT / entry
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            for file in files:
                name = str(file.relative_to(ROOT))
                bundle.write(file, name)
                names.append(name)
    return names


def results(submission):
    """Gradescope's ``results.json`` object for the notebooks in ``submission``: one test per
    graded part of each assignment notebook, its feedback as ``output``, and the total score.
    Only regular files are graded, the assignment's notebooks each once (by content); links,
    folders and extra notebooks are named in the top-level ``output`` and never opened."""
    from autograder import submission_files
    from autograder.grade import ASSIGNMENT_PARTS, grade_notebooks, max_points
    from autograder.student_process import GraderError

    found = submission_files.find(submission, recursive=True)
    paths = list(found.graded.values())
    tests = []
    for assignment, path, result in zip(found.graded, paths, grade_notebooks(paths)):
        if result.grader_failed:  # never a zero: run_autograder fails, Gradescope says so
            raise GraderError(result.error)
        for part in result.parts:
            output = part.feedback if result.error is None else f"{path.name}: {result.error}"
            tests.append({"name": f"{part.name} ({path.name})", "score": part.score or 0.0,
                          "max_score": part.max, "output": output})
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


def run(root):
    """Writes ``results/results.json``; returns the exit status. When the grader itself fails
    there is no results.json and the status is 3: Gradescope then reports that the autograder
    failed (the instructor's problem, shown as such), never a score of 0."""
    root = pathlib.Path(root)
    try:
        outcome = results(root / "submission")
    except Exception as error:  # noqa: BLE001 - the grader's failure, not the student's
        print(f"The grader failed on this machine, not the submission: {error}", file=sys.stderr)
        return 3
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / "results.json").write_text(json.dumps(outcome, indent=1))
    print(f"score {outcome['score']:g}", file=sys.stderr)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, help="where to write the zip")
    parser.add_argument("--run", action="store_true", help="grade the submission (run_autograder)")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    args = parser.parse_args(argv)
    if args.run:
        return run(args.root)
    if args.out is None:
        parser.error("give --out autograder.zip (or --run)")
    names = build(args.out)
    print(f"wrote {args.out} ({len(names)} files)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
