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
    assert lines[0].endswith(": 0/20")
    assert [line.split()[0] for line in lines[1:]] == submissions.GRADED_NAMES


def test_report_says_loudly_when_grading_was_not_sandboxed(monkeypatch):
    """The people's report ends with a warning exactly when bubblewrap is unavailable."""
    from autograder import __main__ as cli
    from autograder import sandbox
    from autograder.grade import GradeResult, PartResult

    result = GradeResult("x.ipynb", 2.0, 2.0, [PartResult("adapt", 2.0, 2.0, "All checks passed.")])
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: "/usr/bin/bwrap")
    assert cli.UNSANDBOXED not in cli.format_table(result)
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    assert cli.format_table(result).splitlines()[-1] == cli.UNSANDBOXED
