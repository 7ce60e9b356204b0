"""The Gradescope bundle, unpacked into a temporary AUTOGRADER_ROOT: setup.sh, then
run_autograder on correct, buggy, broken and renamed submissions."""

import json
import os
import shutil
import subprocess
import zipfile

import pytest
import submissions

from autograder.grading import gradescope_bundle as gradescope
from autograder.grading import nbgrader_course as course


@pytest.fixture(scope="module")
def autograder_root(tmp_path_factory):
    """The zip unpacked into ROOT/source and set up by its own setup.sh (a venv from the pinned
    lock, bubblewrap, then the self-check)."""
    root = tmp_path_factory.mktemp("autograder")
    bundle = root / "autograder.zip"
    gradescope.build(bundle, submissions.ROOT)
    with zipfile.ZipFile(bundle) as archive:
        assert {"setup.sh", "run_autograder"} <= set(archive.namelist())
        assert not [n for n in archive.namelist() if "experiments" in n or "solutions/" in n]
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True,
                           text=True, env={**os.environ, "AUTOGRADER_ROOT": str(root)})
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "self-check passed" in setup.stdout
    return root


def run_autograder(root, files, env=None, prepare=None):
    """Puts ``{name: path}`` in ROOT/submission (then calls ``prepare(folder)``), runs
    run_autograder; returns (status, results)."""
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    submission.mkdir()
    for name, path in files.items():
        shutil.copy(path, submission / name)
    if prepare is not None:
        prepare(submission)
    completed = subprocess.run([str(root / "source" / "run_autograder")], capture_output=True,
                               text=True, env={**os.environ, "AUTOGRADER_ROOT": str(root), **(env or {})})
    results = root / "results" / "results.json"
    return completed.returncode, json.loads(results.read_text()) if results.exists() else None


def by_part(results):
    return {t["name"].split(" ")[0]: t for t in results["tests"]}


def test_correct_submission_renamed_gets_full_marks(autograder_root):
    """Both notebooks, one renamed by an upload, get 30/30: one test per part, feedback as output."""
    status, results = run_autograder(autograder_root, {
        "maml.ipynb": submissions.EXAMPLES_DIR / "alice" / "maml.ipynb",
        "beyond_maml (1).ipynb": submissions.EXAMPLES_DIR / "alice" / "beyond_maml.ipynb"})
    assert status == 0
    assert results["score"] == 30.0 and len(results["tests"]) == 9
    assert all(set(t) == {"name", "score", "max_score", "output"} for t in results["tests"])
    assert all(t["output"] == "All checks passed." for t in results["tests"])


def test_buggy_and_missing_parts_are_reported(autograder_root):
    """bob's three bugs cost their points with feedback; the notebook he did not upload scores 0
    with an output that says it was not found."""
    status, results = run_autograder(autograder_root, {"maml.ipynb": submissions.EXAMPLES_DIR / "bob" / "maml.ipynb"})
    assert status == 0 and results["score"] == 12.5
    tests = by_part(results)
    assert tests["adapt"]["score"] == 0.5 and "reusing the first gradient" in tests["adapt"]["output"]
    assert tests["reptile_update"]["score"] == 0 and "not found" in tests["reptile_update"]["output"]


def test_unreadable_upload_and_grader_failure(autograder_root):
    """A cut-off notebook gives a result with a clear output, not a crash; when the grader itself
    cannot run, run_autograder fails (exit 3, no results.json), so no zero is recorded."""
    status, results = run_autograder(autograder_root, {"maml.ipynb": submissions.EXAMPLES_DIR / "trent" / "maml.ipynb"})
    assert status == 0 and results["score"] == 0
    assert "not valid notebook JSON" in by_part(results)["adapt"]["output"]
    status, results = run_autograder(
        autograder_root, {"maml.ipynb": submissions.EXAMPLES_DIR / "alice" / "maml.ipynb"},
        env={"AUTOGRADER_XLA_FLAGS": "--xla_no_such_flag"})
    assert status == 3 and results is None


def test_links_and_folders_are_reported_never_graded(autograder_root):
    """A submission of symbolic links to the bundled instructor notebooks earns nothing, and a
    folder named ``notes.ipynb`` is reported: both are named in the results' output."""
    def links_and_a_folder(submission):
        (submission / "maml.ipynb").symlink_to("../source/source/maml/maml.ipynb")
        (submission / "beyond_maml.ipynb").symlink_to(
            autograder_root / "source" / "source" / "maml" / "beyond_maml.ipynb")
        (submission / "notes.ipynb").mkdir()

    status, results = run_autograder(autograder_root, {}, prepare=links_and_a_folder)
    assert status == 0 and results["score"] == 0, results
    assert all("was not found" in t["output"] for t in results["tests"])
    assert "maml.ipynb: not graded (it is a symbolic link" in results["output"]
    assert "notes.ipynb: not graded (it is a folder" in results["output"]
