"""A student's notebooks share one sandbox, and each is still graded exactly as when alone."""

import os
import pathlib
import signal

import submissions
from bank import SOLUTIONS

from autograder.grade import grade_notebooks
from autograder.notebook import extract_definitions
from autograder.student_process import student_processes

SOLUTION_PART_2 = SOLUTIONS[1]
# Runs when the notebook's definitions load (a class body): every later computation in this
# process would take sums for means.
PATCHES_JAX = '''
import jax.numpy as jnp

class Sabotage:
    jnp.mean = jnp.sum
'''
# Kills the process that forked it: the sandbox's server, and with it the whole sandbox.
KILLS_THE_SERVER = '''
import os, signal

def inner_step_objective(g, alpha):
    os.kill(os.getppid(), signal.SIGKILL)
    return g
'''


def grade_pair(tmp_path, part_1_cells):
    part_1 = submissions.write(submissions.submission(part_1_cells), tmp_path / "1" / "maml.ipynb")
    part_2 = submissions.write(submissions.submission(notebook="beyond_maml"),
                               tmp_path / "2" / "beyond_maml.ipynb")
    return grade_notebooks([part_1, part_2])


def same_grade(result, alone):
    assert result.to_json() | {"notebook": ""} == alone.to_json() | {"notebook": ""}
    assert [(c.name, c.passed, c.margins) for c in result.cases] == \
        [(c.name, c.passed, c.margins) for c in alone.cases]


def test_what_one_notebook_changes_never_reaches_the_other(tmp_path, grade_variant):
    """Part 1 patches JAX as it loads: it loses points, part 2 (a fresh fork) is graded as alone."""
    square_error_loss = submissions.solution_sources()["square_error_loss"]
    part_1, part_2 = grade_pair(tmp_path, {"square_error_loss": PATCHES_JAX + square_error_loss})
    assert part_1.part("square_error_loss").score < part_1.part("square_error_loss").max
    assert part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))


def test_a_notebook_that_kills_the_sandbox_costs_only_its_own_part(tmp_path, grade_variant):
    """Part 1 kills the shared sandbox: it loses that part only, part 2 is graded as alone."""
    part_1, part_2 = grade_pair(tmp_path, {"inner_step_objective": KILLS_THE_SERVER})
    lost = {p.name for p in part_1.parts if p.score < p.max}
    assert lost == {"inner_step_objective"}, [(p.name, p.feedback) for p in part_1.parts]
    assert "ended" in part_1.part("inner_step_objective").feedback
    assert not part_2.error and part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))


# Reports which sandbox it runs in (its scratch folder) and how many files its own folder had,
# then leaves a file there.
REPORTS_ITS_SANDBOX = '''
def inner_step_objective(g, alpha):
    import os, zlib

    found = min(len(os.listdir(".")), 9)
    open("left_behind.txt", "w").write("x")
    sandbox = zlib.crc32(os.path.dirname(os.getcwd()).encode()) % 65536
    return lambda x: g(x) * 0.0 + float(sandbox * 10 + found)
'''


def sandbox_report(process):
    value = process.probe("inner_step_objective", 60, g={"poly": [1.0, 0.0]}, alpha=0.1, xs=[0.0])
    return divmod(int(value["values"][0]), 10)


def processes_of_both_notebooks():
    statements, _ = extract_definitions(submissions.submission(
        {"inner_step_objective": REPORTS_ITS_SANDBOX}))
    return student_processes([statements, statements])


def test_a_students_notebooks_share_one_sandbox_each_in_a_fresh_folder():
    """Both workers run in one sandbox; the second starts in an empty folder of its own."""
    with processes_of_both_notebooks() as (first, second):
        first_sandbox, first_found = sandbox_report(first)
        second_sandbox, second_found = sandbox_report(second)
    assert first_sandbox == second_sandbox
    assert first_found == second_found == 0


def descendants(pid):
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children] + [d for c in children for d in descendants(int(c))]


@submissions.NEEDS_BUBBLEWRAP
def test_a_shared_sandbox_that_died_unnoticed_is_replaced():
    """When the shared sandbox's server is gone before the next notebook starts, that notebook
    is graded in a sandbox of its own, not failed as the grader's fault."""
    with processes_of_both_notebooks() as (first, second):
        first_sandbox, _ = sandbox_report(first)
        shared = first._sandbox
        for pid in descendants(shared.process.pid):
            os.kill(pid, signal.SIGKILL)
        assert shared.alive  # nothing noticed yet
        second_sandbox, found = sandbox_report(second)
        assert second._sandbox is not shared
    assert second_sandbox != first_sandbox and found == 0
