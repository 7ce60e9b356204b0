"""Least privilege for the student's process: bubblewrap, resource limits, a scratch directory.

The child runs in a bubblewrap (``bwrap``) sandbox built from an allowlist: the system's
libraries and programs, the Python installation and virtual environment, and the two packages it
imports (`autograder` without its graders and reference data, and `maml_helpers`), all read-only;
a fresh ``/tmp`` and a writable scratch directory. Nothing else of the filesystem is there (no
home directories, no course root, no other copy of this repository), there is no network, and it
has its own PID, IPC and UTS namespaces, a new session and an empty environment. Resource limits
(CPU seconds, address space, file size) are set by the child itself before any student code runs.

Where bubblewrap is missing or cannot create namespaces, grading still runs, without the
sandbox, and says so on stderr every time.
"""

import functools
import importlib.util
import pathlib
import resource
import shutil
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent
CPU_SECONDS = 600  # per child process; a probe's wall-clock limit is far lower
ADDRESS_SPACE_BYTES = 16 * 1024 ** 3  # XLA reserves address space generously; RAM use is ~1 GiB
FILE_BYTES = 64 * 1024 ** 2  # output log and any file the student writes
SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache",
          "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
          "/etc/nsswitch.conf", "/sys/devices/system/cpu"]


def _visible():
    """Everything the child may read: the system, Python, and the two packages it imports."""
    helpers = importlib.util.find_spec("maml_helpers").submodule_search_locations
    python = {pathlib.Path(p).resolve() for p in (sys.base_prefix, sys.prefix)}
    return [*map(pathlib.Path, SYSTEM), *sorted(python), PACKAGE, *map(pathlib.Path, helpers)]


@functools.cache
def bubblewrap():
    """The path of a working ``bwrap``, or None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "true"],
                           capture_output=True)
    return path if probe.returncode == 0 else None


def warn_unsandboxed():
    print("autograder: WARNING: bubblewrap (bwrap) is not available or cannot create namespaces; "
          "student code runs WITHOUT the filesystem and network sandbox (resource limits still "
          "apply). Install Debian's 'bubblewrap' package.", file=sys.stderr, flush=True)


def wrap(command, scratch, env):
    """``command`` run inside the sandbox, with ``scratch`` writable and ``env`` only."""
    bwrap = bubblewrap()
    if bwrap is None:
        warn_unsandboxed()
        return command
    args = [bwrap, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for path in _visible():
        args += ["--ro-bind-try", str(path), str(path)]
    for secret in (PACKAGE / "graders", PACKAGE / "reference"):  # hidden tests and references
        args += ["--tmpfs", str(secret)]
    args += ["--bind", str(scratch), str(scratch), "--remount-ro", "/", "--chdir", str(scratch)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + command


def limit_resources():
    """Caps CPU time, memory and file sizes; the child calls it before loading student code
    (not a ``preexec_fn``, which is unsafe to fork from a multithreaded parent)."""
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
