"""The sandbox cgroups, with real cgroups and real processes started through the launcher.

Every child that forks or allocates much runs inside a sandbox cgroup with limits.
"""

import errno
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from autograder.isolation import cgroups
from autograder.isolation.cgroups import SandboxCgroup

pytestmark = pytest.mark.skipif(cgroups.available() is None,
                                reason="no cgroup this process may create (no cgroupfs, no "
                                       "write access, or a v2 parent cgroup holding processes)")

MIB = 1 << 20


@pytest.fixture
def sandbox():
    """Makes sandbox cgroups (200 MiB, 20 processes unless told) and removes them afterwards."""
    made = []

    def make(memory_bytes: int = 200 * MIB, max_processes: int = 20) -> SandboxCgroup:
        cgroup = SandboxCgroup.create(f"test-{os.getpid()}-{len(made)}", memory_bytes,
                                      max_processes)
        assert cgroup is not None
        made.append(cgroup)
        return cgroup

    yield make
    for cgroup in made:
        cgroup.remove()
        assert not any(path.exists() for path in cgroup.paths.values())


def python(cgroup: SandboxCgroup, code: str, **kwargs) -> subprocess.CompletedProcess:
    """Runs Python code in the sandbox."""
    return subprocess.run(cgroup.launcher([sys.executable, "-c", code]), capture_output=True,
                          text=True, timeout=30, **kwargs)


def cgroups_of(pid: int) -> dict[str, str]:
    """The cgroup path of a process per hierarchy ("" for cgroup2)."""
    lines = pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return dict(line.split(":", 2)[1:] for line in lines)


def test_launched_process_and_its_children_are_in_every_cgroup(sandbox):
    """A process started through the launcher, and the child it starts, are in all the cgroups."""
    cgroup = sandbox()
    process = subprocess.Popen(cgroup.launcher(["/bin/sh", "-c", "sleep 30 & echo $!; wait"]),
                               stdout=subprocess.PIPE, text=True)
    try:
        child = int(process.stdout.readline())
        suffix = f"/{cgroups.PARENT}/{cgroup.name}"
        for pid in (process.pid, child):
            inside = {hierarchy for hierarchy, path in cgroups_of(pid).items()
                      if path.endswith(suffix)}
            assert len(inside) == len(set(cgroup.paths.values()))
            assert {"memory", "pids"} <= inside or inside == {""}
    finally:
        cgroup.kill()
        process.wait(timeout=5)


def test_launcher_fails_without_running_the_command_if_it_cannot_join(sandbox, tmp_path):
    """Where a cgroup cannot be joined (here: removed), the launcher fails and runs nothing."""
    cgroup = sandbox()
    command = cgroup.launcher(["touch", str(tmp_path / "ran")])
    cgroup.remove()
    assert subprocess.run(command, capture_output=True).returncode != 0
    assert not (tmp_path / "ran").exists()


def test_pids_limit_stops_a_fork_bomb(sandbox):
    """With 20 processes at most, a process forking 60 children gets EAGAIN at the 20th."""
    cgroup = sandbox(max_processes=20)
    result = python(cgroup, """
import os
read, write = os.pipe()
forked = 0
try:
    for _ in range(60):
        if os.fork() == 0:  # children live until the parent exits
            os.close(write)
            os.read(read, 1)
            os._exit(0)
        forked += 1
except OSError as error:
    print(forked, error.errno)
""")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["19", str(errno.EAGAIN)]


def test_allocating_beyond_the_memory_limit_gets_the_process_killed(sandbox):
    """Touching 400 MiB under a 200 MiB limit (no swap) gets the process SIGKILLed by the OOM
    killer, its peak at the limit."""
    cgroup = sandbox(memory_bytes=200 * MIB)
    result = python(cgroup, "data = b'x' * (400 << 20)\nprint('survived')")
    assert result.returncode == -signal.SIGKILL and "survived" not in result.stdout
    assert 180 * MIB <= cgroup.memory_peak_bytes() <= 200 * MIB


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm")
def test_memory_limit_covers_tmpfs(sandbox):
    """Writing 300 MiB to a file on /dev/shm (tmpfs) under a 200 MiB limit gets the writer
    SIGKILLed once the file nears 200 MiB; the file's pages stay charged to the sandbox (a new
    100 MiB allocation there is killed too) until the file is deleted."""
    cgroup = sandbox(memory_bytes=200 * MIB)
    file = pathlib.Path(f"/dev/shm/maml-test-cgroups-{os.getpid()}")
    allocate = "data = b'x' * (100 << 20)\nprint('survived')"
    try:
        result = python(cgroup, f"""
with open({str(file)!r}, "wb", buffering=0) as file:
    for _ in range(300):
        file.write(b"x" * (1 << 20))
print("wrote it all")
""")
        assert result.returncode == -signal.SIGKILL and "wrote" not in result.stdout
        assert 150 * MIB <= file.stat().st_size <= 200 * MIB
        assert python(cgroup, allocate).returncode == -signal.SIGKILL
    finally:
        file.unlink(missing_ok=True)
    assert python(cgroup, allocate).stdout == "survived\n"


def test_cpu_seconds_count_what_the_sandbox_burns(sandbox):
    """A child busy for 1 s of CPU adds between 0.5 s and 3 s to cpu_seconds."""
    cgroup = sandbox()
    before = cgroup.cpu_seconds()
    result = python(cgroup, "import time\nwhile time.process_time() < 1: pass")
    assert result.returncode == 0, result.stderr
    assert 0.5 <= cgroup.cpu_seconds() - before <= 3


def test_cpu_stall_grows_when_the_sandbox_has_more_busy_processes_than_cpus(sandbox):
    """Three busy processes per CPU for 2 s add more than 0.5 s to cpu_stall_seconds."""
    cgroup = sandbox()
    before = cgroup.cpu_stall_seconds()
    if before is None:
        pytest.skip("no CPU pressure (PSI) here")
    busy = 3 * len(os.sched_getaffinity(0))
    result = python(cgroup, f"""
import os, time
children = []
for _ in range({busy} - 1):
    if os.fork() == 0:
        children = None
        break
    children.append(0)
end = time.monotonic() + 2
while time.monotonic() < end:
    pass
if children is None:
    os._exit(0)
for _ in children:
    os.wait()
""")
    assert result.returncode == 0, result.stderr
    assert cgroup.cpu_stall_seconds() - before > 0.5


@pytest.mark.parametrize("cgroup_kill", [True, False], ids=["cgroup.kill", "signals"])
def test_kill_ends_a_forking_tree_and_remove_leaves_nothing(sandbox, cgroup_kill):
    """kill() ends a fork bomb (all processes gone at once); remove() then leaves no cgroup
    directory. Without cgroup.kill it does so by freezing (v1) and signalling each process."""
    cgroup = sandbox(max_processes=50)
    if not cgroup_kill and cgroup.paths.get("unified") is not None:
        cgroup.paths["unified:hidden"] = cgroup.paths.pop("unified")  # still joined and removed
    procs = cgroup.paths["pids"] / "cgroup.procs"
    process = subprocess.Popen(cgroup.launcher([sys.executable, "-c", """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""]))
    deadline = time.monotonic() + 10
    while len(procs.read_text().split()) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(procs.read_text().split()) >= 40
    cgroup.kill()
    assert procs.read_text() == ""
    assert process.wait(timeout=5) == -signal.SIGKILL
    cgroup.remove()
    assert not any(path.exists() for path in cgroup.paths.values())


def test_create_returns_none_where_the_cgroup_root_is_missing(monkeypatch):
    """With no cgroupfs at CGROUP_ROOT, create() returns None instead of raising."""
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", pathlib.Path("/nonexistent/cgroup"))
    assert SandboxCgroup.create(f"test-{os.getpid()}-missing", 200 * MIB, 20) is None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run as an unprivileged user")
def test_create_returns_none_for_an_unprivileged_user(sandbox):
    """Run as nobody (no write access to the cgroups), create() and available() return None and
    leave no directory behind."""
    name = f"test-{os.getpid()}-nobody"
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    readable = subprocess.run(as_nobody + ["-c", "import sys; open(sys.argv[1]).close()",
                                           cgroups.__file__], capture_output=True, timeout=30)
    if readable.returncode != 0:
        pytest.skip(f"user nobody cannot run this venv's Python or read {cgroups.__file__}: a folder "
                    "above the checkout is closed to others (mode 700, as `mktemp -d` makes); clone "
                    "into a readable folder to run this test")
    code = ("import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('cgroups', sys.argv[1])\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "print(module.SandboxCgroup.create(sys.argv[2], 1 << 30, 10), module.available())")
    result = subprocess.run(as_nobody + ["-c", code, cgroups.__file__, name],
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (0, "None None\n"), result.stderr
    assert not any((path.parent / name).exists() for path in sandbox().paths.values())
