"""An nbgrader course, driven from Python: release, submit, self-check, autograde (out of process,
optionally after `autograder.batch`), feedback, export and the gradebook's part scores (the
library of ``python -m autograder.course``)."""


import csv
import glob
import os
import pathlib
import shutil
import subprocess
import sys

from autograder.grading.course_root import ASSIGNMENT
from autograder.grading.record import ExitStatus


def nbgrader(course: pathlib.Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``nbgrader ARGS`` in the course root with this environment's tools first on PATH."""
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                               capture_output=True, text=True)
    if check and completed.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return completed


def copy_course(root: pathlib.Path, destination: pathlib.Path) -> pathlib.Path:
    """A fresh course root at ``destination``: the source assignment and the nbgrader config of
    the course at ``root``, nothing else."""
    destination = pathlib.Path(destination)
    shutil.copytree(pathlib.Path(root) / "source", destination / "source",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(pathlib.Path(root) / "nbgrader_config.py", destination)
    return destination


def submit(course: pathlib.Path, student: str, folder: pathlib.Path) -> pathlib.Path:
    """Places the notebooks in ``folder`` where `nbgrader collect` would: submitted/STUDENT/maml/."""
    target = pathlib.Path(course) / "submitted" / student / ASSIGNMENT
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(pathlib.Path(folder).glob("*.ipynb")):
        shutil.copy(notebook, target / notebook.name)
    return target


class GradingMachineError(RuntimeError):
    """The reference solutions do not earn full marks here: grading would blame the students."""


def check_machine() -> str:
    """Runs the self-check (`autograder.grading.self_check`); raises `GradingMachineError` if it fails."""
    from autograder.grading import self_check

    status, line = self_check.run()
    if status != ExitStatus.OK:
        raise GradingMachineError(line)
    return line


def release_and_grade(course: pathlib.Path, students: dict, self_check: bool = True,
                      run_kernel: bool = True, parallel: bool = False,
                      jobs: int | None = None) -> list[dict]:
    """Self-check, release, submit ``{student: folder of notebooks}``, then `autograde_class`;
    returns the export's rows."""
    if self_check and not parallel:  # before anything is released or submitted
        print(check_machine(), file=sys.stderr)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    for student, folder in students.items():
        submit(course, student, folder)
    return autograde_class(course, self_check and parallel, run_kernel, parallel, jobs)


BATCH_GRADES = "batch_grades.jsonl"
REPORT = "report"  # the class report's folder in the course root (`autograder.grading.report`)


def autograde_class(course: pathlib.Path, self_check: bool = True, run_kernel: bool = True,
                    parallel: bool = False, jobs: int | None = None) -> list[dict]:
    """Self-check, `nbgrader autograde` of everything in ``submitted/``, feedback and export;
    returns the export's rows (``status`` says "graded", "could not grade" or "not submitted").
    nbgrader's autograde log is kept in ``autograde.log`` in the course root.

    nbgrader goes on past a notebook it cannot grade and exits 1 at the end; that student's row
    says "could not grade" and the others are graded as usual. With ``run_kernel=False`` the
    students' notebooks are not executed (scores are the same; feedback has no outputs or plots).
    With ``parallel=True``, `autograder.batch` first grades every submitted notebook, ``jobs``
    students at a time (its self-check first), into ``batch_grades.jsonl``, and nbgrader reuses those grades
    for every notebook whose grading input is unchanged by its sanitizing, and the class report
    is written into ``report/``.
    """
    options = [] if run_kernel else ["--SandboxedExecute.run_kernel=False"]
    if parallel:
        from autograder.grading.batch_grading import grade_submitted

        results = pathlib.Path(course).resolve() / BATCH_GRADES
        status = grade_submitted(pathlib.Path(course) / "submitted", results, jobs,
                                 self_check=self_check)
        if status == ExitStatus.SELF_CHECK_FAILED:
            raise GradingMachineError("self-check FAILED: see the line above; nobody was graded")
        options.append(f"--GradeOutOfProcess.batch_results={results}")
    elif self_check:
        print(check_machine(), file=sys.stderr)
    return _nbgrader_steps(course, options, parallel)


def _nbgrader_steps(course, options, with_report, student="*"):
    """``nbgrader autograde`` (of ``student``, or everyone), feedback, export, and the class report
    from the batch lines; returns the export's rows."""
    course = pathlib.Path(course)
    only = [] if student == "*" else ["--student", student]
    autograde = nbgrader(course, "autograde", ASSIGNMENT, *only, "--force", *options, check=False)
    (course / "autograde.log").write_text(autograde.stdout + autograde.stderr)
    if autograde.returncode not in (0, 1):
        raise RuntimeError(f"nbgrader autograde failed:\n{autograde.stderr[-4000:]}")
    pattern = student if student == "*" else glob.escape(student)
    if any((course / "autograded").glob(f"{pattern}/{ASSIGNMENT}/*.ipynb")):
        # generate_feedback fails when nobody was graded
        nbgrader(course, "generate_feedback", ASSIGNMENT, *only, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    if with_report:
        from autograder.grading import report

        report.write_from_batch(course / BATCH_GRADES, course / REPORT, course / "submitted",
                                course / "release" / ASSIGNMENT, course / "gradebook.db")
    with open(course / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


def regrade_student(course: pathlib.Path, student: str, self_check: bool = True,
                    run_kernel: bool = False, jobs: int | None = None) -> dict:
    """Grades one student's submission again (after a resubmission, a manual fix or a grader
    update) and updates what `autograde_class` made: the batch lines, nbgrader's gradebook and
    feedback, the export and the class report. Everyone else's lines, gradebook entries and
    feedback are left as they are. Returns the student's export row.

    Raises:
      GradingMachineError: the self-check failed (nothing was changed).
      ValueError: the student has no folder in ``submitted/``.
    """
    from autograder.grading.batch_grading import grade_submitted

    course = pathlib.Path(course).resolve()
    if not (course / "submitted" / student).is_dir():
        raise ValueError(f"{student} has no submission: {course / 'submitted' / student} is not a "
                         "folder (nbgrader collect, or copy it there, first)")
    results = course / BATCH_GRADES
    status = grade_submitted(course / "submitted", results, jobs, self_check=self_check,
                             only={student})
    if status == ExitStatus.SELF_CHECK_FAILED:
        raise GradingMachineError("self-check FAILED: see the line above; nobody was regraded")
    options = [f"--GradeOutOfProcess.batch_results={results}"]
    options += [] if run_kernel else ["--SandboxedExecute.run_kernel=False"]
    rows = _nbgrader_steps(course, options, with_report=True, student=student)
    return next(row for row in rows if row["student_id"] == student)


def part_scores(course: pathlib.Path, student: str, notebook: str = ASSIGNMENT) -> dict:
    """The autograded score of each test cell of ``notebook`` in the gradebook: ``{part: score}``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{pathlib.Path(course) / 'gradebook.db'}") as gradebook:
        try:
            submission = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
        except MissingEntry:
            return {}
        return {grade.name.removeprefix("test_"): grade.auto_score
                for grade in submission.grades if grade.name.startswith("test_")}


def example_students(examples: pathlib.Path) -> dict:
    """``{student: folder}`` for an example class laid out as ``examples/STUDENT/*.ipynb``."""
    return {path.name: path for path in sorted(pathlib.Path(examples).iterdir()) if path.is_dir()}
