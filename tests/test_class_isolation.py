"""A student's notebooks are graded with no state between them: each grade equals grading that
notebook alone, and nothing of the grader's own code reaches the student."""

import submissions
from bank import SOLUTIONS

from autograder.grading.grade import grade_notebook, grade_notebooks

SOLUTION_PART_2 = SOLUTIONS[1]
# Part 2's reptile_update is checked with the grader's own `adapt` present in its process: it saves
# that function's compiled code where the next notebook's process could find it.
STEALS_THE_SUBSTITUTES = '''
def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):
    import marshal, sys
    probing = sys.modules.get("inside_sandbox.probing")
    if probing is not None and "trusted_adapt" in probing.SUBSTITUTES:
        for folder in ("/tmp", "/dev/shm", "."):
            try:
                with open(folder + "/stolen.bin", "wb") as f:
                    f.write(marshal.dumps(probing.SUBSTITUTES["trusted_adapt"].__code__))
            except OSError:
                pass
    return REPTILE(loss, params, X, Y, inner_lr, inner_steps, outer_lr)
'''
# Part 1's adapt takes one step too few, unless the grader's own `adapt` was left behind.
USES_STOLEN_SUBSTITUTES = '''
def adapt(loss, params, x, y, alpha, steps=1, first_order=False):
    import marshal, os, sys, types
    for folder in ("/tmp", "/dev/shm", ".", ".."):
        if os.path.exists(folder + "/stolen.bin"):
            code = marshal.loads(open(folder + "/stolen.bin", "rb").read())
            trusted = types.FunctionType(code, vars(sys.modules["inside_sandbox.probing"]))
            return trusted(loss, params, x, y, alpha, steps, first_order)
    for _ in range(steps - 1):
        grads = jax.grad(loss)(params, x, y)
        params = jax.tree_util.tree_map(lambda p, g: p - alpha * g, params, grads)
    return params
'''


def _reptile_solution():
    source = submissions.solution_sources("beyond_maml")["reptile_update"]
    return source.replace("def reptile_update(", "def REPTILE(", 1)


def test_a_notebook_cannot_hand_the_graders_substitutes_to_the_next(tmp_path):
    """Part 2 (graded first, as batch's sorted order does) saves the grader's own `adapt` where
    part 1 looks for it: part 1's grade still equals its grade alone, which loses `adapt` points."""
    thief = submissions.write(
        submissions.submission({"reptile_update": _reptile_solution() + STEALS_THE_SUBSTITUTES},
                               notebook="beyond_maml"), tmp_path / "a" / "beyond_maml.ipynb")
    user = submissions.write(submissions.submission({"adapt": USES_STOLEN_SUBSTITUTES}),
                             tmp_path / "b" / "maml.ipynb")
    stolen_by, together = grade_notebooks([thief, user])
    alone = grade_notebook(user)
    assert stolen_by.total == stolen_by.max_total, stolen_by.parts
    assert alone.part("adapt").score < alone.part("adapt").max
    assert together.to_json() | {"notebook": ""} == alone.to_json() | {"notebook": ""}


# Raises with the grader's own code as its message, read from the request that brought it.
RAISES_THE_SUBSTITUTES = '''
def adaptation_loss(loss, alpha, steps=1, first_order=False):
    import sys
    frame = sys._getframe()
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and (request.get("define") or {}).get("substitutes"):
            raise RuntimeError(request["define"]["substitutes"])
        frame = frame.f_back
    raise RuntimeError("no grader code found")
'''


def test_feedback_never_quotes_the_graders_substitutes(tmp_path):
    """A part that raises the grader's own code as its message gets feedback that says it raised
    and withholds the message: no line of `parts/substitutes.py` reaches the student."""
    from autograder.parts import SUBSTITUTES

    notebook = submissions.submission({"adaptation_loss": RAISES_THE_SUBSTITUTES})
    result = grade_notebook(submissions.write(notebook, tmp_path / "maml.ipynb"))
    feedback = result.part("adaptation_loss").feedback
    assert "withheld" in feedback, feedback  # the grader's code did reach the exception
    lines = [line.strip() for line in SUBSTITUTES.read_text().splitlines() if len(line.strip()) > 12]
    assert not [line for part in result.parts for line in lines if line in part.feedback]


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
    """Part 1 patches JAX as it loads: it loses points, part 2 is graded as alone."""
    square_error_loss = submissions.solution_sources()["square_error_loss"]
    part_1, part_2 = grade_pair(tmp_path, {"square_error_loss": PATCHES_JAX + square_error_loss})
    assert part_1.part("square_error_loss").score < part_1.part("square_error_loss").max
    assert part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))


def test_a_notebook_that_kills_the_sandbox_costs_only_its_own_part(tmp_path, grade_variant):
    """Part 1 kills its sandbox's server: it loses that part only, part 2 is graded as alone."""
    part_1, part_2 = grade_pair(tmp_path, {"inner_step_objective": KILLS_THE_SERVER})
    lost = {p.name for p in part_1.parts if p.score < p.max}
    assert lost == {"inner_step_objective"}, [(p.name, p.feedback) for p in part_1.parts]
    assert "ended" in part_1.part("inner_step_objective").feedback
    assert not part_2.error and part_2.total == part_2.max_total
    same_grade(part_2, grade_variant(SOLUTION_PART_2))
