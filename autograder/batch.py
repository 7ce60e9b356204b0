"""``python -m autograder.batch SUBMITTED_DIR --out grades.jsonl [--jobs N] [--scheduler ADDRESS]``:
grade a class.

``SUBMITTED_DIR`` has nbgrader's layout, ``SUBMITTED_DIR/<student>/<assignment>/<notebook>.ipynb``.
Each notebook is graded exactly as ``python -m autograder`` grades it (each worker keeps its
sandbox for the next student, with nothing of the previous one left: SECURITY.md), by worker
processes that take one student each, ``--jobs`` students at a time, or by the workers of a
Dask distributed cluster (``--scheduler``; start each worker with ``--nthreads 1``, in this
project's venv, in the course root, with bubblewrap installed). One JSON line per notebook is appended to ``--out`` as
soon as its student is graded: the single-notebook command's object plus ``student``, ``path``,
``notebook_sha256`` and ``grader_version``. Only the assignment's notebooks are graded, each once,
from regular files (`autograder.grading.submission_files`): a link, a folder named ``*.ipynb`` or
an extra notebook gets a line with ``"skipped": true``, ``total`` null and its reason in ``error``,
and is never opened. A crash or Ctrl-C loses nothing already written, and a second run with the
same ``--out`` grades only the notebooks that are new or changed, or were graded by another version
of the grader. Progress, an ETA and the number of notebooks that could not be graded are shown on
standard error.

Before grading anyone it runs the self-check (`autograder.grading.self_check`) and stops if the
reference solutions do not earn full marks here: the machine, not the students, would be at fault.
The self-check also fills the compilation cache (`autograder.isolation.compilation_cache`) that
every student's process then reads.

The work is done by `autograder.grading.batch_grading`.

Exit status: 0 when every notebook was graded or reported (an unreadable notebook is a line with
its ``error``); 1 when the self-check failed; 3 when the grader itself failed on some notebook
(those lines have ``total`` null and are graded again by the next run).
"""

import argparse
import pathlib
import sys

from autograder.grading import course_root
from autograder.grading.batch_grading import grade_submitted


def main(argv: list[str] | None = None) -> int:
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
    if not args.skip_self_check:
        course_root.find_for(parser)  # the self-check grades the course's instructor notebooks
    return grade_submitted(args.submitted, args.out, args.jobs, self_check=not args.skip_self_check,
                           progress=True, scheduler=args.scheduler)


if __name__ == "__main__":
    sys.exit(main())
