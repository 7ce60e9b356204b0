"""``python -m autograder.batch SUBMITTED_DIR --out grades.jsonl [--jobs N] [--scheduler ADDRESS]``:
grade a class.

``SUBMITTED_DIR`` has nbgrader's layout, ``SUBMITTED_DIR/<student>/<assignment>/<notebook>.ipynb``.
Each notebook is graded exactly as ``python -m autograder`` grades it, in a fresh sandboxed worker
process (a student's notebooks share one sandbox, which imports JAX once), ``--jobs`` students at
a time, or by the workers of a Dask distributed cluster (``--scheduler``; start each worker with
``--nthreads 1``, in this project's venv, with bubblewrap installed). One JSON line per notebook
is appended to ``--out`` as soon as its student is graded: the single-notebook command's object
plus ``student``, ``path``, ``notebook_sha256`` and ``grader_version``. Only the assignment's
notebooks are graded, each once, from regular files (`autograder.submission_files`): a link, a
folder named ``*.ipynb`` or an extra notebook gets a line with ``"skipped": true``, ``total`` null
and its reason in ``error``, and is never opened. A crash or Ctrl-C loses
nothing already written, and a second run with the same ``--out`` grades only the notebooks that
are new or changed, or were graded by another version of the grader. Progress, an ETA and the
number of notebooks that could not be graded are shown on standard error.

Before grading anyone it runs the self-check (`autograder.self_check`) and stops if the reference
solutions do not earn full marks here: the machine, not the students, would be at fault. The
self-check also fills the compilation cache (`autograder.compilation_cache`) that every student's
process then reads.

Exit status: 0 when every notebook was graded or reported (an unreadable notebook is a line with
its ``error``); 1 when the self-check failed; 3 when the grader itself failed on some notebook
(those lines have ``total`` null and are graded again by the next run).
"""

import argparse
import concurrent.futures
import functools
import hashlib
import json
import multiprocessing
import os
import pathlib
import sys

from autograder import sandbox, submission_files
from autograder.grade import GRADER_FAILED, grade_notebooks

PACKAGE = pathlib.Path(__file__).resolve().parent


@functools.cache
def grader_version():
    """A digest of every file that can change a grade: the grader's code and reference data."""
    digest = hashlib.sha256()
    files = sorted(p for folder in (PACKAGE, sandbox.INSIDE) for p in folder.rglob("*")
                   if p.suffix in (".py", ".json") and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(PACKAGE.parent)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def submissions(submitted):
    """``{(student, assignment folder): SubmissionFiles}`` of every
    ``<student>/<assignment>/`` in ``submitted``, with no link followed
    (`autograder.submission_files`)."""
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


def sha256(path):
    return hashlib.sha256(submission_files.read_capped(path)).hexdigest()


def skipped_record(student, skipped):
    """The line of a file that is reported, not graded (a link, a folder, an extra notebook)."""
    return {"notebook": str(skipped.path), "total": None, "max_total": None, "parts": [],
            "error": f"Not graded: {skipped.reason}.", "student": student,
            "path": str(skipped.path), "notebook_sha256": _skipped_digest(skipped),
            "grader_version": grader_version(), "grader_failed": False, "skipped": True}


def _skipped_digest(skipped):
    return hashlib.sha256(f"not graded: {skipped.reason}".encode()).hexdigest()


def grade_student(student, notebooks):
    """One JSON line's object per notebook of one student: ``notebooks`` is ``[(path, content)]``
    with the content as bytes.

    Runs in a worker process, local or on a Dask worker: the notebooks travel as bytes, so workers
    need no shared filesystem. Each is graded under its own file name, as the CLI grades it, and
    all of a student's notebooks in one sandbox (`autograder.grade.grade_notebooks`).
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="maml-batch-") as folder:
        copies = []
        for number, (path, content) in enumerate(notebooks):
            copy = pathlib.Path(folder) / str(number) / pathlib.Path(path).name
            copy.parent.mkdir()
            copy.write_bytes(content)
            copies.append(copy)
        results = grade_notebooks(copies)
    return [{**result.to_json(), "notebook": str(path), "student": student, "path": str(path),
             "notebook_sha256": hashlib.sha256(content).hexdigest(),
             "grader_version": grader_version(), "grader_failed": result.grader_failed,
             "grading_key": result.grading_key}
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


def current_records(out):
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


def self_check_here():
    """The self-check on this machine (sent to every Dask worker): ``(status, line)``."""
    from autograder import self_check

    return self_check.run()


def _current(lines, wanted):
    """The lines of a previous run still valid for ``wanted`` ({path: sha256})."""
    return {r["path"]: r for r in _records(lines)
            if wanted.get(r.get("path")) == r.get("notebook_sha256")}


def _write_lines(path, records):
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    os.replace(temporary, path)


def grade_class(submitted, out, jobs=None, self_check=True, progress=True, scheduler=None):
    """Grades every submitted notebook not already current in ``out``, in local worker processes
    or on the Dask cluster at ``scheduler``; returns the exit status."""
    out = pathlib.Path(out)
    found = submissions(submitted)
    graded = [(student, path) for (student, _), files in found.items()
              for path in files.graded.values()]
    skipped = [(student, s) for (student, _), files in found.items() for s in files.skipped]
    wanted = {str(path): sha256(path) for _, path in graded}
    wanted.update({str(s.path): _skipped_digest(s) for _, s in skipped})
    previous = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    kept = _current(previous, wanted)
    _write_lines(out, [*kept.values(), *(skipped_record(student, s) for student, s in skipped
                                         if str(s.path) not in kept)])
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
            if status != 0:
                return 1
    failures = grader_failures = 0
    jobs = jobs or os.cpu_count() or 1
    executor = (client.get_executor() if client is not None else
                concurrent.futures.ProcessPoolExecutor(
                    jobs, mp_context=multiprocessing.get_context("spawn")))
    with _progress(progress) as bar, open(out, "a", encoding="utf-8") as sink, executor as pool:
        task = bar.add_task("grading", total=len(todo), failed=0)
        by_student = {}
        for student, path in todo:  # a student's notebooks share one sandbox
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
                    records = [{"notebook": str(path), "total": None, "max_total": None,
                                "parts": [],
                                "error": f"{GRADER_FAILED}: its worker process failed ({error!r}).",
                                "student": student, "path": str(path),
                                "notebook_sha256": wanted[str(path)],
                                "grader_version": grader_version(), "grader_failed": True}
                               for path in paths]
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
            return 130
    if client is not None:
        client.close()
    print(f"graded {len(todo)} notebooks into {out}: {failures} could not be graded"
          + (f", {grader_failures} because the grader failed" if grader_failures else ""),
          file=sys.stderr)
    return 3 if grader_failures else 0


def _progress(enabled):
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("failed: {task.fields[failed]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submitted", help="nbgrader's submitted/ folder (STUDENT/ASSIGNMENT/*.ipynb)")
    parser.add_argument("--out", required=True, help="the JSON-lines file to write (and resume)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="students graded at once, each one's notebooks in turn (default: "
                             "the number of cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a Dask distributed scheduler (tcp://host:8786) whose workers grade "
                             "instead of local processes; each worker runs the self-check first")
    parser.add_argument("--skip-self-check", action="store_true",
                        help="do not grade the reference solutions first (only on a machine that "
                             "has just passed `python -m autograder --self-check`)")
    args = parser.parse_args(argv)
    if not pathlib.Path(args.submitted).is_dir():
        parser.error(f"{args.submitted} is not a folder")
    from autograder import batch  # this file runs as __main__: workers must find `batch.grade_student`

    return batch.grade_class(args.submitted, args.out, args.jobs,
                             self_check=not args.skip_self_check, progress=True,
                             scheduler=args.scheduler)


if __name__ == "__main__":
    sys.exit(main())
