"""The trusted side of the child process: start it, send probe requests, enforce time limits."""

import functools
import itertools
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
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
    """One bubblewrap sandbox with the child server of one notebook (`inside_sandbox.child`).

    It starts at once, importing JAX while the parent sets up its graders; `start` forks the
    notebook's worker. `kill` ends the sandbox with everything in it.
    """

    def __init__(self, statements, fill_cache=False):
        self.scratch = pathlib.Path(tempfile.mkdtemp(prefix="maml-grading-"))
        self._fill_cache = fill_cache
        self._staging = None
        self.process = None
        self._killed = False
        self._fds = []
        self._statuses = {}
        submission = self.scratch / "submission-0.json"
        submission.write_text(json.dumps(statements), encoding="utf-8")
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        # The child's protocol lists notebooks; a sandbox here only ever holds this one.
        notebooks = [{"submission": str(submission), "requests": request_read,
                      "responses": response_write}]
        self._fds.append((request_write, response_read))
        control_read, self._control = os.pipe()
        self._status, status_write = os.pipe()
        child_fds = [request_read, response_write, control_read, status_write]
        self.log = open(self.scratch / "output.log", "wb")
        self.cgroup = _cgroup()
        try:
            spec = self.scratch / "notebooks.json"
            spec.write_text(json.dumps(notebooks), encoding="utf-8")
            env, writable, readable = self._environment()
            sandboxed = "1" if sandbox.bubblewrap() is not None else "0"
            command = sandbox.inside_command("child", str(spec), str(control_read),
                                             str(status_write), sandboxed)
            command = sandbox.wrap(command, str(self.scratch), env, writable, readable)
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
            for fd in child_fds:
                os.close(fd)

    def _environment(self):
        xla_flags = f"{XLA_FLAGS} {os.environ.get(EXTRA_XLA_FLAGS, '')}".strip()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.scratch),
               "JAX_PLATFORMS": "cpu", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
               "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_FLAGS": xla_flags}
        writable, readable = [], []
        # Without bubblewrap nothing keeps a student's child from writing the cache: none then.
        self._cache = (compilation_cache.directory(xla_flags)
                       if self._fill_cache or sandbox.bubblewrap() is not None else None)
        if self._cache is not None and self._fill_cache:
            self._staging = self.scratch / "compilation-cache"
            self._staging.mkdir()
            compilation_cache.prepare_staging(self._cache, self._staging)
            env.update(compilation_cache.child_env(self._cache, self._staging))
            writable.append(self._staging)
        elif self._cache is not None:
            env.update(compilation_cache.child_env(self._cache))
            readable.append(self._cache / compilation_cache.ENTRIES)
            compilation_cache.copy_font_list(self._cache, self.scratch)
        return env, writable, readable

    @property
    def alive(self) -> bool:
        return self.process is not None

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

    def start(self, index: int) -> tuple[int, int]:
        """Forks notebook ``index``'s worker; returns its ``(request_write, response_read)``."""
        try:
            os.write(self._control, f"{index}\n".encode())
        except OSError:
            pass  # the server is gone: the parent reads EOF and says so
        return self._fds[index]

    def finish(self, index: int) -> None:
        """Tells notebook ``index``'s worker to exit (end of its requests)."""
        if not self._killed and self._fds[index][0] is not None:
            os.close(self._fds[index][0])
            self._fds[index] = (None, self._fds[index][1])

    def exit_status(self, index: int, timeout: float = 1.0) -> int | None:
        """The exit status of notebook ``index``'s worker, once it ended (None if not known)."""
        deadline = time.monotonic() + timeout
        while index not in self._statuses and self.alive:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._status], [], [], remaining)[0]:
                break
            chunk = os.read(self._status, 4096)
            if not chunk:
                break
            for line in chunk.decode(errors="replace").splitlines():
                try:  # the server shares its uid with student code: believe only well-formed lines
                    number, code = map(int, line.split())
                except ValueError:
                    continue
                self._statuses[number] = code
        return self._statuses.get(index)

    def log_tail(self, limit: int = 600) -> str:
        try:
            text = (self.scratch / "output.log").read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(text.split())[-limit:]

    def close(self) -> None:
        """Ends the sandbox; a filling one is first let finish (its cache entries whole), then
        what it compiled is published."""
        if self._staging is not None and self.process is not None and not self._killed:
            for pair in self._fds:
                if pair[0] is not None:
                    os.close(pair[0])  # every worker reads EOF and exits
            self._fds = [(None, response) for _, response in self._fds]
            os.close(self._control)  # then the server
            self._control = None
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
        for fd in [fd for pair in self._fds for fd in pair] + [self._control, self._status]:
            if fd is not None:
                os.close(fd)
        self._fds = []
        self.log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


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
    """A worker process holding one notebook's definitions, in a sandbox of its own.

    `probe` sends one request and waits for the answer within a time limit. When the worker hangs
    or dies its sandbox is killed, and the next `probe` starts a fresh one, so one broken part costs
    only its own checks. No sandbox ever serves two notebooks: the grader's own versions of graded
    names reach a notebook's process with its dependent parts, and nothing of that process may
    outlive it.
    """

    def __init__(self, statements, fill_cache=False):
        """``fill_cache``: trusted code only (the self-check); its compiled programs go into the
        compilation cache (`autograder.isolation.compilation_cache`), which every other child only
        reads."""
        self._statements = [_plain(s) for s in statements]
        self._fill_cache = fill_cache
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

    def _start(self, wait=True):
        self._sandbox = Sandbox(self._statements, self._fill_cache)
        self._request_write, self._response_read = self._sandbox.start(0)
        self._worker = 0
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
        try:
            up = self._receive(STARTUP_SECONDS, "starting")
        except StudentTimeout:
            reason = f"no word from it within {STARTUP_SECONDS:.0f} s"
        except StudentError:
            code = self._sandbox.exit_status(self._worker) if self._sandbox is not None else None
            reason = f"it ended with exit status {code}" if code is not None else "it broke off"
        else:
            reason = None
        if reason is not None:
            log = self._sandbox.log_tail() if self._sandbox is not None else ""
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
                self.kill()
                raise StudentTimeout("Your code stopped taking the grader's requests.")
            try:
                data = data[os.write(self._request_write, data):]
            except BlockingIOError:
                continue
            except OSError:
                self.kill()
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
                    self.kill()
                raise StudentTimeout(f"Your code did not finish {doing} within "
                                     f"{limit or timeout:.0f} s.")
            wait = remaining if idle is None else min(remaining, IDLE_POLL_SECONDS)
            readable, _, _ = select.select([self._response_read], [], [], wait)
            if not readable:
                if idle is not None and idle.idle_for() >= IDLE_SECONDS:
                    self.kill()
                    raise StudentTimeout(
                        f"Your code stopped computing while {doing}: for {IDLE_SECONDS:.0f} s it "
                        "only waited (a sleep, or a read or input() that never comes), so the "
                        "check was ended.")
                continue
            chunk = os.read(self._response_read, 1 << 20)
            if not chunk:
                code = self._sandbox.exit_status(self._worker)
                if self._up:
                    self.kill()
                status = f" (exit status {code})" if code is not None else ""
                raise StudentError(f"The process running your code ended while {doing}{status}.")
            self._buffer += chunk
            if len(self._buffer) > MAX_RESPONSE_BYTES:
                self.kill()
                raise StudentError("Your code produced an answer far larger than expected.")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            self.kill()
            raise StudentError(f"The process running your code answered garbage while {doing}.")
        if not isinstance(message, dict):
            self.kill()
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
            self.kill()
            raise StudentError("The process running your code broke the grader's protocol.")
        if not answer.get("ok"):
            kind = KINDS.get(answer.get("kind"), CodeRaised)
            raise kind(str(answer.get("error", "unknown error")))
        return answer.get("value")

    def kill(self) -> None:
        """Ends this worker's sandbox with everything in it."""
        if self._sandbox is not None:
            self._sandbox.kill()
            self._sandbox = None

    def close(self) -> None:
        """Done with this notebook: its sandbox ends (a filling one publishes what it compiled)."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
