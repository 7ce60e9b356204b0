"""Grading a class: every notebook of nbgrader's ``submitted/`` folder, in worker processes or on
a Dask cluster, one JSON line each, resumable (the library of ``python -m autograder.batch``).
"""

import concurrent.futures
import functools
import hashlib
import json
import multiprocessing
import os
import pathlib
import sys
from typing import Any

import autograder
from autograder.grading import submission_files
from autograder.grading.grade import grade_notebooks
from autograder.grading.record import ExitStatus, skipped_line, worker_failure_line
from autograder.isolation import sandbox
from autograder.isolation.student_process import process_sandboxes

PACKAGE = pathlib.Path(autograder.__file__).resolve().parent


@functools.cache
def grader_version() -> str:
    """A digest of every file that can change a grade: the grader's code and reference data."""
    digest = hashlib.sha256()
    files = sorted(p for folder in (PACKAGE, sandbox.INSIDE) for p in folder.rglob("*")
                   if p.suffix in (".py", ".json") and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(PACKAGE.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def submissions(submitted: str | pathlib.Path) -> dict[tuple[str, pathlib.Path], Any]:
    """``{(student, assignment folder): SubmissionFiles}`` of every
    ``<student>/<assignment>/`` in ``submitted``, with no link followed
    (`autograder.grading.submission_files`)."""
    found = {}
    for student in _folders(pathlib.Path(submitted)):
        for assignment in _folders(student):
            found[student.name, assignment] = submission_files.find(assignment, recursive=False)
    return found


def _folders(folder):
    """The sub-folders of ``folder`` that are real folders, not links, sorted."""
    with os.scandir(folder) as entries:
        return sorted(pathlib.Path(e.path) for e in entries
                      if e.is_dir(follow_symlinks=False) and e.name != ".ipynb_checkpoints")


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(submission_files.read_capped(path)).hexdigest()


def _skipped_digest(skipped):
    return hashlib.sha256(f"not graded: {skipped.reason}".encode()).hexdigest()


def grade_student(student: str, notebooks: list[tuple[str, bytes]]) -> list[dict]:
    """One JSON line's object per notebook of one student: ``notebooks`` is ``[(path, content)]``
    with the content as bytes.

    Runs in a worker process, local or on a Dask worker: the notebooks travel as bytes, so workers
    need no shared filesystem. Each is graded under its own file name, as the CLI grades it, and
    in a sandbox this worker process keeps for the next student where it can
    (`autograder.isolation.student_process.process_sandboxes`; `grade_notebooks`).
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="maml-batch-") as folder:
        copies = []
        for number, (path, content) in enumerate(notebooks):
            copy = pathlib.Path(folder) / str(number) / pathlib.Path(path).name
            copy.parent.mkdir()
            copy.write_bytes(content)
            copies.append(copy)
        results = grade_notebooks(copies, sandboxes=process_sandboxes())
    return [result.to_batch_line(student, str(path), hashlib.sha256(content).hexdigest(),
                                 grader_version())
            for result, (path, content) in zip(results, notebooks)]


def _records(lines):
    """The lines, parsed, that this grader version wrote and that are real grades."""
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut off by a crash
        if (isinstance(record, dict) and record.get("grader_version") == grader_version()
                and not record.get("grader_failed")):
            yield record


def current_records(out: str | pathlib.Path) -> dict[str, dict]:
    """`_records` of ``out`` by `grading_key` (what `nbgrader_plugin.GradeOutOfProcess` reuses),
    read once per version of the file."""
    path = pathlib.Path(out)
    if not path.exists():
        return {}
    stat = path.stat()
    return _records_by_key(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _records_by_key(path, mtime_ns, size):
    lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    return {r["grading_key"]: r for r in _records(lines) if r.get("grading_key")}


def self_check_here() -> tuple[ExitStatus, str]:
    """The self-check on this machine (sent to every Dask worker): ``(status, line)``."""
    from autograder.grading import self_check

    return self_check.run()


def _current(lines, wanted):
    """The lines of a previous run still valid for ``wanted`` ({path: sha256})."""
    return {r["path"]: r for r in _records(lines)
            if wanted.get(r.get("path")) == r.get("notebook_sha256")}


def _student_of(line):
    """The student of a batch line, or None when the line cannot be read (cut off by a crash)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get("student") if isinstance(record, dict) else None


def _write_lines(path, lines):
    """Replaces the file at ``path`` by ``lines`` (JSON text), at once."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(temporary, path)


def grade_submitted(submitted: str | pathlib.Path, out: str | pathlib.Path, jobs: int | None = None,
                    self_check: bool = True, progress: bool = True,
                    scheduler: str | None = None, only: set[str] | None = None) -> ExitStatus:
    """Grades every notebook in ``submitted`` (nbgrader's layout) that is not already current in
    ``out``, in local worker processes or on the Dask cluster at ``scheduler``; returns the exit
    status.

    With ``only`` (student ids), grades every notebook of those students again, current or not,
    and keeps every other student's lines in ``out`` exactly as they are (a regrade after a
    resubmission, a manual fix or a grader update)."""
    out = pathlib.Path(out)
    found = {key: files for key, files in submissions(submitted).items()
             if only is None or key[0] in only}
    graded = [(student, path) for (student, _), files in found.items()
              for path in files.graded.values()]
    skipped = [(student, s) for (student, _), files in found.items() for s in files.skipped]
    wanted = {str(path): sha256(path) for _, path in graded}
    wanted.update({str(s.path): _skipped_digest(s) for _, s in skipped})
    previous = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    if only is None:
        kept = _current(previous, wanted)
        lines = [json.dumps(record) for record in kept.values()]
    else:
        kept, lines = {}, [line for line in previous if _student_of(line) not in (*only, None)]
    _write_lines(out, [*lines, *(
        json.dumps(skipped_line(student, str(s.path), s.reason, _skipped_digest(s), grader_version()))
        for student, s in skipped if str(s.path) not in kept)])
    todo = [(student, path) for student, path in graded if str(path) not in kept]
    print(f"{len(graded)} notebooks: {len(graded) - len(todo)} already graded, {len(todo)} to "
          f"grade" + (f"; {len(skipped)} other files not graded (see their lines in {out})"
                      if skipped else ""), file=sys.stderr)
    client = None
    if scheduler is not None:
        from distributed import Client

        client = Client(scheduler)
    if todo and self_check:
        checks = (client.run(self_check_here).items() if client is not None
                  else [("this machine", self_check_here())])
        for worker, (status, line) in checks:
            print(f"{worker}: {line}" if client is not None else line, file=sys.stderr)
            if status != ExitStatus.OK:
                return ExitStatus.SELF_CHECK_FAILED
    failures = grader_failures = 0
    jobs = jobs or os.cpu_count() or 1
    executor = (client.get_executor() if client is not None else
                concurrent.futures.ProcessPoolExecutor(
                    jobs, mp_context=multiprocessing.get_context("spawn")))
    with _progress(progress) as bar, open(out, "a", encoding="utf-8") as sink, executor as pool:
        task = bar.add_task("grading", total=len(todo), failed=0)
        by_student = {}
        for student, path in todo:  # a student's notebooks go to one worker, one sandbox each
            by_student.setdefault(student, []).append(path)
        futures = {pool.submit(grade_student, student,
                               [(str(path), submission_files.read_capped(path)) for path in paths]):
                   (student, paths) for student, paths in by_student.items()}
        try:
            for future in concurrent.futures.as_completed(futures):
                student, paths = futures[future]
                try:
                    records = future.result()
                except Exception as error:  # noqa: BLE001 - a worker died: the grader's failure
                    records = [worker_failure_line(student, str(path), error, wanted[str(path)],
                                                   grader_version()) for path in paths]
                for record in records:
                    sink.write(json.dumps(record) + "\n")
                sink.flush()
                os.fsync(sink.fileno())
                for record in records:
                    failures += record["error"] is not None
                    grader_failures += bool(record["grader_failed"])
                bar.update(task, advance=len(records), failed=failures)
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            print(f"interrupted: the graded notebooks are in {out}; run again to grade the rest",
                  file=sys.stderr)
            return ExitStatus.INTERRUPTED
    if client is not None:
        client.close()
    print(f"graded {len(todo)} notebooks into {out}: {failures} could not be graded"
          + (f", {grader_failures} because the grader failed" if grader_failures else ""),
          file=sys.stderr)
    return ExitStatus.GRADER_FAILED if grader_failures else ExitStatus.OK


def _progress(enabled):
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("failed: {task.fields[failed]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled)
