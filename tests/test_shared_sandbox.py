"""A student's notebooks share one sandbox, and each is still graded exactly as when alone."""

import submissions
from bank import SOLUTIONS

from autograder.grade import grade_notebooks

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
