"""``python -m autograder.report GRADES.jsonl --out DIR [--submitted submitted] [--release
release/maml] [--gradebook gradebook.db]``: a graded class, in the browser.

Writes ``DIR/index.html`` (one static page: opens from the file, offline, no script),
``DIR/report.json`` (the same figures) and ``DIR/similarity.json``, from `autograder.batch`'s lines
(the last line of each notebook):

- the distribution of the students' totals and of each part's score;
- each check: how many students it failed, its message, the students, the known mistakes matched;
- the notebooks that could not be graded and why, and the slowest notebooks;
- similar code per graded function (`autograder.similarity`), side by side, when ``--submitted``
  (default: ``submitted`` here, if it exists) holds the notebooks;
- each student's nbgrader score with the written answers, when ``--gradebook`` (default:
  ``gradebook.db`` here, if it exists) is nbgrader's gradebook.

Exit status: 0 when the report is written, 2 when ``GRADES.jsonl`` is not the batch's output.
The work is done by `autograder.grading.report`.
"""

import argparse
import pathlib
import sys

from autograder.grading import report
from autograder.grading.course_root import ASSIGNMENT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grades", help="autograder.batch's JSON lines (batch_grades.jsonl)")
    parser.add_argument("--out", required=True, help="the folder to write the report into")
    parser.add_argument("--submitted", help="nbgrader's submitted/ folder, for similar code "
                                            "(default: ./submitted if it exists)")
    parser.add_argument("--release", default=f"release/{ASSIGNMENT}",
                        help="the released assignment folder (the templates similarity excludes)")
    parser.add_argument("--gradebook", help="nbgrader's gradebook.db, for the scores with written "
                                            "answers (default: ./gradebook.db if it exists)")
    args = parser.parse_args(argv)
    try:
        page = report.write_from_batch(args.grades, args.out, _default(args.submitted, "submitted"),
                                       args.release, _default(args.gradebook, "gradebook.db"))
    except report.ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"class report: {page}", file=sys.stderr)
    return 0


def _default(given, name):
    """``given``, else ``name`` in the working directory when it exists, else None."""
    if given is not None:
        return given
    return name if pathlib.Path(name).exists() else None


if __name__ == "__main__":
    sys.exit(main())
