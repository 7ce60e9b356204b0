"""Least privilege for the student's process: bubblewrap, resource limits, a scratch directory.

The child runs in a bubblewrap (``bwrap``) sandbox built from an allowlist: the system's libraries
and programs, the Python installation and virtual environment, and the two packages it imports
(`inside_sandbox`, all the code that runs in the sandbox, and `maml_helpers`), all read-only; a
fresh ``/tmp`` and a writable scratch directory. No file of `autograder` is there: the graders,
closed forms and reference values are outside by default, not hidden by a mask. Nothing else of the
filesystem is there (no home directories, no course root, no other copy of this repository), there
is no network, and it has its own PID, IPC and UTS namespaces, a new session and an empty
environment. It holds no capabilities, runs as an unprivileged uid (its own one when the grader
runs as root) and cannot create user namespaces of its own (`autograder.isolation.seccomp`).
Resource limits (CPU seconds, address space, processes, file size) are set by the child itself
before any student code runs (`inside_sandbox.limits`).

Where bubblewrap is missing or cannot create namespaces, grading still runs, without the
sandbox, and says so on stderr every time.
"""

import functools
import importlib.util
import itertools
import os
import pathlib
import shutil
import subprocess
import sys

import inside_sandbox
from autograder.isolation import seccomp
from inside_sandbox.limits import RUN_AS

# The only folder of this project's code that the sandbox binds (besides `maml_helpers`).
INSIDE = pathlib.Path(inside_sandbox.__file__).resolve().parent
TMP_BYTES = 512 * 1024 ** 2  # the sandbox's /tmp, a tmpfs: RAM, so sized (and in its memory cgroup)
# All of a sandbox's processes together, tmpfs included (`autograder.isolation.cgroups`): grading a
# correct notebook peaks at about 300 MiB (each of alice's notebooks, measured in the sandbox's
# cgroup).
MEMORY_BYTES = 2 * 1024 ** 3
# When the grader runs as root, each sandbox runs as its own unprivileged uid (no passwd entry):
# root ignores RLIMIT_NPROC, and a uid of its own keeps one sandbox's count from another's.
_UID_BASE = 1 << 20
_uids = itertools.count()
SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache",
          "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
          "/etc/nsswitch.conf", "/etc/fonts", "/sys/devices/system/cpu"]


def _visible():
    """Everything the child may read: the system, Python, and the two packages it imports."""
    helpers = importlib.util.find_spec("maml_helpers").submodule_search_locations
    python = {pathlib.Path(p).resolve() for p in (sys.base_prefix, sys.prefix)}
    return [*map(pathlib.Path, SYSTEM), *sorted(python), INSIDE, *map(pathlib.Path, helpers)]


def inside_command(module: str, *args: str) -> list[str]:
    """The command that runs ``inside_sandbox.<module>`` with ``args``: isolated mode, importing
    exactly the `inside_sandbox` folder that the sandbox binds (`INSIDE`)."""
    boot = (f"import sys, runpy; sys.path.insert(0, {str(INSIDE.parent)!r}); "
            f"runpy.run_module('inside_sandbox.{module}', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-I", "-c", boot, *args]


@functools.cache
def bubblewrap() -> str | None:
    """The path of a working ``bwrap``, or None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-all", "true"],
                           capture_output=True)
    return path if probe.returncode == 0 else None


def warn_unsandboxed() -> None:
    print("autograder: WARNING: bubblewrap (bwrap) is not available or cannot create namespaces; "
          "student code runs WITHOUT the filesystem and network sandbox (resource limits still "
          "apply). Install Debian's 'bubblewrap' package.", file=sys.stderr, flush=True)


def _sandbox_uid():
    return _UID_BASE + ((os.getpid() % (1 << 20)) << 8 | next(_uids) % 256)


def separate_uids() -> bool:
    """Whether each notebook's worker runs under a uid of its own: the grader runs as root, in
    bubblewrap (without root the sandbox has one uid, the user's)."""
    return os.geteuid() == 0 and bubblewrap() is not None


def notebook_uid() -> int | None:
    """A new unprivileged uid for one notebook's worker where there are `separate_uids` (a server
    started with ``wrap(..., serves_notebooks=True)`` switches each worker to its own), else None."""
    return _sandbox_uid() if separate_uids() else None


def _ancestors(paths):
    """Directories above the bound paths, created world-traversable (bwrap makes them 0700)."""
    bound = {str(p) for p in paths}
    above = {str(parent) for p in paths for parent in pathlib.Path(p).parents}
    return sorted(above - bound - {"/"}, key=lambda d: (d.count("/"), d))


def wrap(command: list[str], scratch: str, env: dict[str, str], writable: tuple | list = (),
         readable: tuple | list = (), cwd: str | None = None,
         serves_notebooks: bool = False) -> list[str]:
    """``command`` run inside the sandbox with ``env`` only, in ``cwd`` (default ``scratch``):
    ``scratch`` and ``writable`` paths writable, ``readable`` ones read-only besides the
    allowlist.

    As root, the command drops to an unprivileged uid of the sandbox's own (`RUN_AS`), which
    owns ``scratch`` and ``writable``; with ``serves_notebooks`` it keeps the root uid with only
    CAP_SETUID and CAP_SETGID instead, owns ``scratch`` alone, and starts each notebook's worker
    under a uid from `notebook_uid` (`inside_sandbox.child`)."""
    bwrap = bubblewrap()
    if bwrap is None:
        warn_unsandboxed()
        return command
    env = dict(env)
    args = [bwrap, "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(TMP_BYTES),
            "--tmpfs", "/tmp",
            "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
    if os.geteuid() == 0:
        # No user namespace (it would map to root); the child drops to its own uid itself.
        if serves_notebooks:
            os.chmod(scratch, 0o700)
        else:
            uid = _sandbox_uid()
            for path in (scratch, *writable):
                os.chown(path, uid, uid)
                os.chmod(path, 0o711)
            env[RUN_AS] = str(uid)
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-all", "--disable-userns"]
    visible = _visible() + [pathlib.Path(p) for p in readable]
    rw = [pathlib.Path(p) for p in (scratch, *writable)]
    for directory in _ancestors(visible + rw):
        args += ["--perms", "0755", "--dir", directory]
    for path in visible:
        args += ["--ro-bind-try", str(path), str(path)]
    for path in rw:
        args += ["--bind", str(path), str(path)]
    args += ["--remount-ro", "/", "--chdir", str(cwd or scratch)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    # No nested user namespace either way: in one, student code would be root over its own files.
    return seccomp.launcher(args + command, scratch)
