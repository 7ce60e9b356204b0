"""The grade of one notebook, and every form it takes.

`GradeResult` is made by `autograder.grading.grade` and written out only here: the CLI's JSON
and table, a batch line (and the batch line read back by nbgrader), Gradescope's tests. Exit
statuses are named once, in `ExitStatus`.
"""

import dataclasses
import enum
from typing import Any

GRADER_FAILED = "The grader failed on this machine, not the student's notebook"


class Status(enum.Enum):
    """What became of a notebook."""

    GRADED = "graded"  # scored, whatever the score
    UNREADABLE = "not a notebook"  # not a readable assignment notebook: 0, with the reason
    GRADER_FAILED = "could not grade"  # the grader's failure: no score at all, never a zero
    SKIPPED = "not graded"  # a link, a folder or an extra notebook: reported, never opened


class ExitStatus(enum.IntEnum):
    """The exit statuses of every command of the grader."""

    OK = 0  # graded (whatever the score), or the self-check passed
    SELF_CHECK_FAILED = 1  # the reference solutions do not earn full marks on this machine
    UNREADABLE = 2  # the file is not a readable notebook
    GRADER_FAILED = 3  # the grader itself failed on this machine (nobody's score)
    INTERRUPTED = 130  # Ctrl-C: what was written is kept


@dataclasses.dataclass
class PartResult:
    name: str
    score: float | None
    max: float
    feedback: str


@dataclasses.dataclass
class GradeResult:
    """One notebook's grade: its parts' scores and feedback, or why it has none."""

    notebook: str
    total: float | None
    max_total: float | None
    parts: list[PartResult]
    error: str | None = None
    status: Status = Status.GRADED
    assignment: str | None = None  # which of the assignment's notebooks it is
    cases: list = dataclasses.field(default_factory=list, repr=False)  # each check's outcome
    # A digest of what grading read from the notebook (`grade.grading_key`).
    grading_key: str | None = dataclasses.field(default=None, repr=False)
    from_batch: bool = dataclasses.field(default=False, repr=False)  # read back from a batch line
    seconds: float | None = dataclasses.field(default=None, repr=False)  # grading's wall time

    @property
    def grader_failed(self) -> bool:
        return self.status is Status.GRADER_FAILED

    def part(self, name: str) -> PartResult:
        return next(p for p in self.parts if p.name == name)

    @classmethod
    def unreadable(cls, notebook: str, maxima: dict[str, float], error: str) -> "GradeResult":
        """A file that is not a readable assignment notebook: every part 0, with the reason."""
        return cls(notebook=notebook, total=0.0, max_total=sum(maxima.values()),
                   parts=[PartResult(p, 0.0, m, error) for p, m in maxima.items()], error=error,
                   status=Status.UNREADABLE)

    @classmethod
    def grader_failure(cls, notebook: str, maxima: dict[str, float], error: Any) -> "GradeResult":
        """A result with no score at all: the grading machine is at fault, not the student."""
        return cls(notebook=notebook, total=None, max_total=sum(maxima.values()),
                   parts=[PartResult(p, None, m, "Not graded: the grader failed.")
                          for p, m in maxima.items()],
                   error=f"{GRADER_FAILED}: {error}. Run python -m autograder --self-check.",
                   status=Status.GRADER_FAILED)

    def exit_status(self) -> ExitStatus:
        """The CLI's exit status for this grade."""
        if self.status is Status.GRADER_FAILED:
            return ExitStatus.GRADER_FAILED
        return ExitStatus.UNREADABLE if self.error else ExitStatus.OK

    # ----- its forms -----

    def to_json(self) -> dict:
        """The CLI's JSON object (``python -m autograder NOTEBOOK --json``)."""
        return {"notebook": self.notebook, "total": self.total, "max_total": self.max_total,
                "parts": [dataclasses.asdict(p) for p in self.parts], "error": self.error}

    def to_table(self, manual_points: float = 0.0, warning: str | None = None) -> str:
        """The grade as a table a person reads; ``manual_points`` are graded by hand."""
        rows = [(p.name, f"{_score(p.score)}/{p.max:g}", p.feedback) for p in self.parts]
        width = max([len(r[0]) for r in rows] + [4])
        lines = [f"{self.notebook}: {_score(self.total)}/{self.max_total:g} autograded"
                 + (f"; {manual_points:g} more points are graded by hand" if manual_points else "")]
        if self.error:
            lines.append(f"error: {self.error}")
        lines += [f"  {name:<{width}}  {score:>7}  {feedback}" for name, score, feedback in rows]
        if warning:
            lines.append(warning)
        return "\n".join(lines)

    def to_batch_line(self, student: str, path: str, sha256: str, grader_version: str) -> dict:
        """The JSON line of `autograder.batch`: the CLI's object, then where it came from, the
        checks that failed (``{"part", "check", "diagnosis"}``, for the class report) and how
        long grading took."""
        failed = [{"part": c.part, "check": c.name, "diagnosis": c.diagnosis}
                  for c in self.cases if not c.passed]
        return {**self.to_json(), "notebook": path, "student": student, "path": path,
                "notebook_sha256": sha256, "grader_version": grader_version,
                "grader_failed": self.grader_failed, "grading_key": self.grading_key,
                "assignment": self.assignment, "failed_checks": failed, "seconds": self.seconds}

    @classmethod
    def from_batch_line(cls, line: dict) -> "GradeResult":
        """A batch line read back (by nbgrader's `GradeOutOfProcess`)."""
        status = Status.GRADER_FAILED if line.get("grader_failed") else (
            Status.UNREADABLE if line.get("error") else Status.GRADED)
        return cls(notebook=line["notebook"], total=line["total"], max_total=line["max_total"],
                   parts=[PartResult(**part) for part in line["parts"]], error=line["error"],
                   status=status, grading_key=line.get("grading_key"), from_batch=True)

    def gradescope_tests(self, file_name: str) -> list[dict]:
        """Gradescope's tests of this notebook: one per part, its feedback as ``output``."""
        return [{"name": f"{part.name} ({file_name})", "score": part.score or 0.0,
                 "max_score": part.max,
                 "output": part.feedback if self.error is None else f"{file_name}: {self.error}"}
                for part in self.parts]


def skipped_line(student: str, path: str, reason: str, digest: str,
                 grader_version: str) -> dict:
    """The batch line of a file that is reported, not graded (a link, a folder, an extra
    notebook)."""
    return {"notebook": path, "total": None, "max_total": None, "parts": [],
            "error": f"Not graded: {reason}.", "student": student, "path": path,
            "notebook_sha256": digest, "grader_version": grader_version, "grader_failed": False,
            "skipped": True}


def worker_failure_line(student: str, path: str, error: BaseException, digest: str,
                        grader_version: str) -> dict:
    """The batch line of a notebook whose worker process died: the grader's failure."""
    return {"notebook": path, "total": None, "max_total": None, "parts": [],
            "error": f"{GRADER_FAILED}: its worker process failed ({error!r}).",
            "student": student, "path": path, "notebook_sha256": digest,
            "grader_version": grader_version, "grader_failed": True}


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
