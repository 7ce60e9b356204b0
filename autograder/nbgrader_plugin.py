"""nbgrader preprocessors that make `nbgrader autograde` take its points from the out-of-process
grader, so that nothing running in the student's kernel decides a score.

`GradeOutOfProcess` runs before nbgrader executes the notebook: it grades the sanitized notebook
exactly as ``python -m autograder`` would. `ApplyOutOfProcessGrades` runs after execution and
replaces every autograded test cell's outputs with the grader's feedback and its score, written as
the partial-credit value that nbgrader's `SaveAutoGrades` reads.
"""

import os
import tempfile

import nbformat
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

from autograder.grade import grade_notebook

RESOURCE_KEY = "out_of_process_grades"


def test_cell_part(cell):
    """The part an autograded test cell scores (grade_id ``test_<part>``), else None."""
    if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
        return None
    return cell.metadata["nbgrader"]["grade_id"].removeprefix("test_")


class GradeOutOfProcess(NbGraderPreprocessor):
    """Grades the notebook with `autograder.grade` before the student's kernel runs."""

    def preprocess(self, nb, resources):
        name = resources.get("unique_key", "notebook")
        with tempfile.TemporaryDirectory(prefix="maml-autograde-") as scratch:
            path = os.path.join(scratch, f"{name}.ipynb")
            nbformat.write(nb, path)
            result = grade_notebook(path)
        self.log.info("Out-of-process grade of %s: %s/%s", name, result.total, result.max_total)
        resources[RESOURCE_KEY] = {part.name: part for part in result.parts}
        return nb, resources


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
