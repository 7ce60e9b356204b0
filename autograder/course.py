"""Running the nbgrader course: release, submissions, autograde, feedback, export.

``python -m autograder.course autograde [--jobs N] [--kernel]`` autogrades a whole class in
this course root: `autograder.batch` grades every notebook in ``submitted/`` in parallel, then
``nbgrader autograde`` reuses those grades, and feedback and the export follow. It does not run
the students' notebooks in a kernel unless ``--kernel`` is given: the kernel decides no point and
only adds freshly executed outputs and plots to the feedback, and it made nbgrader's step 3.1x
slower per student (BENCHMARKS.md, "Grading a class"), hours for a class of hundreds.

``python -m autograder.course regrade STUDENT [--jobs N] [--kernel]`` grades one student again,
after a resubmission (collected into ``submitted/STUDENT/``), a manual fix or a grader update. It
updates that student's lines in ``batch_grades.jsonl``, their gradebook entries and feedback, the
export and the class report in ``report/``, and leaves everyone else's as they are.

All run in the course root (the working directory, or the course folder above it). The work is
done by `autograder.grading.nbgrader_course`.

``python -m autograder.course demo`` is the main job of this repository: it checks that this
machine gives the reference solutions full marks (`autograder.grading.self_check`), builds the
release, submits the bundled example notebooks in ``examples/``, autogrades them with nbgrader
(points from the out-of-process grader), writes feedback and prints the grade table.
"""

import argparse
import pathlib
import sys

from autograder.grading import course_root
from autograder.grading.nbgrader_course import (REPORT, GradingMachineError, autograde_class,
                                                example_students, part_scores, regrade_student,
                                                release_and_grade)
from autograder.grading.record import ExitStatus


def demo(root: pathlib.Path) -> None:
    """Grades the bundled examples (``examples/``) in the course at ``root``; prints the table."""
    students = example_students(root / "examples")
    rows = {row["student_id"]: row for row in release_and_grade(root, students)}
    parts = list(part_scores(root, "alice"))
    print(f"{'student':<10}" + "".join(f"{p[:12]:>13}" for p in parts) + f"{'part 1':>8}{'part 2':>8}")
    for student in students:
        if rows[student]["status"] != "graded":
            print(f"{student:<10}  {rows[student]['status']} (see autograde.log)")
            continue
        scores = part_scores(root, student)
        second = part_scores(root, student, "beyond_maml")
        print(f"{student:<10}" + "".join(f"{scores[p]:>13g}" for p in parts)
              + f"{sum(scores.values()):>8g}" + (f"{sum(second.values()):>8g}" if second else f"{'-':>8}"))
    print(f"\nnbgrader export: {root / 'grades.csv'} ({len(rows)} rows); "
          f"feedback: {root / 'feedback'}; written answers await manual grading "
          "(nbgrader formgrader).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["demo", "autograde", "regrade"],
                        help="demo: the bundled example class; autograde: every notebook in this "
                             "course's submitted/, in parallel, then nbgrader, feedback, export and "
                             "the class report; regrade: one student's, the same way")
    parser.add_argument("student", nargs="?", help="regrade: the student's nbgrader id")
    parser.add_argument("--jobs", type=int, default=None, help="autograde: students at once")
    parser.add_argument("--kernel", action="store_true",
                        help="autograde: also run the students' notebooks in a sandboxed kernel, "
                             "for executed outputs and plots in the feedback (same points, about "
                             "3x slower in nbgrader)")
    parser.add_argument("--no-kernel", action="store_true", help=argparse.SUPPRESS)  # the default
    args = parser.parse_args(argv)
    root = course_root.find_for(parser)
    try:
        if args.command == "demo":
            demo(root)
        elif args.command == "regrade":
            if not args.student:
                parser.error("regrade needs the student's id: python -m autograder.course regrade STUDENT")
            row = regrade_student(root, args.student, run_kernel=args.kernel and not args.no_kernel,
                                  jobs=args.jobs)
            print(f"{args.student}: {row['status']}, {row['score']}/{row['max_score']} in "
                  f"{root / 'grades.csv'}; report: {root / REPORT / 'index.html'}")
        else:
            run_kernel = args.kernel and not args.no_kernel
            rows = autograde_class(root, run_kernel=run_kernel, parallel=True, jobs=args.jobs)
            statuses = {status: sum(row["status"] == status for row in rows)
                        for status in ("graded", "could not grade", "not submitted")}
            print(f"nbgrader export: {root / 'grades.csv'}: " + ", ".join(
                f"{count} {status}" for status, count in statuses.items())
                + f"; report: {root / REPORT / 'index.html'}")
    except ValueError as error:
        parser.error(str(error))
    except GradingMachineError as error:
        print(error, file=sys.stderr)
        return ExitStatus.SELF_CHECK_FAILED
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
