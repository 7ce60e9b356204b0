"""nbgrader configuration for the MAML course (the repository root is the course root)."""

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                    LimitOutput, SaveAutoGrades)

from autograder.nbgrader_plugin import ApplyOutOfProcessGrades, GradeOutOfProcess, SandboxedExecute

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "maml-course"
c.CourseDirectory.solution_directory = "solutions"

# Points come only from the out-of-process grader: it grades the notebook before the kernel runs,
# and its scores replace the test cells' outputs after execution, just before SaveAutoGrades.
c.Autograde.autograde_preprocessors = [
    GradeOutOfProcess,
    SandboxedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    ApplyOutOfProcessGrades,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Meta-training runs with the autograding budget; a few minutes is ample for compilation.
c.Execute.timeout = 300
# `nbgrader export` marks notebooks that could not be graded distinctly from a real zero.
c.ExportApp.plugin_class = "autograder.nbgrader_plugin.GradeStatusCsvExport"
