"""What one notebook can cost: bounded time, and no timeout charged to a student whom someone
else's load starved of CPU."""

import subprocess
import sys
import time

import pytest
import submissions

from autograder import cgroups, student_process
from autograder.grade import grade_notebook

# Runs as the definitions load (a class body) and never finishes.
SLEEPS_AS_IT_LOADS = '''
import time

class Forever:
    time.sleep(100_000)
'''
# Every graded function of part 1 sleeps far past its check's limit.
HANGS = '''
def {name}(*args, **kwargs):
    import time
    time.sleep(100_000)
'''
# Needs about 30 s of CPU, well past the check's limit even on an idle CPU.
BUSY = '''
def inner_step_objective(g, alpha):
    import time
    end = time.process_time() + 30
    while time.process_time() < end:
        pass
    return g
'''


def _write(tmp_path, cells):
    return submissions.write(submissions.submission(cells), tmp_path / "maml.ipynb")


def test_a_notebook_that_sleeps_as_it_loads_costs_one_load_timeout(tmp_path, monkeypatch):
    """Loading the definitions is deterministic: once it times out, every later check is skipped
    at once instead of reloading (and timing out) again for each part."""
    monkeypatch.setattr(student_process, "STARTUP_SECONDS", 20.0)
    path = _write(tmp_path, {"inner_step_objective": SLEEPS_AS_IT_LOADS})
    start = time.monotonic()
    result = grade_notebook(path)
    assert time.monotonic() - start < 2 * 20 + 30  # one load timeout, not one per part (7)
    assert result.total == 0 and not result.grader_failed
    assert all("did not finish loading" in p.feedback for p in result.parts), result.parts


def test_a_notebook_that_hangs_everywhere_stops_at_its_time_budget(tmp_path, monkeypatch):
    """Checks stop once the notebook has used NOTEBOOK_SECONDS in all; the parts left are skipped
    with a message that says so."""
    monkeypatch.setattr(student_process, "NOTEBOOK_SECONDS", 30.0)
    path = _write(tmp_path, {name: HANGS.format(name=name) for name in submissions.GRADED_NAMES
                             if name != "MLP"})
    start = time.monotonic()
    result = grade_notebook(path)
    assert time.monotonic() - start < 30 + 40  # without the budget: one timeout per part
    assert not result.grader_failed and result.total <= result.part("MLP").max
    assert any("more than 30 s in all" in p.feedback for p in result.parts), result.parts


@pytest.fixture
def busy_machine():
    """Twenty busy processes outside every sandbox, each in a session of its own (the scheduler
    shares the CPUs between sessions and cgroups): someone else's load, twenty shares to the
    sandbox's one."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(20)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


@pytest.mark.skipif(cgroups.available() is None, reason="needs cgroups for CPU accounting")
def test_a_timeout_is_the_students_unless_others_starved_them(tmp_path, busy_machine):
    """Code that needs 30 s of CPU times out either way; on this machine, starved of CPU by
    twenty processes outside the sandbox, the timeout is the grader's failure (no score, graded
    again later), never a zero for the student."""
    path = _write(tmp_path, {"inner_step_objective": BUSY})
    result = grade_notebook(path, parts=["inner_step_objective"])
    assert result.grader_failed and result.total is None, result.parts
    assert "overloaded" in result.error


def test_a_busy_loop_on_an_idle_machine_is_the_students_timeout(tmp_path):
    """The control: the same code on an idle machine gets its CPU and times out by itself: a
    zero for that part, with the timeout in its feedback."""
    result = grade_notebook(_write(tmp_path, {"inner_step_objective": BUSY}),
                            parts=["inner_step_objective"])
    assert not result.grader_failed and result.total == 0
    assert "did not finish" in result.part("inner_step_objective").feedback
