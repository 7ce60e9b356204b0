"""``python -m autograder.export canvas --roster ROSTER.csv --assignment "NAME (ID)" --out canvas.csv
[--grades GRADES.jsonl] [--match "SIS Login ID"]``: grades into Canvas's gradebook import format.

One row per student of the roster (Canvas's own gradebook export, any column order), with the
sum of the student's notebooks in the column ``NAME (ID)``, after a Points Possible row. With
``--grades``, the lines of `autograder.batch` (autograded points only); without it, nbgrader's
gradebook in the course root through `nbgrader export` (written answers graded in formgrader
included). nbgrader's student ids are looked up in the roster's ``--match`` column.

A roster student with no grade gets an empty cell; a grader failure an empty cell and a warning,
never 0; a graded student missing from the roster a warning. Warnings go to standard error.
Exit status: 0 when the file is written, 2 when the inputs cannot make a valid import file.
The work is done by `autograder.grading.canvas`.
"""

import argparse
import csv
import pathlib
import sys
import tempfile

from autograder.grading import canvas, course_root
from autograder.grading.course_root import ASSIGNMENT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = parser.add_subparsers(dest="format", required=True)
    to_canvas = formats.add_parser("canvas", help="Canvas's gradebook import CSV")
    to_canvas.add_argument("--roster", required=True, help="Canvas's gradebook export (CSV)")
    to_canvas.add_argument("--assignment", required=True,
                           help="the Canvas column title, 'Name (id)'")
    to_canvas.add_argument("--out", required=True, help="the CSV to write")
    to_canvas.add_argument("--grades", help="autograder.batch's JSON lines (default: nbgrader's "
                                            "gradebook in the course root)")
    to_canvas.add_argument("--match", default="SIS Login ID",
                           help="the roster column that holds nbgrader's student id")
    args = parser.parse_args(argv)
    try:
        roster = canvas.read_roster(args.roster, args.match)
        if args.grades:
            grades, maximum = canvas.grades_from_batch(args.grades), canvas.points_possible()
        else:
            grades, maximum = canvas.grades_from_export(_nbgrader_export(parser), ASSIGNMENT)
        rows, warnings = canvas.canvas_rows(roster, grades, maximum, args.assignment, args.match)
    except (canvas.ExportError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    canvas.write_csv(args.out, rows)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.out}: {len(rows) - 2} students, {sum(1 for r in rows[2:] if r[-1] != '')} with a "
          f"grade, {len(warnings)} warnings", file=sys.stderr)
    return 0


def _nbgrader_export(parser):
    """nbgrader's export of the course's gradebook, with its status column, as rows."""
    from autograder.grading.nbgrader_course import nbgrader

    course = course_root.find_for(parser)
    with tempfile.TemporaryDirectory() as folder:
        destination = pathlib.Path(folder) / "grades.csv"
        nbgrader(course, "export", "--to", str(destination))
        with open(destination, newline="") as f:
            return list(csv.DictReader(f))


if __name__ == "__main__":
    sys.exit(main())
