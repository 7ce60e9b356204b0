"""Cgroups that bound each grading sandbox as a whole.

Resource limits (``setrlimit``) count per process or per user, and pages a sandbox writes to a
tmpfs belong to no process at all. Each sandbox therefore also runs in cgroups of its own, made
below the grader's own cgroup as ``maml-autograder/<name>``:

* memory: at most ``memory_bytes`` for all its processes together, tmpfs pages included, and no
  swap beyond it; past it, the kernel's OOM killer ends a process of the sandbox;
* pids: at most ``max_processes`` processes and threads, which stops a fork bomb;
* cpu: the default weight, so that sandboxes share the CPUs fairly however many processes each
  starts;
* accounting: the CPU time it used, and the time it was runnable but waiting for a CPU (CPU
  pressure), which tells a sandbox starved by others from one that was slow by itself.

Both cgroup v2 and v1 (controllers mounted one by one, with the controller-less cgroup2 hierarchy
at ``/sys/fs/cgroup/unified`` joined for accounting) are supported. Where cgroups cannot be used
(no delegation, a read-only cgroupfs, a v2 parent cgroup that holds processes),
`SandboxCgroup.create` returns None and nothing raises: the per-process limits are then the only
bound.
"""

import contextlib
import functools
import os
import pathlib
import signal
import time

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")  # tests point it elsewhere
PARENT = "maml-autograder"  # shared by concurrent graders; removed by whoever empties it last
MEMORY_BYTES = 4 * 1024 ** 3
_WAIT_SECONDS = 5.0  # how long kill() and remove() each keep trying
# Joins the cgroup.procs files given as arguments, then execs the rest; `-e`: any failure stops it.
_JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n - 1)); done; exec "$@"'


def _write(path: pathlib.Path, value: object) -> None:
    path.write_text(f"{value}\n")


def _read(path: pathlib.Path) -> str | None:
    with contextlib.suppress(OSError):
        return path.read_text()
    return None


def _hierarchies() -> dict[str, pathlib.Path]:
    """The calling process's own cgroup directory per role (memory, pids, cpu, ..., unified)."""
    own = {}  # controllers ("memory", "cpu,cpuacct"; "" for cgroup2) -> path
    for line in (_read(pathlib.Path("/proc/self/cgroup")) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path.lstrip("/")
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # pure v2: one hierarchy does everything
        return dict.fromkeys(["memory", "pids", "cpu", "unified"], CGROUP_ROOT / own.get("", ""))
    found = {}
    for controllers, path in own.items():
        for role in controllers.split(","):
            if role in ("memory", "pids", "cpu", "cpuacct", "freezer"):
                mount = CGROUP_ROOT / controllers
                found[role] = (mount if mount.is_dir() else CGROUP_ROOT / role) / path
    if "" in own and (CGROUP_ROOT / "unified" / "cgroup.procs").exists():
        found["unified"] = CGROUP_ROOT / "unified" / own[""]
    return found


class SandboxCgroup:
    """The cgroups of one sandbox, one per usable hierarchy.

    Attributes:
        paths: The sandbox's cgroup directory per role ("memory", "pids", "cpu", "cpuacct",
            "freezer", "unified"); on cgroup v2 all roles share one directory.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.paths: dict[str, pathlib.Path] = {}

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_processes: int) -> "SandboxCgroup | None":
        """Makes the sandbox's cgroups with its limits, or returns None (leaving nothing behind).

        Args:
            name: Unique among the sandboxes that run at the same time.
            memory_bytes: Memory of all its processes together, tmpfs pages included; no swap.
            max_processes: Processes and threads that may exist in it at the same time.

        Returns:
            The sandbox's cgroups, or None where the memory or pids controller cannot be used.
        """
        for _ in range(3):  # a sibling's remove() may delete the shared parent under our feet
            sandbox = cls(name)
            try:
                sandbox._make(memory_bytes, max_processes)
                return sandbox
            except (OSError, KeyError, ValueError) as error:
                sandbox.remove()
                if not isinstance(error, FileNotFoundError):
                    return None
        return None

    def _make(self, memory_bytes: int, max_processes: int) -> None:
        own = _hierarchies()
        v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
        if v2:  # controllers must be enabled from the top; fails if our own cgroup has processes
            for folder in (own["memory"], own["memory"] / PARENT):
                folder.mkdir(exist_ok=True)
                for controller in ("memory", "pids", "cpu"):
                    with contextlib.suppress(OSError):
                        _write(folder / "cgroup.subtree_control", f"+{controller}")
        for role in ("memory", "pids", "cpu", "cpuacct", "freezer", "unified"):
            try:
                folder = own[role] / PARENT / self.name
                if folder not in self.paths.values():  # v2, or co-mounted v1 controllers
                    (own[role] / PARENT).mkdir(exist_ok=True)
                    folder.mkdir()  # never a cgroup we did not make
                self.paths[role] = folder
                if role == "cpu":
                    _write(folder / ("cpu.weight" if v2 else "cpu.shares"), 100 if v2 else 1024)
            except (OSError, KeyError):
                if role in ("memory", "pids"):
                    raise
        memory, pids = self.paths["memory"], self.paths["pids"]
        if v2:
            _write(memory / "memory.max", memory_bytes)
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", 0)
        else:  # memory+swap may not be set below memory alone
            _write(memory / "memory.limit_in_bytes", memory_bytes)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", memory_bytes)
        _write(pids / "pids.max", max_processes)

    def _read(self, role: str, file: str) -> str | None:
        return _read(self.paths[role] / file) if role in self.paths else None

    def _directories(self) -> list[pathlib.Path]:
        return list(dict.fromkeys(self.paths.values()))

    def launcher(self, command: list[str]) -> list[str]:
        """A command line that joins all the sandbox's cgroups, then execs `command`.

        Everything `command` starts is inside from its first instruction. If a cgroup cannot be
        joined, the command line exits non-zero without running `command`.

        Args:
            command: The program and its arguments.
        """
        procs = [str(folder / "cgroup.procs") for folder in self._directories()]
        return ["/bin/sh", "-ec", _JOIN, "sh", str(len(procs)), *procs, *command]

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by all the processes that were ever in the sandbox."""
        usage = self._read("cpuacct", "cpuacct.usage")
        if usage is not None:
            return int(usage) / 1e9
        for line in (self._read("unified", "cpu.stat") or "").splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
        return None

    def cpu_stall_seconds(self) -> float | None:
        """Time at least one of its tasks was runnable but waiting for a CPU, or None."""
        for line in (self._read("unified", "cpu.pressure") or "").splitlines():
            if line.startswith("some "):
                fields = dict(field.split("=") for field in line.split()[1:])
                return int(fields["total"]) / 1e6
        return None

    def memory_peak_bytes(self) -> int | None:
        """The most memory the sandbox used at once, or None."""
        for file in ("memory.max_usage_in_bytes", "memory.peak"):
            peak = self._read("memory", file)
            if peak is not None:
                return int(peak)
        return None

    def busy(self) -> bool:
        """Whether any thread of the sandbox is running, ready to run, or waiting for the disk
        (state R or D in ``/proc``), rather than sleeping or stopped."""
        for pid in self._pids():
            try:
                threads = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for thread in threads:
                stat = _read(pathlib.Path(f"/proc/{pid}/task/{thread}/stat")) or ""
                if stat.rpartition(")")[2].split()[:1] in (["R"], ["D"]):
                    return True
        return False

    def _pids(self) -> set[int]:
        return {int(pid) for folder in self._directories()
                for pid in (_read(folder / "cgroup.procs") or "").split()}

    def kill(self) -> None:
        """Kills every process in the sandbox, waiting a few seconds at most until none is left."""
        if "unified" in self.paths:  # atomic, even against fork (Linux 5.14+)
            with contextlib.suppress(OSError):
                _write(self.paths["unified"] / "cgroup.kill", 1)
        freezer = self.paths.get("freezer")
        deadline = time.monotonic() + _WAIT_SECONDS
        while True:
            with contextlib.suppress(OSError):  # frozen, they neither fork nor exit meanwhile
                if freezer is not None:
                    _write(freezer / "freezer.state", "FROZEN")
            pids = self._pids()  # a pid could be reused after it exits: rare, and frozen on v1
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):  # killed while frozen, they die once thawed
                if freezer is not None:
                    _write(freezer / "freezer.state", "THAWED")
            if not pids or time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def remove(self) -> None:
        """Kills every process in the sandbox, then deletes its cgroups; never raises."""
        self.kill()
        deadline = time.monotonic() + _WAIT_SECONDS
        for folder in self._directories():
            while folder.exists():  # busy until its last task has exited
                with contextlib.suppress(OSError):
                    folder.rmdir()
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            with contextlib.suppress(OSError):  # fails while a sibling sandbox uses it
                folder.parent.rmdir()


@functools.cache
def available() -> str | None:
    """The cgroup version, "v1" or "v2", if this process can make sandbox cgroups, else None.

    Found once, by making and removing a probe sandbox.
    """
    probe = SandboxCgroup.create(f"probe-{os.getpid()}", MEMORY_BYTES, 64)
    if probe is None:
        return None
    probe.remove()
    return "v2" if (CGROUP_ROOT / "cgroup.controllers").exists() else "v1"
