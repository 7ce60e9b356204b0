"""The child process: a server in one sandbox that forks a worker for each notebook it is given.

The server runs no student code. It imports JAX, Flax, Optax, matplotlib and the probes once,
then waits for the parent to hand it a notebook: the notebook's request pipe, response pipe and
log, passed as descriptors over a Unix socket. For each it forks a worker, which initialises XLA,
reads the notebook's definitions from its request pipe, loads them and answers probe requests.
The server holds no notebook's code and no grader's code: both reach only the worker.

Where the grader runs as root, one sandbox serves notebook after notebook (a whole class, one
grading process's share). Each worker runs under a uid of its own, picked by the parent; the
server keeps the sandbox's root uid with only CAP_SETUID and CAP_SETGID, and cannot be traced
(not dumpable), so no worker can signal, trace, limit or renice it. Before each notebook after
the first, the server ends every process of the previous notebook's uid and deletes what it left
in /tmp and /dev/shm (the only places its uid can write), then checks that nothing of it is left:
no process but bubblewrap's init and the server, nothing in /tmp or /dev/shm, no System V IPC
object. If anything is left it refuses the notebook and the parent starts a fresh sandbox.
Without root, every sandbox serves one notebook.

Usage (by `autograder.isolation.student_process` only, through
`autograder.isolation.sandbox.inside_command`):
  python -I inside_sandbox/child.py CONTROL_FD STATUS_FD SANDBOXED

``CONTROL_FD`` is a Unix seqpacket socket. The parent sends ``INDEX UID`` (UID ``-``: the
server's own) with three descriptors: the notebook's request read end, response write end and
log. The server answers on ``STATUS_FD``, one line each: ``start INDEX`` once it forked the
worker, ``refused INDEX REASON`` when the sandbox is not clean, ``exit INDEX STATUS`` when a
worker ended. ``SANDBOXED`` is 1 when bubblewrap gave the sandbox a PID namespace of its own.

A worker's first request line is ``{"statements": [...]}``, the notebook's definitions. Then
requests are JSON lines ``{"id", "probe", "args"}``; the first request of each graded part also
carries ``"define"``: that part's probe source, and the grader's own versions of the parts it
builds on when it needs them (`inside_sandbox.probing.define`). Answers are ``{"up": true}``,
``{"ready": true, "load_errors"}``, then ``{"id", "ok": true, "value"}`` or ``{"id", "ok": false,
"kind", "error"}``, the kind one of ``missing_name``, ``not_implemented`` and ``raised``
(`inside_sandbox.probing.describe`).
"""

import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time
import traceback
import types

# The places a notebook's uid can write inside the sandbox (its cwd and HOME are in /tmp).
WRITABLE = ("/tmp", "/dev/shm")
CLEAN_SECONDS = 2.0  # for the previous notebook's killed processes to be gone
PR_SET_DUMPABLE = 4


def _plain(value):
    """Converts arrays and scalars to JSON-ready lists and floats."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    array = np.asarray(value, dtype=np.float64)
    return array.tolist() if array.ndim else float(array)


def _load(statements, namespace):
    errors = []
    for statement in statements:
        try:
            exec(compile(statement["source"], f"<cell {statement['cell']}>", "exec"), namespace)
        except BaseException as error:  # noqa: BLE001 - a failing statement costs only itself
            errors.append(f"cell {statement['cell']}: {type(error).__name__}: {error}"[:300])
    return errors


def serve(requests_fd: int, responses_fd: int, probing: types.ModuleType) -> None:
    """A notebook's worker: XLA, then the student's definitions, then one answer per request."""
    requests = os.fdopen(requests_fd, "r", encoding="utf-8")
    responses = os.fdopen(responses_fd, "w", encoding="utf-8")

    def send(message: dict) -> None:
        responses.write(json.dumps(message, allow_nan=True) + "\n")
        responses.flush()

    from inside_sandbox.lowering import share_mlir_context

    share_mlir_context()
    ones = probing.jax.device_put(probing.np.ones(2, probing.np.float32))
    probing.jax.jit(lambda x: x + 1)(ones).block_until_ready()  # XLA works
    send({"up": True})  # before any student code: a failure until here is the grader's
    statements = json.loads(requests.readline())["statements"]
    namespace = {"__name__": "__submission__"}
    send({"ready": True, "load_errors": _load(statements, namespace)})

    for line in requests:
        request = json.loads(line)
        try:
            if "define" in request:
                probing.define(**request["define"])
            value = probing.run(request["probe"], namespace, request["args"])
            send({"id": request["id"], "ok": True, "value": _plain(value)})
        except BaseException as error:  # noqa: BLE001 - report, then serve the next request
            send({"id": request["id"], "ok": False, **probing.describe(error)})


def _remove(path: str) -> None:
    """Deletes ``path`` whatever its modes (its owner runs this)."""
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        for name in os.listdir(path):
            _remove(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def _entries() -> set[str]:
    """What `WRITABLE` holds now; at the server's start, only bubblewrap's mount points (the
    folders above the bound scratch folder), which belong to root."""
    return {os.path.join(folder, name) for folder in WRITABLE if os.path.isdir(folder)
            for name in os.listdir(folder)}


def _end_everything_of(uid: int, own: set[str]) -> None:
    """In a child: becomes ``uid``, ends every other process of it, and deletes what it can in
    `WRITABLE` (but the sandbox's ``own`` entries)."""
    from inside_sandbox.limits import drop_privileges

    code = 1
    try:
        drop_privileges(uid)
        try:
            os.kill(-1, signal.SIGKILL)  # everything of this uid but init and this process
        except ProcessLookupError:
            pass
        for path in _entries() - own:
            try:
                _remove(path)
            except BaseException:  # noqa: BLE001 - what stays is found by `_left_over`
                pass
        code = 0
    finally:
        os._exit(code)


def _left_over(own: set[str]) -> str | None:
    """What the previous notebook left in the sandbox, or None when nothing is left."""
    deadline = time.monotonic() + CLEAN_SECONDS
    while True:
        running = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in (1, os.getpid()):
                try:
                    with open(f"/proc/{name}/stat", encoding="ascii") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue  # gone meanwhile
                if state != "Z":  # a zombie holds nothing and init reaps it
                    running.append(name)
        if not running:
            break
        if time.monotonic() > deadline:
            return f"{len(running)} processes of the previous notebook still run"
        time.sleep(0.01)
    if _entries() != own:
        return f"the previous notebook left files in {' or '.join(WRITABLE)}"
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                if len(f.read().splitlines()) > 1:
                    return f"the previous notebook left System V IPC objects ({kind})"
        except OSError:
            pass
    return None


def clear(previous_uid: int, own: set[str]) -> str | None:
    """Ends and deletes everything of the previous notebook (its uid ``previous_uid``) but the
    sandbox's ``own`` entries in `WRITABLE`; returns what could not be cleared, or None."""
    pid = os.fork()
    if pid == 0:
        _end_everything_of(previous_uid, own)
    os.waitpid(pid, 0)
    return _left_over(own)


def _not_dumpable() -> None:
    """No process of the server's uid can trace it or read its memory; none of another can."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _start_worker(fds, uid, sandboxed, closing, probing):
    """In the forked child: the notebook's worker, as ``uid``, in a new folder of its own."""
    from inside_sandbox.limits import drop_privileges

    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in closing:
            os.close(fd)
        requests_fd, responses_fd, log_fd = fds
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        if uid is not None:
            drop_privileges(uid)
        # In the sandbox /tmp is the notebook's own and is wiped after it; unsandboxed it is not.
        home = tempfile.mkdtemp(prefix="notebook-", dir="/tmp" if sandboxed else os.getcwd())
        os.chdir(home)
        os.environ["HOME"] = home
        serve(requests_fd, responses_fd, probing)
        code = 0
    except BaseException:  # noqa: BLE001 - into the log the parent shows
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - the student may have replaced or closed it
                pass
        os._exit(code)


def main() -> None:
    from inside_sandbox.limits import limit_resources

    limit_resources()  # before any student code; the sandbox has no capability to raise them
    control = socket.socket(fileno=int(sys.argv[1]))
    status_fd = int(sys.argv[2])
    # Pid 2 under bubblewrap's init: kill(-1) then reaches only this sandbox's processes.
    sandboxed = sys.argv[3] == "1" and os.getpid() == 2
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from inside_sandbox import probing  # imports jax before the student's code runs
    import matplotlib.pyplot  # noqa: F401 - nearly every notebook imports it: once, here

    # What the imports made is never garbage: no worker's collections scan it again (a full
    # collection of them took about 0.13 s, twice a notebook) nor copy its pages.
    gc.freeze()
    _not_dumpable()
    own = _entries()
    # A SIGCHLD wakes the loop below, which reports each ended worker's exit status.
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wakeup_write)
    workers, served, previous_uid = {}, 0, None

    def say(line: str) -> None:
        os.write(status_fd, (line + "\n").encode())

    while True:
        readable, _, _ = select.select([control, wakeup_read], [], [])
        if wakeup_read in readable:
            os.read(wakeup_read, 4096)
            while workers:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                if pid in workers:
                    say(f"exit {workers.pop(pid)} {os.waitstatus_to_exitcode(status)}")
        if control not in readable:
            continue
        message, fds, _, _ = socket.recv_fds(control, 256, 3)
        if not message:  # the parent is done with this sandbox
            for pid in workers:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            return
        index, uid_text = message.decode().split()
        uid = None if uid_text == "-" else int(uid_text)
        refused = None
        if len(fds) != 3:
            refused = "the parent sent no pipes"
        elif served and (not sandboxed or None in (uid, previous_uid) or uid == previous_uid):
            refused = "only a sandbox of its own, with a new uid, serves a second notebook"
        elif served:
            refused = clear(previous_uid, own)
        if refused is not None:
            for fd in fds:
                os.close(fd)
            say(f"refused {index} {refused}")
            continue
        served, previous_uid = served + 1, uid
        try:
            pid = os.fork()
        except OSError:  # out of processes: the parent grades it in a sandbox of its own
            for fd in fds:
                os.close(fd)
            say(f"refused {index} out of processes")
            continue
        if pid == 0:
            _start_worker(fds, uid, sandboxed,
                          (control.fileno(), status_fd, wakeup_read, wakeup_write), probing)
        workers[pid] = index
        for fd in fds:
            os.close(fd)  # the worker holds the only copies: its end is the parent's EOF
        say(f"start {index}")


if __name__ == "__main__":
    main()
