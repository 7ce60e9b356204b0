"""The pytest plugin that runs the parts' checks against one notebook's child process and turns
their outcomes into points: the ``student``, ``compare`` and ``reference_values`` fixtures, and one
`CaseResult` per check. What checks are written with is `autograder.parts.checking`."""

import copy
import dataclasses
import functools
import json
import sys
from typing import Any

import pytest

from autograder import parts
from autograder.isolation.errors import CodeRaised, GraderError, StudentError, StudentTimeout
from autograder.isolation.plain_errors import describe_inputs
from autograder.parts import SUBSTITUTES
from autograder.parts.checking import Comparisons, Mismatch, ReferenceValues

# Verbatim runs of the substitutes' source this long in a student's error message withhold it.
_QUOTE_CHARACTERS = 24


@functools.cache
def _substitute_quotes():
    text = " ".join(SUBSTITUTES.read_text().split())
    return {text[i:i + _QUOTE_CHARACTERS] for i in range(len(text) - _QUOTE_CHARACTERS + 1)}


def withhold_grader_source(error: StudentError) -> StudentError:
    """``error``, or, if its message quotes the grader's own versions of graded names (code in
    the student's process can raise an exception whose message is their source), the same kind
    of error saying only that it raised. Encoded copies are not caught: see SECURITY.md."""
    text = " ".join(str(error).split())
    quotes = _substitute_quotes()
    if not any(text[i:i + _QUOTE_CHARACTERS] in quotes
               for i in range(len(text) - _QUOTE_CHARACTERS + 1)):
        return error
    kind = str(error).split(":", 1)[0] if ":" in str(error) else "an exception"
    return type(error)(f"{kind}: (its message is withheld: it quoted the grader's own code)")


@dataclasses.dataclass
class CaseResult:
    part: str
    name: str
    points: float
    passed: bool
    feedback: str
    student_error: StudentError | None = None
    # Each comparison's scaled error as a fraction of its tolerance (pass: all <= 1).
    margins: list = dataclasses.field(default_factory=list)
    evidence: str | None = None  # a failed comparison's values, for the student (`Mismatch`)
    diagnosis: str | None = None  # the known mistake its result matched (`checking.diagnose`)


class PartStudent:
    """The child process as one part's checks see it.

    Answers are memoized by request, so checks that look at different outputs of the same call
    (a value and its gradient) share one run and one compilation. After a timeout the part stops
    probing.
    """

    def __init__(self, process, plugin, part: parts.Part):
        self._process, self._plugin, self._part = process, plugin, part

    def probe(self, name: str, timeout: float = 20.0, **args) -> Any:
        if self._plugin.grader_failure is not None:
            raise GraderError(self._plugin.grader_failure)
        if self._part.name in self._plugin.timed_out_parts:
            raise StudentTimeout("Skipped: an earlier check of this part ran out of time.")
        key = json.dumps([name, args], sort_keys=True)
        if key not in self._plugin.answers:
            try:
                self._plugin.answers[key] = (
                    self._process.probe(self._part, name, timeout, **args), None)
            except StudentTimeout:
                self._plugin.timed_out_parts.add(self._part.name)
                raise
            except StudentError as error:
                error = withhold_grader_source(error)
                if isinstance(error, CodeRaised):
                    error.inputs = describe_inputs(args)
                self._plugin.answers[key] = (None, error)
        value, error = self._plugin.answers[key]
        if error is not None:
            raise error
        return copy.deepcopy(value)


class GradingPlugin:
    """Collects one `CaseResult` per grader function; nothing else decides a point."""

    def __init__(self, process, recorded: dict | None = None):
        """``recorded``: a dict to record reference values into instead of comparing them."""
        self.process = process
        self.recorded = recorded
        self.results = []
        self.timed_out_parts = set()
        self.answers = {}
        self.grader_failure = None  # why the grader itself failed: no check is then believed
        self._comparisons = {}  # each running check's `Comparisons`, by node id

    def pytest_configure(self, config: pytest.Config) -> None:
        # Each exception is read below; pytest's report of it (every traceback entry's source
        # file parsed) is never shown and cost 0.06 s per failed check.
        config.option.tbstyle = "no"

    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> "PartStudent":
        return PartStudent(self.process, self, _part_of(request.node))

    @pytest.fixture
    def compare(self, request: pytest.FixtureRequest) -> Comparisons:
        return self._comparisons.setdefault(request.node.nodeid, Comparisons())

    @pytest.fixture
    def reference_values(self, request: pytest.FixtureRequest,
                         compare: Comparisons) -> ReferenceValues:
        return ReferenceValues(_part_of(request.node), compare, self.recorded)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        declared = getattr(item.function, "grading_case", None)
        if declared is None or report.when == "teardown":
            return
        if report.when == "setup" and report.passed:
            return
        comparisons = self._comparisons.pop(item.nodeid, None)
        margins = comparisons.margins if comparisons is not None else []
        student_error = None
        evidence = diagnosis = None
        if call.excinfo is not None and isinstance(call.excinfo.value, Mismatch):
            evidence, diagnosis = str(call.excinfo.value), call.excinfo.value.diagnosis
        if call.excinfo is not None and isinstance(call.excinfo.value, GraderError):
            self.grader_failure = self.grader_failure or str(call.excinfo.value)
        elif call.excinfo is not None and isinstance(call.excinfo.value, StudentError):
            student_error = call.excinfo.value
        elif call.excinfo is not None and not isinstance(call.excinfo.value, AssertionError):
            print(f"grader error in {item.nodeid}: {call.excinfo.value!r}", file=sys.stderr)
        self.results.append(CaseResult(_part_of(item).name, item.name, declared.points,
                                       report.passed, declared.feedback, student_error,
                                       margins, evidence, diagnosis))


def _part_of(item) -> parts.Part:
    """The part whose checks file holds the pytest ``item``."""
    return parts.get(item.path.parent.name)
