"""`python -m autograder`: the command line of the assignment contract."""

import json
import subprocess
import sys

import pytest
import submissions


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)],
                          capture_output=True, text=True, cwd=submissions.ROOT)


def test_json_output_for_the_solution(tmp_path):
    """--json prints exactly one JSON object with the contract's fields, exit status 0."""
    path = submissions.write(submissions.submission(), tmp_path / "maml.ipynb")
    completed = run_cli(path, "--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert set(result) == {"notebook", "total", "max_total", "parts", "error"}
    assert (result["total"], result["max_total"], result["error"]) == (20.0, 20.0, None)
    assert [p["name"] for p in result["parts"]] == submissions.GRADED_NAMES
    assert all(set(p) == {"name", "score", "max", "feedback"} for p in result["parts"])


@pytest.mark.parametrize("content", [b"", b'{"cells": [', b"print('hello')\n", b"\xff\xfe\x00junk",
                                     b'{"nbformat": 3, "cells": [], "worksheets": []}'],
                         ids=["empty", "truncated", "script", "binary", "nbformat3"])
def test_unreadable_notebook_exits_2_with_an_error_sentence(tmp_path, content):
    """A file that is not a readable notebook gives exit 2, total 0 and a one-sentence error."""
    path = tmp_path / "maml.ipynb"
    path.write_bytes(content)
    completed = run_cli(path, "--json")
    assert completed.returncode == 2
    result = json.loads(completed.stdout)
    assert result["total"] == 0 and result["max_total"] == 20
    assert isinstance(result["error"], str) and result["error"].endswith(".")
    assert "Traceback" not in completed.stdout + completed.stderr


def test_table_output_for_people():
    """Without --json the result is a readable table with one row per part."""
    completed = run_cli(submissions.RELEASE)
    assert completed.returncode == 0
    lines = completed.stdout.splitlines()
    assert lines[0].endswith(": 0/20 autograded; 6 more points are graded by hand")
    assert [line.split()[0] for line in lines[1:]] == submissions.GRADED_NAMES


def test_report_says_loudly_when_grading_was_not_sandboxed(monkeypatch):
    """The people's report ends with a warning exactly when bubblewrap is unavailable."""
    from autograder import __main__ as cli
    from autograder.isolation import sandbox
    from autograder.grading.grade import GradeResult, PartResult

    result = GradeResult("x.ipynb", 2.0, 2.0, [PartResult("adapt", 2.0, 2.0, "All checks passed.")])
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: "/usr/bin/bwrap")
    assert cli.UNSANDBOXED not in cli.format_table(result)
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    assert cli.format_table(result).splitlines()[-1] == cli.UNSANDBOXED


def test_a_child_that_cannot_start_is_the_graders_failure_not_a_zero(tmp_path):
    """Bad XLA flags kill the grader's child before any student code runs: exit 3 (not 0, not 2),
    no score at all, and an error that blames the grader, not the student."""
    path = submissions.write(submissions.submission(), tmp_path / "maml.ipynb")
    completed = run_cli(path, "--json", "--xla-flags=--xla_no_such_flag")
    assert completed.returncode == 3, completed.stderr
    result = json.loads(completed.stdout)
    assert result["total"] is None and result["max_total"] == 20
    assert all(p["score"] is None for p in result["parts"])
    assert result["error"].startswith("The grader failed on this machine, not the student's notebook")
    assert "xla_no_such_flag" in result["error"]
    table = run_cli(path, "--xla-flags=--xla_no_such_flag")
    assert table.returncode == 3 and "-/20" in table.stdout.splitlines()[0]


def test_a_missing_interpreter_is_the_graders_failure(tmp_path, monkeypatch):
    """When the child's interpreter is gone (a moved or broken venv), grading reports the
    grader's failure with no score, in process as on the command line."""
    from autograder.grading.grade import grade_notebook

    path = submissions.write(submissions.submission(), tmp_path / "maml.ipynb")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "moved-venv" / "python"))
    result = grade_notebook(path)
    assert result.grader_failed and result.total is None
    assert "could not start" in result.error


def test_self_check_passes_here_in_one_line():
    """--self-check grades the reference solutions and says so in one line, exit 0."""
    completed = run_cli("--self-check")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("\n") == 1
    assert completed.stdout.startswith("self-check passed") and "20/20" in completed.stdout


def test_self_check_fails_when_the_reference_loses_points(tmp_path):
    """A reference that does not earn full marks makes the self-check fail (exit 1), naming the
    part; a grader that cannot start makes it exit 3."""
    from bank import WRONG

    from autograder.grading import self_check
    from autograder.grading.record import ExitStatus

    bug = next(v for v in WRONG if v.name == "adapt_gradient_ascent")
    path = submissions.write(submissions.submission(bug.cells), tmp_path / "maml.ipynb")
    status, line = self_check.run([path])
    assert status == ExitStatus.SELF_CHECK_FAILED and "adapt (" in line and "FAILED" in line
    completed = run_cli("--self-check", "--xla-flags=--xla_no_such_flag")
    assert completed.returncode == 3 and "FAILED" in completed.stdout


def test_parts_before_or_after_the_notebook(tmp_path):
    """--parts works before and after the path, and an unknown part is a usage error."""
    path = submissions.write(submissions.submission(), tmp_path / "maml.ipynb")
    for args in (["--parts", "adapt", "MLP", path, "--json"], [path, "--parts", "adapt", "MLP", "--json"]):
        completed = run_cli(*args)
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout)
        assert sorted(p["name"] for p in result["parts"]) == ["MLP", "adapt"]
        assert result["total"] == 7.0
    completed = run_cli("--parts", "adapt", "nonsense", path)
    assert completed.returncode == 2 and "unknown part(s) nonsense" in completed.stderr


def test_a_renamed_download_is_graded_by_its_content(tmp_path):
    """Part 2 saved as "beyond_maml (1).ipynb", or with its metadata stripped and another name,
    is graded as part 2; an unrelated notebook is a clear error (exit 2)."""
    part_2 = submissions.submission(notebook="beyond_maml")
    renamed = submissions.write(part_2, tmp_path / "beyond_maml (1).ipynb")
    for cell in part_2["cells"]:
        cell["metadata"] = {}
    stripped = submissions.write(part_2, tmp_path / "maml.ipynb")  # named like part 1
    for path in (renamed, stripped):
        completed = run_cli(path, "--json")
        result = json.loads(completed.stdout)
        assert [p["name"] for p in result["parts"]] == ["reptile_update", "imaml_meta_gradient"]
        assert (completed.returncode, result["total"]) == (0, 10.0), result
    unrelated = submissions.write({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "source": "def f():\n    return 1\n",
         "outputs": [], "execution_count": None}]}, tmp_path / "homework.ipynb")
    completed = run_cli(unrelated, "--json")
    assert completed.returncode == 2
    assert "not one of the assignment's" in json.loads(completed.stdout)["error"]
