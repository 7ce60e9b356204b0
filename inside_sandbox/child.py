"""The child process: one per student, a worker forked from it for each of their notebooks.

The server runs no student code. It reads every notebook's definitions, drops privileges, imports
JAX, Flax, Optax, matplotlib and the probes once, then waits for the parent's word to start a
notebook's worker: it ends every other process in the sandbox (the previous notebook's and
anything it left running) and forks, so every notebook's code starts from the same fresh
interpreter, in a folder of its own, without paying for the imports again. Each worker initialises
XLA, loads one notebook's definitions and answers probe requests. Workers share the server's uid,
so the parent believes nothing from inside the sandbox: it only takes the plain numbers a worker
returns and compares them with its own expected values.

Requests are JSON lines ``{"id", "probe", "args"}``; the first request of each graded part also
carries ``"define"``: that part's probe source, and the grader's own versions of the parts it
builds on when it needs them (`inside_sandbox.probing.define`). Answers are ``{"id", "ok": true,
"value"}`` or ``{"id", "ok": false, "kind", "error"}``, the kind one of ``missing_name``,
``not_implemented`` and ``raised`` (`inside_sandbox.probing.describe`).

Usage (by `autograder.isolation.student_process` only, through `autograder.isolation.sandbox.inside_command`):
  python -I inside_sandbox/child.py SPEC_JSON CONTROL_FD STATUS_FD SANDBOXED

``SPEC_JSON`` lists the notebooks: ``[{"submission": path, "requests": fd, "responses": fd}]``.
The parent writes a notebook's index and a newline to ``CONTROL_FD`` to start its worker; when a
worker ends, the server writes ``INDEX EXIT_STATUS`` and a newline to ``STATUS_FD``.
``SANDBOXED`` is 1 when bubblewrap gave the sandbox a PID namespace of its own (only then does the
server end the other processes in it).
"""

import json
import os
import select
import signal
import sys
import tempfile
import traceback
import types


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


def serve(notebook: dict, statements: list[dict], probing: types.ModuleType) -> None:
    """A notebook's worker: XLA, then the student's definitions, then one answer per request."""
    requests = os.fdopen(notebook["requests"], "r", encoding="utf-8")
    responses = os.fdopen(notebook["responses"], "w", encoding="utf-8")

    def send(message: dict) -> None:
        responses.write(json.dumps(message, allow_nan=True) + "\n")
        responses.flush()

    probing.jax.jit(lambda x: x + 1)(probing.jnp.zeros(2)).block_until_ready()  # XLA works
    send({"up": True})  # before any student code: a failure until here is the grader's
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


def main() -> None:
    from inside_sandbox.limits import drop_privileges, limit_resources

    limit_resources()  # before any student code; the sandbox has no capability to raise them
    spec_path, control_fd, status_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # Pid 2 under bubblewrap's init: kill(-1) then reaches only this sandbox's processes.
    own_namespace = sys.argv[4] == "1" and os.getpid() == 2
    with open(spec_path, encoding="utf-8") as f:
        notebooks = json.load(f)
    submissions = []  # all read now: no worker can change another notebook's code
    for notebook in notebooks:
        with open(notebook["submission"], encoding="utf-8") as f:
            submissions.append(json.load(f))
    drop_privileges()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from inside_sandbox import probing  # imports jax before the student's code runs
    import matplotlib.pyplot  # noqa: F401 - nearly every notebook imports it: once, here

    # A SIGCHLD wakes the loop below, which reports each ended worker's exit status.
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wakeup_write)
    workers, pending = {}, b""
    while True:
        readable, _, _ = select.select([control_fd, wakeup_read], [], [])
        if wakeup_read in readable:
            os.read(wakeup_read, 4096)
            while workers:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                index = workers.pop(pid)
                os.write(status_fd, f"{index} {os.waitstatus_to_exitcode(status)}\n".encode())
        if control_fd in readable:
            chunk = os.read(control_fd, 4096)
            if not chunk:  # the parent is done with this student
                for pid in workers:
                    try:
                        os.waitpid(pid, 0)
                    except ChildProcessError:
                        pass
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                index = int(line)
                if own_namespace:
                    try:
                        os.kill(-1, signal.SIGKILL)  # everything but init and this server
                    except ProcessLookupError:
                        pass  # nothing else there
                try:
                    pid = os.fork()
                except OSError:  # out of processes: the parent retries in a sandbox of its own
                    os.write(status_fd, f"{index} -1\n".encode())
                    for fd in (notebooks[index]["requests"], notebooks[index]["responses"]):
                        _close(fd)
                    continue
                if pid == 0:  # the worker: none of the server's pipes, nor the others' notebooks
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    for fd in (control_fd, status_fd, wakeup_read, wakeup_write):
                        os.close(fd)
                    for other, notebook in enumerate(notebooks):
                        if other != index:
                            for fd in (notebook["requests"], notebook["responses"]):
                                _close(fd)
                    code = 1
                    try:
                        home = tempfile.mkdtemp(prefix=f"notebook-{index}-", dir=os.getcwd())
                        os.chdir(home)  # as alone: an empty folder of its own
                        os.environ["HOME"] = home
                        serve(notebooks[index], submissions[index], probing)
                        code = 0
                    except BaseException:  # noqa: BLE001 - into the log the parent shows
                        traceback.print_exc()
                    finally:
                        os._exit(code)
                workers[pid] = index
                for fd in (notebooks[index]["requests"], notebooks[index]["responses"]):
                    _close(fd)  # the worker holds the only copies: its end is the parent's EOF


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass  # a worker started before already closed it


if __name__ == "__main__":
    main()
