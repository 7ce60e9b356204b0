"""nbgrader preprocessors that make `nbgrader autograde` take its points from the out-of-process
grader, so that nothing running in the student's kernel decides a score or reaches a file.

`GradeOutOfProcess` runs before nbgrader executes the notebook: it grades the sanitized notebook
exactly as ``python -m autograder`` would. `SandboxedExecute` then runs the notebook (for the
feedback's printed output and plots) in a kernel inside the same sandbox as the grader's child.
`ApplyOutOfProcessGrades` replaces every autograded test cell's outputs with the grader's feedback
and its score, written as the partial-credit value that nbgrader's `SaveAutoGrades` reads.
"""

import csv
import os
import shutil
import tempfile

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from nbgrader.api import MissingEntry
from nbgrader.plugins.export import CsvExportPlugin
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Unicode

from autograder.grading.grade import grade_notebook
from autograder.isolation import sandbox
from autograder.isolation.student_process import process_sandboxes

RESOURCE_KEY = "out_of_process_grades"


def test_cell_part(cell: dict) -> str | None:
    """The part an autograded test cell scores (grade_id ``test_<part>``), else None."""
    if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
        return None
    return cell.metadata["nbgrader"]["grade_id"].removeprefix("test_")


class GradeOutOfProcess(NbGraderPreprocessor):
    """Grades the notebook with `autograder.grading.grade` before the student's kernel runs.

    With ``batch_results`` (a `python -m autograder.batch` output), a notebook whose grading key
    (parts, extracted definitions; `autograder.grading.grade.grading_key`) matches a line written
    by this grader version takes that line's grades instead of being graded again: the same input
    gives the same grade.
    """

    batch_results = Unicode("", help="JSON lines from python -m autograder.batch to reuse when "
                                      "they are current").tag(config=True)

    def preprocess(self, nb, resources):
        name = resources.get("unique_key", "notebook")
        with tempfile.TemporaryDirectory(prefix="maml-autograde-") as scratch:
            path = os.path.join(scratch, f"{name}.ipynb")
            nbformat.write(nb, path)
            # nbgrader autograde grades the class in one process: its sandboxes serve notebook
            # after notebook, as a batch worker's do (SECURITY.md, "At class scale").
            result = self._from_batch(path) or grade_notebook(path, sandboxes=process_sandboxes())
        # nbgrader records a failure for this notebook ("could not grade" in the export), not a zero
        if result.grader_failed:
            raise RuntimeError(f"{name} was not graded: {result.error}")
        if result.error is not None:
            raise ValueError(f"the grader could not read {name}: {result.error}")
        self.log.info("Out-of-process grade of %s%s: %s/%s", name,
                      " (from the batch results)" if result.from_batch else "",
                      result.total, result.max_total)
        resources[RESOURCE_KEY] = {part.name: part for part in result.parts}
        return nb, resources


    def _from_batch(self, path):
        if not self.batch_results:
            return None
        from autograder.grading.batch_grading import current_records
        from autograder.grading.grade import notebook_grading_key
        from autograder.grading.record import GradeResult

        line = current_records(self.batch_results).get(notebook_grading_key(path))
        return None if line is None else GradeResult.from_batch_line(line)


class ApplyOutOfProcessGrades(NbGraderPreprocessor):
    """Puts the out-of-process score and feedback into each autograded test cell."""

    def preprocess(self, nb, resources):
        parts = resources[RESOURCE_KEY]
        for cell in nb.cells:
            part = test_cell_part(cell)
            if part is None:
                continue
            if part not in parts:
                raise ValueError(f"test cell {cell.metadata['nbgrader']['grade_id']!r} has no grader")
            result = parts[part]
            points = float(cell.metadata["nbgrader"]["points"])
            if abs(points - result.max) > 1e-9:
                raise ValueError(f"test cell for {part} is worth {points} points in the notebook "
                                 f"but {result.max} in the grader")
            cell.outputs = [
                new_output("stream", name="stdout",
                           text=f"Grader: {result.score:g}/{result.max:g} points. {result.feedback}\n"),
                new_output("execute_result", data={"text/plain": repr(float(result.score))},
                           execution_count=cell.get("execution_count")),
            ]
        return nb, resources


class SandboxedKernelManager(AsyncKernelManager):
    """An IPython kernel in the grader's sandbox: it sees the allowlist plus the notebook's own
    folder (read-only), talks over Unix sockets in a private folder (it has no network), and runs
    with the sandbox's resource limits and unprivileged uid."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._private = tempfile.mkdtemp(prefix="maml-kernel-")
        self.connection_file = os.path.join(self._private, "kernel.json")
        self.ip = os.path.join(self._private, "kernel-ipc")

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        launcher = ["-m", "ipykernel_launcher", "-f"]
        start = next((i for i in range(len(command)) if command[i:i + 3] == launcher), None)
        if start is None:
            raise RuntimeError(f"only the IPython kernel can run sandboxed, not {command[:3]}")
        folder = self._launch_args.get("cwd") or os.getcwd()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp",
               "JAX_PLATFORMS": "cpu", "MPLCONFIGDIR": "/tmp", "PYTHONHASHSEED": "0",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        if "NBGRADER_EXECUTION" in os.environ:  # selects the autograding budget
            env["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
        if os.geteuid() == 0:  # the kernel reads it after dropping to the sandbox's uid
            os.chmod(self.connection_file, 0o644)
        inner = sandbox.inside_command("kernel", *command[start + 2:])
        return sandbox.wrap(inner, self._private, env, readable=[folder], cwd=folder)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(Execute):
    """nbgrader's `Execute` with the kernel in the sandbox. After a cell times out, the later
    cells are not run, so a hung kernel costs one timeout, not one per cell.

    The kernel only adds the student's printed output and plots to the feedback (points come
    from `GradeOutOfProcess`): ``c.SandboxedExecute.run_kernel = False`` skips it, which makes
    `nbgrader autograde` much faster on a large class (BENCHMARKS.md).
    """

    run_kernel = Bool(True, help="Run the notebook in a sandboxed kernel for the feedback's "
                                 "outputs and plots (scores never depend on it).").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self._timed_out = False

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self._timed_out and cell.cell_type == "code":
            cell.outputs = [new_output("stream", name="stdout", text=(
                "Not run while grading: an earlier cell did not finish in time.\n"))]
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    def preprocess(self, nb, resources=None, km=None):
        if not self.run_kernel:
            return nb, resources
        self._timed_out = False
        return super().preprocess(nb, resources, km)


class GradeStatusCsvExport(CsvExportPlugin):
    """nbgrader's CSV export with a ``status`` column: ``graded``, ``not submitted`` (score 0, as
    nbgrader counts it) or ``could not grade`` (a submitted notebook has no autograded version:
    autograding failed, so the scores are left empty, never a zero that looks real). A notebook
    of the assignment that was not submitted at all counts 0, as in nbgrader."""

    COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
               "email", "raw_score", "late_submission_penalty", "score", "max_score", "status"]

    def _status(self, gradebook, assignment, student):
        try:
            submission = gradebook.find_submission(assignment.name, student.id)
        except MissingEntry:
            return None, "not submitted"
        coursedir = self.parent.coursedir
        submitted, autograded = (
            coursedir.format_path(directory, student.id, assignment.name)
            for directory in (coursedir.submitted_directory, coursedir.autograded_directory))
        graded = all(os.path.isfile(os.path.join(autograded, f"{notebook.name}.ipynb"))
                     for notebook in assignment.notebooks
                     if os.path.isfile(os.path.join(submitted, f"{notebook.name}.ipynb")))
        return submission, "graded" if graded else "could not grade"

    def export(self, gradebook):
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades with their status to %s", destination)
        with open(destination, "w", newline="") as f:
            writer = csv.DictWriter(f, self.COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in map(str, self.assignment):
                    continue
                for student in gradebook.students:
                    if self.student and student.id not in map(str, self.student):
                        continue
                    submission, status = self._status(gradebook, assignment, student)
                    row = {"assignment": assignment.name, "duedate": assignment.duedate or "",
                           "student_id": student.id, "last_name": student.last_name or "",
                           "first_name": student.first_name or "", "email": student.email or "",
                           "max_score": assignment.max_score, "status": status, "timestamp": ""}
                    if status == "not submitted":
                        row.update(raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                    elif status == "graded":
                        penalty = submission.late_submission_penalty or 0.0
                        row.update(timestamp=submission.timestamp or "",
                                   raw_score=submission.score, late_submission_penalty=penalty,
                                   score=max(0.0, submission.score - penalty))
                    else:
                        row.update(timestamp=submission.timestamp or "", raw_score="",
                                   late_submission_penalty="", score="")
                    writer.writerow(row)
