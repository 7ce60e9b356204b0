"""The trusted side of the child process: start it, send probe requests, enforce time limits."""

import functools
import itertools
import json
import multiprocessing.util
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from autograder.isolation import cgroups, compilation_cache, sandbox
from autograder.isolation.errors import CodeRaised, GraderError, KINDS, StudentError, StudentTimeout
from inside_sandbox.limits import PROCESS_LIMIT

if TYPE_CHECKING:
    from autograder.parts import Part

STARTUP_SECONDS = 60.0
# All the checks of one notebook together: a correct one takes about 10 s, so 30x that. Past it,
# the remaining checks are skipped: a notebook that hangs in every part costs this much, no more.
NOTEBOOK_SECONDS = 300.0
# A wait that timed out is the machine's fault, not the student's, when for more than this share
# of it the sandbox had work ready to run yet got less than this share of one CPU.
STARVED_SHARE = 0.5
# A check whose sandbox computes nothing for this long (every thread asleep or stopped, and almost
# no CPU used: a sleep, a read or an input that never comes) is ended then, not at its limit; code
# that computes, a busy loop included, keeps its whole limit. Only where the sandbox has cgroups.
IDLE_SECONDS = 5.0
IDLE_POLL_SECONDS = 0.5
IDLE_CPU_SHARE = 0.02  # of one CPU, between two polls: the child's own bookkeeping stays below
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Grading compiles dozens of tiny programs and runs each once, so the child compiles for speed of
# compiling: no expensive LLVM passes (about 20% of grading time), and XLA's older loop emitters
# instead of the fusion emitters (about 40% of compile time; BENCHMARKS.md).
XLA_FLAGS = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
             "--xla_cpu_use_fusion_emitters=false")
# Extra XLA flags for the child, appended to XLA_FLAGS (e.g. --xla_cpu_max_isa=SSE4_2 to grade
# as an older CPU would); `python -m autograder --xla-flags` sets it.
EXTRA_XLA_FLAGS = "AUTOGRADER_XLA_FLAGS"


def _plain(statement):
    return {"cell": statement.cell, "source": statement.source}


_sandboxes = itertools.count()
IDLE_SANDBOXES = 2  # kept by a `SandboxPool` (more only where notebooks need other settings)


def sandbox_settings() -> tuple[str, str | None, str | None]:
    """What a new sandbox takes from the grader's environment: its XLA flags, the compilation
    cache setting and PATH. A pooled sandbox serves only notebooks graded under the same."""
    return (f"{XLA_FLAGS} {os.environ.get(EXTRA_XLA_FLAGS, '')}".strip(),
            os.environ.get(compilation_cache.SETTING), os.environ.get("PATH"))


def child_settings(xla_flags: str) -> dict[str, str]:
    """The environment the child runs JAX under, but for its paths and the compilation cache."""
    return {"JAX_PLATFORMS": "cpu", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
            "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_FLAGS": xla_flags}


def _cgroup():
    """Cgroups of a new sandbox (`autograder.isolation.cgroups`), or None where the machine has none
    usable (said once on stderr)."""
    made = cgroups.SandboxCgroup.create(f"sandbox-{os.getpid()}-{next(_sandboxes)}",
                                        sandbox.MEMORY_BYTES, PROCESS_LIMIT)
    if made is None:
        _warn_no_cgroups()
    return made


@functools.cache  # once per process
def _warn_no_cgroups():
    print("autograder: WARNING: no usable cgroups: each sandbox's processes are limited one "
          "by one, not as a whole (SECURITY.md)", file=sys.stderr, flush=True)


class Sandbox:
    """One bubblewrap sandbox with the child server (`inside_sandbox.child`), which forks a worker
    for each notebook it is handed.

    It starts at once, importing JAX while the parent sets up its graders. Where it is `reusable`
    (the grader runs as root, so each notebook's worker gets a uid of its own), it serves one
    notebook after another, clearing everything of the previous one first (`SandboxPool`);
    otherwise it serves one notebook. `kill` ends the sandbox with everything in it.
    """

    def __init__(self, fill_cache=False):
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="maml-grading-"))
        self._fill_cache = fill_cache
        self._staging = None
        self.process = None
        self._killed = False
        self._notebooks = {}  # index: (request_write, response_read), the parent's ends
        self._statuses = {}  # index: {"start": "", "refused": reason, "exit": status}
        self._status_buffer = b""
        self.served = 0
        self.settings = sandbox_settings()
        self.reusable = not fill_cache and sandbox.separate_uids()
        self._control, child_control = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._status, status_write = os.pipe()
        child_fds = [child_control.fileno(), status_write]
        self.log = open(self.scratch / "server.log", "wb")
        self.cgroup = _cgroup()
        try:
            env, writable, readable = self._environment()
            sandboxed = "1" if sandbox.bubblewrap() is not None else "0"
            command = sandbox.inside_command("child", str(child_control.fileno()),
                                             str(status_write), sandboxed)
            command = sandbox.wrap(command, str(self.scratch), env, writable, readable,
                                   serves_notebooks=True)
            self.process = subprocess.Popen(
                command if self.cgroup is None else self.cgroup.launcher(command),
                cwd=self.scratch, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=self.log, pass_fds=child_fds, start_new_session=True)
        except OSError as error:  # no interpreter, no bubblewrap, no disk: the grader's fault
            self.kill()
            raise GraderError(f"the grader's own child process could not start ({error})") from None
        except BaseException:
            self.kill()
            raise
        finally:
            child_control.close()
            os.close(status_write)

    def _environment(self):
        xla_flags = self.settings[0]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.scratch),
               **child_settings(xla_flags)}
        writable, readable = [], []
        # Without bubblewrap nothing keeps a student's child from writing the cache: none then.
        self._cache = (compilation_cache.directory(xla_flags)
                       if self._fill_cache or sandbox.bubblewrap() is not None else None)
        if self._cache is not None and self._fill_cache:
            # Not in the scratch folder: that one stays the grader's alone (mode 0700).
            self._staging = pathlib.Path(tempfile.mkdtemp(prefix="maml-cache-staging-"))
            compilation_cache.prepare_staging(self._cache, self._staging)
            env.update(compilation_cache.child_env(self._cache, self._staging))
            writable.append(self._staging)
            if sandbox.separate_uids():
                # Both write it: the server (root without CAP_DAC_OVERRIDE) matplotlib's font
                # list at import, the trusted worker (its own uid) the compiled programs.
                os.chmod(self._staging, 0o777)
        elif self._cache is not None:
            env.update(compilation_cache.child_env(self._cache))
            readable.append(self._cache / compilation_cache.ENTRIES)
            compilation_cache.copy_font_list(self._cache, self.scratch)
        return env, writable, readable

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def usage(self) -> tuple[float, float | None, float | None]:
        """``(time, CPU seconds, CPU stall seconds)`` now, for `starved` (None where unknown)."""
        if self.cgroup is None:
            return time.monotonic(), None, None
        return time.monotonic(), self.cgroup.cpu_seconds(), self.cgroup.cpu_stall_seconds()

    def starved(self, since: tuple[float, float | None, float | None]) -> str | None:
        """Why the sandbox was starved of CPU by others since `usage` gave ``since``, or None:
        its processes were ready to run (CPU pressure) most of the time, yet ran little."""
        start, cpu, stall = since
        _, cpu_now, stall_now = self.usage()
        if None in (cpu, stall, cpu_now, stall_now):
            return None
        wall = time.monotonic() - start
        ran, waited = cpu_now - cpu, stall_now - stall
        if waited > STARVED_SHARE * wall and ran < STARVED_SHARE * wall:
            return (f"the grading machine was overloaded: in {wall:.0f} s the notebook's process "
                    f"waited {waited:.0f} s for a CPU and ran {ran:.1f} s; grade it again")
        return None

    def activity(self) -> tuple[float, float | None, bool]:
        """``(time, CPU seconds, busy)`` now, for `IdleWatch` (CPU None where unknown)."""
        if self.cgroup is None:
            return time.monotonic(), None, True
        return time.monotonic(), self.cgroup.cpu_seconds(), self.cgroup.busy()

    def start(self) -> int:
        """Hands the server a new notebook (its worker's pipes and log; its uid where it has one)
        and returns the notebook's index; `started` says whether its worker runs."""
        index, self.served = self.served, self.served + 1
        uid = sandbox.notebook_uid()
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        log = os.open(self.scratch / f"notebook-{index}.log",
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._notebooks[index] = (request_write, response_read)
        try:
            socket.send_fds(self._control, [f"{index} {'-' if uid is None else uid}".encode()],
                            [request_read, response_write, log])
        except OSError:
            pass  # the server is gone: `started` says so
        finally:
            for fd in (request_read, response_write, log):
                os.close(fd)
        return index

    def pipes(self, index: int) -> tuple[int, int]:
        """Notebook ``index``'s ``(request_write, response_read)``."""
        return self._notebooks[index]

    def _status_of(self, index: int, kinds: tuple[str, ...], timeout: float) -> dict:
        """The server's lines about notebook ``index`` (``{kind: rest}``), once one of ``kinds``
        came or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while not set(kinds) & set(self._statuses.get(index, {})) and self.process is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._status], [], [], remaining)[0]:
                break
            chunk = os.read(self._status, 4096)
            if not chunk:
                break
            self._status_buffer += chunk
            while b"\n" in self._status_buffer:
                line, self._status_buffer = self._status_buffer.split(b"\n", 1)
                said, number, *rest = line.decode(errors="replace").split(" ", 2) + [""]
                if number.isdigit():
                    self._statuses.setdefault(int(number), {})[said] = rest[0]
        return self._statuses.get(index, {})

    def started(self, index: int, timeout: float) -> str | None:
        """None once notebook ``index``'s worker runs; else why not (the server refused it: the
        previous notebook left something; or it never answered)."""
        said = self._status_of(index, ("start", "refused"), timeout)
        if "start" in said:
            return None
        return said.get("refused") or f"the sandbox's server did not answer within {timeout:.0f} s"

    def exit_status(self, index: int, timeout: float = 1.0) -> int | None:
        """The exit status of notebook ``index``'s worker, once it ended (None if not known)."""
        code = self._status_of(index, ("exit",), timeout).get("exit")
        try:
            return int(code) if code is not None else None
        except ValueError:
            return None

    def finish(self, index: int) -> None:
        """Done with notebook ``index``: its worker reads the end of its requests and exits."""
        for fd in self._notebooks.pop(index, ()):
            os.close(fd)

    def log_tail(self, index: int | None = None, limit: int = 600) -> str:
        """The end of the server's output and, with ``index``, that notebook's worker's."""
        text = ""
        for name in ["server.log"] + ([f"notebook-{index}.log"] if index is not None else []):
            try:
                text += (self.scratch / name).read_bytes().decode("utf-8", "replace") + " "
            except OSError:
                pass
        return " ".join(text.split())[-limit:]

    def close(self) -> None:
        """Ends the sandbox; a filling one is first let finish (its cache entries whole), then
        what it compiled is published."""
        if self._staging is not None and self.process is not None and not self._killed:
            for index in list(self._notebooks):
                self.finish(index)  # every worker reads EOF and exits
            self._control.close()  # then the server
            try:
                ended = self.process.wait(timeout=STARTUP_SECONDS) == 0
            except subprocess.TimeoutExpired:
                ended = False
            if ended:
                try:
                    compilation_cache.publish(self._staging, self._cache)
                except OSError as error:
                    print(f"autograder: could not fill the compilation cache ({error})",
                          file=sys.stderr, flush=True)
        self.kill()

    def kill(self) -> None:
        """Ends the sandbox with everything in it at once (nothing is published)."""
        if self._killed:
            return
        self._killed = True
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            self.process = None
        if self.cgroup is not None:  # whatever left the process group, and the cgroups
            self.cgroup.remove()
        for index in list(self._notebooks):
            self.finish(index)
        self._control.close()
        os.close(self._status)
        self.log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)


class SandboxPool:
    """Idle sandboxes, each handed to the next notebook where it can serve several
    (`Sandbox.reusable`): a grading process's notebooks then pay for importing JAX, Flax, Optax
    and matplotlib once, not once each. Its server clears everything of a notebook before the
    next one starts, and refuses when it cannot (`inside_sandbox.child`); the next notebook then
    gets a fresh sandbox (`StudentProcess`). Safe to share between threads."""

    def __init__(self):
        self._idle = []
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def take(self) -> "Sandbox":
        """An idle sandbox started with today's `sandbox_settings` that still runs, or a new
        one."""
        settings = sandbox_settings()
        with self._lock:
            dead = [s for s in self._idle if not s.alive]
            self._idle = [s for s in self._idle if s not in dead]
            found = next((s for s in reversed(self._idle) if s.settings == settings), None)
            if found is not None:
                self._idle.remove(found)
        for sandbox_ in dead:
            sandbox_.kill()
        return found or Sandbox()

    def put(self, used: "Sandbox") -> None:
        """Keeps ``used`` for the next notebook, or ends it if it cannot serve another."""
        ended = [used]
        with self._lock:
            if not self._closed and used.reusable and used.alive:
                self._idle.append(used)
                ended, self._idle = self._idle[:-IDLE_SANDBOXES], self._idle[-IDLE_SANDBOXES:]
        for sandbox_ in ended:
            sandbox_.close()

    @property
    def idle(self) -> tuple["Sandbox", ...]:
        """The sandboxes waiting for a notebook, oldest first."""
        with self._lock:
            return tuple(self._idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for sandbox_ in idle:
            sandbox_.close()


@functools.cache
def process_sandboxes() -> SandboxPool:
    """This process's pool, for every notebook it grades (a batch worker grades one student
    after another); its sandboxes end when the process exits."""
    pool = SandboxPool()
    multiprocessing.util.Finalize(pool, pool.close, exitpriority=10)
    return pool


class IdleWatch:
    """How long a sandbox has done nothing: every thread asleep or stopped at each poll, and
    under `IDLE_CPU_SHARE` of a CPU used between polls. A sandbox starved of CPU by others has
    threads ready to run, so it is never idle; without cgroups nothing is ever idle."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox
        self._last = sandbox.activity()[:2]  # (time, CPU seconds) at the previous poll
        self._since = None

    def idle_for(self) -> float:
        """Seconds the sandbox has been idle up to now (0 when it is working)."""
        now, cpu, busy = self._sandbox.activity()
        last_time, last_cpu = self._last
        self._last = (now, cpu)
        if busy or cpu is None or last_cpu is None or \
                cpu - last_cpu > IDLE_CPU_SHARE * (now - last_time):
            self._since = None
            return 0.0
        self._since = self._since or last_time
        return now - self._since


class StudentProcess:
    """A worker process holding one notebook's definitions, in a sandbox (`Sandbox`).

    `probe` sends one request and waits for the answer within a time limit. When the worker hangs
    or dies its sandbox is killed, and the next `probe` starts a fresh one, so one broken part costs
    only its own checks. With a `SandboxPool` the sandbox may have served notebooks before; its
    server then first clears everything of the previous one, or refuses, and this notebook gets a
    fresh sandbox: the grader's own versions of graded names reach a notebook's worker with its
    dependent parts, and nothing of that worker may reach the next.
    """

    def __init__(self, statements, fill_cache=False, sandboxes: SandboxPool | None = None):
        """``fill_cache``: trusted code only (the self-check); its compiled programs go into the
        compilation cache (`autograder.isolation.compilation_cache`), which every other child only
        reads; its sandbox serves it alone. ``sandboxes``: where to take a sandbox from and give
        it back (None: a sandbox of its own)."""
        self._statements = [_plain(s) for s in statements]
        self._fill_cache = fill_cache
        self._sandboxes = None if fill_cache else sandboxes
        self._sandbox = None
        self._budget_end = None  # NOTEBOOK_SECONDS after the first probe
        self._load_timed_out = False  # loading is deterministic: one timeout is enough
        self.load_errors = []

    def __enter__(self):
        self._start(wait=False)  # loads while the parent sets up its graders
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def _process(self):
        return self._sandbox.process if self._sandbox is not None else None

    def _start(self, wait=True, fresh=False, sandbox_=None):
        """A worker for this notebook in ``sandbox_``, else one from the pool, else a new one."""
        self._sandbox = sandbox_ or (self._sandboxes.take()
                                     if self._sandboxes is not None and not fresh
                                     else Sandbox(self._fill_cache))
        self._worker = self._sandbox.start()
        self._request_write, self._response_read = self._sandbox.pipes(self._worker)
        self._buffer = b""
        self._up = False
        self._ready = False
        self._defined = set()  # the parts whose probes this child has
        self._sequence = 0
        if wait:
            self._wait_ready()

    def _wait_up(self):
        """Waits for the child's word that it runs, before any student code: until then a failure
        is the grader's (a broken environment, bad XLA flags), never the student's."""
        if self._up:
            return
        reason = self._sandbox.started(self._worker, STARTUP_SECONDS)
        if reason is not None and self._sandbox.served > 1:  # a used sandbox that is not clean
            self.kill()
            self._start(wait=False, fresh=True)
            reason = self._sandbox.started(self._worker, STARTUP_SECONDS)
        if reason is None:
            try:
                deadline = time.monotonic() + STARTUP_SECONDS
                self._send((json.dumps({"statements": self._statements}) + "\n").encode(),
                           deadline)
                up = self._receive(deadline - time.monotonic(), "starting")
            except StudentTimeout:
                reason = f"no word from it within {STARTUP_SECONDS:.0f} s"
            except StudentError:
                code = (self._sandbox.exit_status(self._worker)
                        if self._sandbox is not None else None)
                reason = f"it ended with exit status {code}" if code is not None else "it broke off"
        if reason is not None:
            log = self._sandbox.log_tail(self._worker) if self._sandbox is not None else ""
            self.kill()
            raise GraderError(f"the grader's own child process could not start ({reason}); "
                              f"its output: {log or 'none'}")
        if up.get("up") is not True:
            self.kill()
            raise GraderError("the grader's child process did not start properly")
        self._up = True

    def _wait_ready(self):
        self._wait_up()
        if not self._ready:
            ready = self._receive(STARTUP_SECONDS, "loading your notebook's definitions")
            self.load_errors = ready.get("load_errors", [])
            self._ready = True

    def _send(self, data, deadline):
        """Writes a request by ``deadline``: a worker that stops reading (or shrinks its pipe)
        cannot block the grader."""
        os.set_blocking(self._request_write, False)
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self._request_write], [], remaining)[1]:
                self._end_worker()
                raise StudentTimeout("Your code stopped taking the grader's requests.")
            try:
                data = data[os.write(self._request_write, data):]
            except BlockingIOError:
                continue
            except OSError:
                self._end_worker()
                raise StudentError("The process running your code ended unexpectedly.")

    def _receive(self, timeout, doing, limit=None, end_when_idle=False):
        """The next message, within ``timeout`` seconds (``limit``: the whole check's, for the
        message); with ``end_when_idle``, ended earlier when the sandbox sits idle for
        `IDLE_SECONDS` (`IdleWatch`)."""
        deadline = time.monotonic() + timeout
        since = self._sandbox.usage()
        idle = IdleWatch(self._sandbox) if end_when_idle else None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                starved = self._sandbox.starved(since)
                if starved is not None:  # never charged to the student
                    self.kill()
                    raise GraderError(starved)
                if self._up:
                    self._end_worker()
                raise StudentTimeout(f"Your code did not finish {doing} within "
                                     f"{limit or timeout:.0f} s.")
            wait = remaining if idle is None else min(remaining, IDLE_POLL_SECONDS)
            readable, _, _ = select.select([self._response_read], [], [], wait)
            if not readable:
                if idle is not None and idle.idle_for() >= IDLE_SECONDS:
                    self._end_worker()
                    raise StudentTimeout(
                        f"Your code stopped computing while {doing}: for {IDLE_SECONDS:.0f} s it "
                        "only waited (a sleep, or a read or input() that never comes), so the "
                        "check was ended.")
                continue
            chunk = os.read(self._response_read, 1 << 20)
            if not chunk:
                code = self._sandbox.exit_status(self._worker)
                if self._up:
                    self._end_worker()
                status = f" (exit status {code})" if code is not None else ""
                raise StudentError(f"The process running your code ended while {doing}{status}.")
            self._buffer += chunk
            if len(self._buffer) > MAX_RESPONSE_BYTES:
                self._end_worker()
                raise StudentError("Your code produced an answer far larger than expected.")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            self._end_worker()
            raise StudentError(f"The process running your code answered garbage while {doing}.")
        if not isinstance(message, dict):
            self._end_worker()
            raise StudentError(f"The process running your code answered garbage while {doing}.")
        return message

    def probe(self, part: "Part", name: str, timeout: float, **args) -> Any:
        """Runs probe ``name`` of ``part`` (an `autograder.parts.Part`) in the child on ``args``;
        returns its value. The part's probes (and the substitutes it uses) go to the child with
        its first request.

        Raises:
          StudentError: the student's code raised (a `CodeRaised`, by kind), hung past
            ``timeout`` seconds, or ended the process.
        """
        now = time.monotonic()
        self._budget_end = self._budget_end or now + NOTEBOOK_SECONDS
        if self._load_timed_out:
            raise StudentTimeout(f"Skipped: your notebook's definitions did not finish loading "
                                 f"within {STARTUP_SECONDS:.0f} s.")
        if now >= self._budget_end:
            raise StudentTimeout(f"Skipped: checking this notebook took more than "
                                 f"{NOTEBOOK_SECONDS:.0f} s in all, so its later checks were not run.")
        timeout = min(timeout, self._budget_end - now)
        if self._process is None:  # never started, or killed
            self._start()
        try:
            self._wait_ready()
        except StudentTimeout:
            self._load_timed_out = True
            raise
        self._sequence += 1
        request = {"id": self._sequence, "probe": name, "args": args}
        if part.name not in self._defined:
            request["define"] = {"part": part.name, "probes": part.probes_source(),
                                 "substitutes": part.substitutes_source()}
            self._defined.add(part.name)
        deadline = time.monotonic() + timeout
        self._send((json.dumps(request) + "\n").encode(), deadline)
        answer = self._receive(deadline - time.monotonic(), "running a check", timeout,
                               end_when_idle=True)
        if answer.get("id") != self._sequence:
            self._end_worker()
            raise StudentError("The process running your code broke the grader's protocol.")
        if not answer.get("ok"):
            kind = KINDS.get(answer.get("kind"), CodeRaised)
            raise kind(str(answer.get("error", "unknown error")))
        return answer.get("value")

    def _end_worker(self) -> None:
        """Ends a worker whose code hung, crashed or broke the protocol. Where its sandbox serves
        one notebook after another and its server still runs, a new worker for this notebook
        starts in it at once: the server first ends every process of the old worker's uid and
        deletes its files, as between two students (SECURITY.md), which costs a fork where a new
        sandbox would import JAX again (about 2 s). Elsewhere the sandbox ends with everything
        in it, and the next probe starts a fresh one; so does a worker that failed before its
        notebook was loaded (loading is deterministic: a new worker would fail the same way)."""
        sandbox_ = self._sandbox
        if sandbox_ is None or not self._ready or not sandbox_.reusable or not sandbox_.alive:
            self.kill()
            return
        sandbox_.finish(self._worker)
        self._start(wait=False, sandbox_=sandbox_)

    def kill(self) -> None:
        """Ends this worker's sandbox with everything in it."""
        if self._sandbox is not None:
            self._sandbox.kill()
            self._sandbox = None

    def close(self) -> None:
        """Done with this notebook: its sandbox goes back to the pool if it can serve another,
        else ends (a filling one publishes what it compiled)."""
        if self._sandbox is None:
            return
        if self._sandboxes is not None:
            self._sandbox.finish(self._worker)
            self._sandboxes.put(self._sandbox)
        else:
            self._sandbox.close()
        self._sandbox = None
