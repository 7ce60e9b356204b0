"""The student's process runs with least privilege: what it can see, write and reach."""

import os
import pathlib
import socket

import pytest
import submissions

from autograder import parts
from autograder.grading.notebook import extract_definitions
from autograder.isolation import cgroups, compilation_cache, sandbox
from autograder.isolation.student_process import StudentProcess, XLA_FLAGS
from inside_sandbox.limits import PROCESS_LIMIT

ROOT = submissions.ROOT
INNER_STEP = parts.get("inner_step_objective")
OUTSIDE = pathlib.Path("/var/tmp/maml-grader-secret-copy.py")  # e.g. another checkout's graders
CACHE_ENTRIES = compilation_cache.directory(XLA_FLAGS) / compilation_cache.ENTRIES
# Things student code must not reach; each probe answers 1.0 if it succeeded.
ATTEMPTS = {
    "read the instructor notebook": f"open({str(submissions.SOURCE)!r}).read()",
    "read the solutions": f"open({str(ROOT / 'solutions/maml/maml.ipynb')!r}).read()",
    "read the reference data": f"open({str(ROOT / 'autograder/parts/adapt/reference.json')!r}).read()",
    "read the hidden graders": f"open({str(ROOT / 'autograder/parts/adapt/checks.py')!r}).read()",
    "import the instructor's implementations": "import experiments.methods",
    "list the course root": f"assert os.listdir({str(ROOT)!r}) and 'gradebook.db' in os.listdir({str(ROOT)!r})",
    "write into the repository": f"open({str(ROOT / 'autograder/pwned.py')!r}, 'w').write('x')",
    "edit the grader": f"open({str(ROOT / 'autograder/grading/grade.py')!r}, 'a').write('#')",
    "plant an entry in the compilation cache": f"open({str(CACHE_ENTRIES / 'jit_f-0-cache')!r}, "
                                               "'w').write('x')",
    "list the compilation cache (the reference solutions, compiled)":
        f"assert os.listdir({str(CACHE_ENTRIES)!r}) is not None",
    "write to the home directory": "open(os.path.expanduser('~root/pwned'), 'w').write('x')",
    "read a file elsewhere on the machine": f"open({str(OUTSIDE)!r}).read()",
    "connect to a local server": "socket.create_connection(('127.0.0.1', PORT), timeout=2)",
    "hold capabilities or root": "assert os.geteuid() == 0 or int(open('/proc/self/status').read()"
                                 ".split('CapEff:')[1].split()[0], 16)",
    "create a device node": "os.mknod('/tmp/disk', 0o600 | stat.S_IFBLK, os.makedev(8, 0))",
    "start more processes than the limit": f"fork_sleepers({PROCESS_LIMIT + 50})",
    "create a user namespace (root over its own files)": "user_namespace_in_a_child()",
}
FORK_SLEEPERS = """
def user_namespace_in_a_child():
    pid = os.fork()  # unshare needs a single-threaded process
    if pid == 0:
        import ctypes
        os._exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0 else 1)
    assert os.waitpid(pid, 0)[1] == 0

def fork_sleepers(count):
    children = []
    try:
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                time.sleep(2)
                os._exit(0)
            children.append(pid)
    finally:
        for pid in children:
            os.waitpid(pid, 0)
"""


@pytest.fixture(scope="module", autouse=True)
def secret_elsewhere():
    OUTSIDE.write_text("def trusted_adapt(): pass\n")
    yield
    OUTSIDE.unlink()


@pytest.fixture(scope="module")
def server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    yield listener.getsockname()[1]
    listener.close()


HARMLESS = ["read the instructor notebook", "read the reference data", "connect to a local server",
            "read a file elsewhere on the machine", "import the instructor's implementations",
            "create a user namespace (root over its own files)"]
if os.geteuid() == 0:  # unsandboxed root keeps its capabilities and ignores RLIMIT_NPROC
    HARMLESS += ["hold capabilities or root"]
    if cgroups.available() is None:  # a sandbox's cgroup limits its processes even unsandboxed
        HARMLESS += ["start more processes than the limit"]


def attempt_results(port, names=tuple(ATTEMPTS)):
    """Runs the attempts inside the real child process; returns {attempt: succeeded}."""
    body = "\n".join(
        f"    try:\n        {ATTEMPTS[name]}\n        results.append(1.0)\n    except BaseException:\n"
        f"        results.append(0.0)" for name in names)
    code = f'''
import os, socket, stat, time
PORT = {port}
{FORK_SLEEPERS}
def inner_step_objective(g, alpha):
    results = []
{body}
    return lambda x: g(x) * 0.0 + sum(r * 2.0 ** i for i, r in enumerate(results))
'''
    notebook = submissions.submission({"inner_step_objective": code})
    statements, _ = extract_definitions(notebook)
    with StudentProcess(statements) as process:
        encoded = int(process.probe(parts.get("inner_step_objective"), "inner_step_objective", 60, g={"poly": [1.0, 0.0]}, alpha=0.1,
                                    xs=[0.0])["values"][0])
    return {name: bool(encoded >> i & 1) for i, name in enumerate(names)}


@submissions.NEEDS_BUBBLEWRAP
def test_student_code_cannot_reach_instructor_files_or_the_network(server, tmp_path):
    """Inside the sandbox every attempt fails, and nothing appears on disk outside scratch."""
    (ROOT / "gradebook.db").touch(exist_ok=True)
    grader_before = (ROOT / "autograder" / "grading" / "grade.py").read_bytes()
    results = attempt_results(server)
    assert not [name for name, succeeded in results.items() if succeeded]
    assert not (ROOT / "autograder" / "pwned.py").exists()
    assert not pathlib.Path("~root/pwned").expanduser().exists()
    assert "jit_f-0-cache" not in compilation_cache.names(CACHE_ENTRIES.parent)
    assert not (CACHE_ENTRIES / "jit_f-0-cache").exists()
    assert (ROOT / "autograder" / "grading" / "grade.py").read_bytes() == grader_before


def test_the_probe_detects_success_when_unsandboxed(server, monkeypatch):
    """Without bubblewrap the harmless attempts succeed, so the test above can fail."""
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    assert all(attempt_results(server, HARMLESS).values())


# After its first answer, shrinks every pipe it holds to one page and stops its own process.
STOPS_READING = '''
def inner_step_objective(g, alpha):
    import fcntl, os, signal, threading, time

    def stop():
        time.sleep(0.5)
        for fd in range(256):
            try:
                fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ
            except OSError:
                pass
        os.kill(os.getpid(), signal.SIGSTOP)

    threading.Thread(target=stop, daemon=True).start()
    return g
'''


def test_a_process_that_stops_reading_cannot_block_the_grader():
    """A request far larger than the worker's (shrunk) pipe, to a stopped worker, ends in a
    timeout within the check's limit instead of blocking the grader for ever."""
    import threading
    import time

    from autograder.isolation.errors import StudentTimeout

    statements, _ = extract_definitions(submissions.submission(
        {"inner_step_objective": STOPS_READING}))
    outcome = []

    def grade():
        with StudentProcess(statements) as process:
            process.probe(INNER_STEP, "inner_step_objective", 60, g={"poly": [1.0, 0.0]}, alpha=0.1, xs=[0.0])
            time.sleep(2)
            try:
                process.probe(INNER_STEP, "inner_step_objective", 5, g={"poly": [1.0, 0.0]}, alpha=0.1,
                              xs=[0.5] * 20_000)
            except StudentTimeout as error:
                outcome.append(str(error))

    thread = threading.Thread(target=grade, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the grader blocked on a stopped worker"
    assert outcome and "requests" in outcome[0]


WAITS = {  # student code that hangs without computing
    "sleeps": "import time\n    time.sleep(1000)",
    "blocks on a read": "import os\n    read, _ = os.pipe()\n    os.read(read, 1)",
}
BUSY_LOOP = "while True:\n        pass"


def hang(body):
    return submissions.submission({"inner_step_objective": (
        f"def inner_step_objective(g, alpha):\n    {body}\n")})


def timed_probe(body, limit):
    """``(seconds, message)`` of a probe of code that never answers, under ``limit`` seconds."""
    import time

    from autograder.isolation.errors import StudentTimeout

    statements, _ = extract_definitions(hang(body))
    with StudentProcess(statements) as process:
        start = time.monotonic()
        with pytest.raises(StudentTimeout) as raised:
            process.probe(INNER_STEP, "inner_step_objective", limit, g={"poly": [1.0, 0.0]},
                          alpha=0.1, xs=[0.0])
        return time.monotonic() - start, str(raised.value)


@pytest.mark.skipif(cgroups.available() is None, reason="needs cgroups to see a sandbox idle")
@pytest.mark.parametrize("how", WAITS)
def test_a_check_that_only_waits_is_ended_early(how):
    """Code that sleeps or blocks on a read, computing nothing, is ended about IDLE_SECONDS after
    it stops (plus its start-up), not at the check's 60 s limit, with a message saying why."""
    from autograder.isolation.student_process import IDLE_SECONDS

    seconds, message = timed_probe(WAITS[how], 60)
    assert seconds < IDLE_SECONDS + 15, seconds  # JAX's start-up in the child: up to ~10 s
    assert "stopped computing" in message and "only waited" in message


@pytest.mark.skipif(cgroups.available() is None, reason="needs cgroups to see a sandbox idle")
def test_a_busy_loop_keeps_the_checks_whole_limit():
    """Code that computes for ever is not idle: it is ended at the check's limit, as before."""
    seconds, message = timed_probe(BUSY_LOOP, 10)
    assert seconds >= 10 and "did not finish running a check within 10 s" in message
