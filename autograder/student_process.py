"""The trusted side of the child process: start it, send probe requests, enforce time limits."""

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

from autograder import compilation_cache, sandbox

STARTUP_SECONDS = 60.0
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Grading compiles dozens of tiny programs and runs each once: skipping LLVM's expensive
# optimisations cuts compile time (about 20% of grading time, BENCHMARKS.md).
XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# Extra XLA flags for the child, appended to XLA_FLAGS (e.g. --xla_cpu_max_isa=SSE4_2 to grade
# as an older CPU would); `python -m autograder --xla-flags` sets it.
EXTRA_XLA_FLAGS = "AUTOGRADER_XLA_FLAGS"


class GraderError(Exception):
    """The grader itself failed (its child could not start): nobody's score, never a zero."""


class StudentError(Exception):
    """The student's code raised, hung or killed its process; the message is for the student."""


class StudentTimeout(StudentError):
    pass


class StudentProcess:
    """A child process holding one submission's definitions.

    `probe` sends one request and waits for the answer within a time limit. When the child hangs
    or dies it is killed, and the next `probe` starts a fresh one, so one broken part costs only
    its own checks.
    """

    def __init__(self, statements, fill_cache=False):
        """``fill_cache``: trusted code only (the self-check); its compiled programs go into the
        compilation cache (`autograder.compilation_cache`), which every other child only reads."""
        self._statements = [{"cell": s.cell, "source": s.source} for s in statements]
        self._fill_cache = fill_cache
        self._process = None
        self._scratch = None
        self._staging = None
        self.load_errors = []

    def __enter__(self):
        self._start(wait=False)  # loads while the parent sets up its graders
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self, wait=True):
        self._scratch = tempfile.mkdtemp(prefix="maml-grading-")
        submission = os.path.join(self._scratch, "submission.json")
        with open(submission, "w", encoding="utf-8") as f:
            json.dump(self._statements, f)
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        xla_flags = f"{XLA_FLAGS} {os.environ.get(EXTRA_XLA_FLAGS, '')}".strip()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._scratch,
               "JAX_PLATFORMS": "cpu", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
               "TF_CPP_MIN_LOG_LEVEL": "3", "XLA_FLAGS": xla_flags}
        writable, readable = [], []
        # Without bubblewrap nothing keeps a student's child from writing the cache: none then.
        self._cache = (compilation_cache.directory(xla_flags)
                       if self._fill_cache or sandbox.bubblewrap() is not None else None)
        if self._cache is not None and self._fill_cache:
            self._staging = pathlib.Path(self._scratch) / "compilation-cache"
            self._staging.mkdir()
            compilation_cache.prepare_staging(self._cache, self._staging)
            env.update(compilation_cache.child_env(self._cache, self._staging))
            writable.append(self._staging)
        elif self._cache is not None:
            env.update(compilation_cache.child_env(self._cache))
            readable.append(self._cache)
            compilation_cache.copy_font_list(self._cache, pathlib.Path(self._scratch))
        self._log = open(os.path.join(self._scratch, "output.log"), "wb")
        command = [sys.executable, "-I", "-m", "autograder.child", submission,
                   str(request_read), str(response_write)]
        try:
            self._process = subprocess.Popen(
                sandbox.wrap(command, self._scratch, env, writable, readable), cwd=self._scratch, env=env,
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                pass_fds=(request_read, response_write), start_new_session=True,
            )
        except OSError as error:  # no interpreter, no bubblewrap: the grader's fault
            for fd in (self._request_write, self._response_read):
                os.close(fd)
            self._log.close()
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = self._staging = None
            raise GraderError(f"the grader's own child process could not start ({error})") from None
        finally:
            os.close(request_read)
            os.close(response_write)
        self._buffer = b""
        self._up = False
        self._ready = False
        self._installed = False
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
            code = self._process.returncode if self._process is not None else None
            reason = f"it ended with exit status {code}" if code is not None else "it broke off"
        else:
            reason = None
        if reason is not None:
            log = self._log_tail()
            self.kill()
            raise GraderError(f"the grader's own child process could not start ({reason}); "
                              f"its output: {log or 'none'}")
        if up.get("up") is not True:
            self.kill()
            raise GraderError("the grader's child process did not start properly")
        self._up = True

    def _log_tail(self, limit=600):
        try:
            with open(self._log.name, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(text.split())[-limit:]

    def _wait_ready(self):
        self._wait_up()
        if not self._ready:
            ready = self._receive(STARTUP_SECONDS, "loading your notebook's definitions")
            self.load_errors = ready.get("load_errors", [])
            self._ready = True

    def _receive(self, timeout, doing):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if self._up:
                    self.kill()
                raise StudentTimeout(f"Your code did not finish {doing} within {timeout:.0f} s.")
            readable, _, _ = select.select([self._response_read], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._response_read, 1 << 20)
            if not chunk:
                code = self._process.wait()
                if self._up:
                    self.kill()
                raise StudentError(f"The process running your code ended while {doing} "
                                   f"(exit status {code}).")
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

    def probe(self, name, timeout, substitutes=None, **args):
        """Runs ``autograder.probes.<name>(namespace, **args)`` in the child; returns its value.

        ``substitutes`` (source text) is installed in the child with the first request that
        carries it (see `autograder.probes.install`).

        Raises:
          StudentError: the student's code raised (the message says what), hung past
            ``timeout`` seconds, or ended the process.
        """
        if self._process is None:
            self._start()
        self._wait_ready()
        self._sequence += 1
        request = {"id": self._sequence, "probe": name, "args": args}
        if substitutes is not None and not self._installed:
            request["install"] = substitutes
            self._installed = True
        try:
            os.write(self._request_write, (json.dumps(request) + "\n").encode())
        except OSError:
            self.kill()
            raise StudentError("The process running your code ended unexpectedly.")
        answer = self._receive(timeout, "running a check")
        if answer.get("id") != self._sequence:
            self.kill()
            raise StudentError("The process running your code broke the grader's protocol.")
        if not answer.get("ok"):
            raise StudentError(str(answer.get("error", "unknown error")))
        return answer.get("value")

    def kill(self):
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._process.wait()
            for fd in (self._request_write, self._response_read):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._process = None
        if self._staging is not None:
            compilation_cache.publish(self._staging, self._cache)
            self._staging = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    close = kill
