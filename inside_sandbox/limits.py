"""Resource limits and an unprivileged uid, set by the sandboxed process itself before any
student code runs (the sandbox holds no capability to raise them again)."""

import os
import resource

CPU_SECONDS = 600  # per child process; a probe's wall-clock limit is far lower
ADDRESS_SPACE_BYTES = 16 * 1024 ** 3  # XLA reserves address space generously; RAM use is ~1 GiB
FILE_BYTES = 64 * 1024 ** 2  # output log and any file the student writes
# Processes and threads of the sandbox's user; XLA and Jupyter start about 2 threads per core.
PROCESS_LIMIT = 256 + 8 * (os.cpu_count() or 1)
# When the grader runs as root, the sandbox's own unprivileged uid (`autograder.isolation.sandbox`).
RUN_AS = "AUTOGRADER_RUN_AS"


def drop_privileges(uid: int | None = None) -> None:
    """Becomes ``uid``, or the sandbox's own unprivileged uid when started as root (`RUN_AS`),
    with no capabilities."""
    uid = uid if uid is not None else os.environ.pop(RUN_AS, None)
    if uid is not None:
        os.setgroups([])
        os.setresgid(int(uid), int(uid), int(uid))
        os.setresuid(int(uid), int(uid), int(uid))


def limit_resources() -> None:
    """Caps CPU time, memory, processes and file sizes (called by the process itself: a
    ``preexec_fn`` is unsafe to fork from a multithreaded parent)."""
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
