"""Running the nbgrader course: release, submissions, autograde, feedback, export.

``python -m autograder.course autograde [--jobs N] [--kernel]`` autogrades a whole class in
this course root: `autograder.batch` grades every notebook in ``submitted/`` in parallel, then
``nbgrader autograde`` reuses those grades, and feedback and the export follow. It does not run
the students' notebooks in a kernel unless ``--kernel`` is given: the kernel decides no point and
only adds freshly executed outputs and plots to the feedback, and it made nbgrader's step 3.1x
slower per student (BENCHMARKS.md, "Grading a class"), hours for a class of hundreds.

``python -m autograder.course demo`` is the main job of this repository: it checks that this
machine gives the reference solutions full marks (`autograder.self_check`), builds the release,
submits the bundled example notebooks in ``examples/``, autogrades them with nbgrader (points from
the out-of-process grader), writes feedback and prints the grade table.
"""

import argparse
import csv
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
ASSIGNMENT = "maml"
EXAMPLES = ROOT / "examples"


def nbgrader(course, *args, check=True):
    """Runs ``nbgrader ARGS`` in the course root with this environment's tools first on PATH."""
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                               capture_output=True, text=True)
    if check and completed.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return completed


def copy_course(destination):
    """A fresh course root: the source assignment and the nbgrader config, nothing else."""
    destination = pathlib.Path(destination)
    shutil.copytree(ROOT / "source", destination / "source",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "nbgrader_config.py", destination)
    return destination


def submit(course, student, folder):
    """Places the notebooks in ``folder`` where `nbgrader collect` would: submitted/STUDENT/maml/."""
    target = pathlib.Path(course) / "submitted" / student / ASSIGNMENT
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(pathlib.Path(folder).glob("*.ipynb")):
        shutil.copy(notebook, target / notebook.name)
    return target


class GradingMachineError(RuntimeError):
    """The reference solutions do not earn full marks here: grading would blame the students."""


def check_machine():
    """Runs the self-check (`autograder.self_check`); raises `GradingMachineError` if it fails."""
    from autograder import self_check

    status, line = self_check.run()
    if status != self_check.PASSED:
        raise GradingMachineError(line)
    return line


def grade_class(course, students, self_check=True, run_kernel=True, parallel=False, jobs=None):
    """Self-check, release, submit ``{student: folder of notebooks}``, then `autograde_class`;
    returns the export's rows."""
    if self_check and not parallel:  # before anything is released or submitted
        print(check_machine(), file=sys.stderr)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    for student, folder in students.items():
        submit(course, student, folder)
    return autograde_class(course, self_check and parallel, run_kernel, parallel, jobs)


BATCH_GRADES = "batch_grades.jsonl"


def autograde_class(course, self_check=True, run_kernel=True, parallel=False, jobs=None):
    """Self-check, `nbgrader autograde` of everything in ``submitted/``, feedback and export;
    returns the export's rows (``status`` says "graded", "could not grade" or "not submitted").
    nbgrader's autograde log is kept in ``autograde.log`` in the course root.

    nbgrader goes on past a notebook it cannot grade and exits 1 at the end; that student's row
    says "could not grade" and the others are graded as usual. With ``run_kernel=False`` the
    students' notebooks are not executed (scores are the same; feedback has no outputs or plots).
    With ``parallel=True``, `autograder.batch` first grades every submitted notebook, ``jobs``
    students at a time (its self-check first), into ``batch_grades.jsonl``, and nbgrader reuses those grades
    for every notebook whose grading input is unchanged by its sanitizing.
    """
    options = [] if run_kernel else ["--SandboxedExecute.run_kernel=False"]
    if parallel:
        from autograder import batch

        results = pathlib.Path(course).resolve() / BATCH_GRADES
        status = batch.grade_class(pathlib.Path(course) / "submitted", results, jobs,
                                   self_check=self_check)
        if status == 1:
            raise GradingMachineError("self-check FAILED: see the line above; nobody was graded")
        options.append(f"--GradeOutOfProcess.batch_results={results}")
    elif self_check:
        print(check_machine(), file=sys.stderr)
    autograde = nbgrader(course, "autograde", ASSIGNMENT, "--force", *options, check=False)
    (pathlib.Path(course) / "autograde.log").write_text(autograde.stdout + autograde.stderr)
    if autograde.returncode not in (0, 1):
        raise RuntimeError(f"nbgrader autograde failed:\n{autograde.stderr[-4000:]}")
    if any((pathlib.Path(course) / "autograded").glob(f"*/{ASSIGNMENT}/*.ipynb")):
        nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")  # fails when none was graded
    nbgrader(course, "export", "--to", "grades.csv")
    with open(pathlib.Path(course) / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


def part_scores(course, student, notebook=ASSIGNMENT):
    """The autograded score of each test cell of ``notebook`` in the gradebook: ``{part: score}``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{pathlib.Path(course) / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        return {grade.name.removeprefix("test_"): grade.auto_score
                for grade in submission.grades if grade.name.startswith("test_")}


def example_students():
    """``{student: folder}`` for the bundled example class (examples/STUDENT/NOTEBOOK.ipynb)."""
    return {path.name: path for path in sorted(EXAMPLES.iterdir()) if path.is_dir()}


def demo():
    """Grades the bundled examples in this repository's course root and prints the table."""
    students = example_students()
    rows = {row["student_id"]: row for row in grade_class(ROOT, students)}
    parts = list(part_scores(ROOT, "alice"))
    print(f"{'student':<10}" + "".join(f"{p[:12]:>13}" for p in parts) + f"{'part 1':>8}{'part 2':>8}")
    for student in students:
        if rows[student]["status"] != "graded":
            print(f"{student:<10}  {rows[student]['status']} (see autograde.log)")
            continue
        scores = part_scores(ROOT, student)
        second = part_scores(ROOT, student, "beyond_maml")
        print(f"{student:<10}" + "".join(f"{scores[p]:>13g}" for p in parts)
              + f"{sum(scores.values()):>8g}" + (f"{sum(second.values()):>8g}" if second else f"{'-':>8}"))
    print(f"\nnbgrader export: {ROOT / 'grades.csv'} ({len(rows)} rows); "
          f"feedback: {ROOT / 'feedback'}; written answers await manual grading "
          "(nbgrader formgrader).")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["demo", "autograde"],
                        help="demo: the bundled example class; autograde: every notebook in this "
                             "course's submitted/, in parallel, then nbgrader, feedback and export")
    parser.add_argument("--jobs", type=int, default=None, help="autograde: students at once")
    parser.add_argument("--kernel", action="store_true",
                        help="autograde: also run the students' notebooks in a sandboxed kernel, "
                             "for executed outputs and plots in the feedback (same points, about "
                             "3x slower in nbgrader)")
    parser.add_argument("--no-kernel", action="store_true", help=argparse.SUPPRESS)  # the default
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo()
        else:
            run_kernel = args.kernel and not args.no_kernel
            rows = autograde_class(ROOT, run_kernel=run_kernel, parallel=True,
                                   jobs=args.jobs)
            statuses = {status: sum(row["status"] == status for row in rows)
                        for status in ("graded", "could not grade", "not submitted")}
            print(f"nbgrader export: {ROOT / 'grades.csv'}: " + ", ".join(
                f"{count} {status}" for status, count in statuses.items()))
    except GradingMachineError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
