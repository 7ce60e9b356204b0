"""What one notebook can cost: bounded time, and no timeout charged to a student whom someone
else's load starved of CPU."""

import subprocess
import sys
import time

import pytest
import submissions

from autograder import parts
from autograder.grading.grade import grade_notebook
from autograder.isolation import cgroups, student_process

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
    monkeypatch.setattr(student_process, "NOTEBOOK_SECONDS", 10.0)
    path = _write(tmp_path, {name: HANGS.format(name=name) for name in submissions.GRADED_NAMES
                             if name != "MLP"})
    start = time.monotonic()
    result = grade_notebook(path)
    assert time.monotonic() - start < 10 + 40  # without the budget: one 20 s timeout per part
    assert not result.grader_failed and result.total <= result.part("MLP").max
    assert any("more than 10 s in all" in p.feedback for p in result.parts), result.parts


def _busy_check(starve):
    """Runs the BUSY check with a 6 s limit in a fresh sandbox, once its notebook has loaded,
    with twenty busy processes outside every sandbox while it runs when ``starve``, each in a
    session of its own (the scheduler shares the CPUs between sessions and cgroups: twenty
    shares to the sandbox's one). Returns the error it raised."""
    from autograder.grading.notebook import extract_definitions

    statements, _ = extract_definitions(submissions.submission({"inner_step_objective": BUSY}))
    hogs = []
    try:
        with student_process.StudentProcess(statements) as process:
            process._wait_ready()  # JAX imported and the definitions loaded at full speed
            if starve:
                hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                         start_new_session=True) for _ in range(20)]
            with pytest.raises((student_process.GraderError, student_process.StudentError)) as error:
                process.probe(parts.get("inner_step_objective"), "inner_step_objective", 6, g={"poly": [1.0, 0.0]}, alpha=0.1,
                              xs=[0.0])
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return error.value


@pytest.mark.skipif(cgroups.available() is None, reason="needs cgroups for CPU accounting")
def test_a_timeout_is_the_students_unless_others_starved_them():
    """Code that needs 30 s of CPU times out either way; starved of CPU by twenty processes
    outside the sandbox, the timeout is the grader's failure (no score: graded again later),
    never the student's."""
    error = _busy_check(starve=True)
    assert isinstance(error, student_process.GraderError) and "overloaded" in str(error)


def test_a_busy_loop_on_an_idle_machine_is_the_students_timeout():
    """The control: the same code on an idle machine gets its CPU and times out by itself,
    the student's timeout."""
    error = _busy_check(starve=False)
    assert isinstance(error, student_process.StudentTimeout), error


# Hostile code run by the first check of each notebook: fills /tmp (a tmpfs: RAM), starts 100
# processes that each touch 150 MiB (smaller than a grading process, which the kernel's OOM killer
# then picks first), then busy processes up to the process limit, each in a session of its own
# (the scheduler's share per session), and keeps its sandbox alive for the check's whole limit.
BOMBS = '''
    import mmap, os, time

    def spawn(work):
        try:
            if os.fork() == 0:
                try:
                    work()
                finally:
                    os._exit(0)
            return True
        except OSError:
            return False

    def touch_memory():
        memory = mmap.mmap(-1, 150 << 20)
        for offset in range(0, 150 << 20, 4096):
            memory[offset] = 1
        time.sleep(60)

    def spin():
        os.setsid()
        end = time.time() + 60
        while time.time() < end:
            pass

    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(6 * 1024):
                f.write(b"x" * (1 << 20))
    except OSError:
        pass
    for _ in range(100):
        spawn(touch_memory)
    for _ in range(1000):
        if not spawn(spin):
            break
    time.sleep(60)
'''


def _bomber(tmp_path):
    """Part 1 and part 2 with the bombs in their first graded function."""
    folder = tmp_path / "submitted" / "a-bomber" / "maml"
    first = ("def inner_step_objective(g, alpha):" + BOMBS + "    return g\n")
    submissions.write(submissions.submission({"inner_step_objective": first}),
                      folder / "maml.ipynb")
    second = ("def reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr):" + BOMBS
              + "    return params\n")
    submissions.write(submissions.submission({"reptile_update": second}, notebook="beyond_maml"),
                      folder / "beyond_maml.ipynb")


@pytest.mark.skipif(cgroups.available() is None, reason="needs cgroups to confine the test")
def test_resource_bombs_cost_their_classmates_nothing(tmp_path):
    """A student whose notebooks fill /tmp, touch 15 GiB and fork busy processes up to the limit
    is graded beside alice (two jobs, so at the same time): alice gets full marks, exactly as
    alone. The whole batch runs in a cgroup of the test's own (12 GiB, 3,000 processes), so the
    test cannot harm this machine whatever the grader lets through."""
    import json
    import shutil

    from autograder.grading import nbgrader_course as course

    _bomber(tmp_path)
    alice = tmp_path / "submitted" / "alice" / "maml"
    alice.mkdir(parents=True)
    for name in ("maml.ipynb", "beyond_maml.ipynb"):
        shutil.copy(submissions.EXAMPLES_DIR / "alice" / name, alice / name)
    out = tmp_path / "grades.jsonl"
    confinement = cgroups.SandboxCgroup.create(f"test-class-{id(tmp_path)}", 12 * 1024 ** 3, 3000)
    try:
        completed = subprocess.run(
            confinement.launcher([sys.executable, "-m", "autograder.batch", str(tmp_path / "submitted"),
                                  "--out", str(out), "--jobs", "2", "--skip-self-check"]),
            capture_output=True, text=True, cwd=submissions.ROOT, timeout=900)
    finally:
        confinement.remove()
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    graded = {(r["student"], r["path"].rsplit("/", 1)[-1]): r for r in lines}
    assert graded["alice", "maml.ipynb"]["total"] == 20.0, graded["alice", "maml.ipynb"]
    assert graded["alice", "beyond_maml.ipynb"]["total"] == 10.0
    assert all(p["feedback"] == "All checks passed." for (student, _), r in graded.items()
               if student == "alice" for p in r["parts"])
    bomber = graded["a-bomber", "maml.ipynb"]
    assert bomber["parts"][0]["score"] == 0 and not bomber["grader_failed"]
