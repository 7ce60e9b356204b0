"""What a part's checks declare (`case`), the fixtures they take (``student``, ``compare``,
``reference_values``), and the pytest plugin that turns their outcomes into points.

A check is a pytest function in ``autograder/parts/<part>/checks.py``::

    @case(points=0.5, feedback="What the student reads when it fails.")
    def test_something(student, compare):
        got = student.probe("a_probe_of_this_part", x=[1.0])  # runs in the sandboxed child
        compare(got, closed_form(...), RTOL, ATOL, what="the result")
"""

import copy
import dataclasses
import functools
import json
import math
import sys
from typing import Any

import numpy as np
import pytest

from autograder import parts
from autograder.errors import GraderError, StudentError, StudentTimeout
from autograder.parts import SUBSTITUTES

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


@dataclasses.dataclass(frozen=True)
class Case:
    points: float
    feedback: str


def case(points: float, feedback: str):
    """Declares a grader function's points and the message a student sees when it fails."""

    def declare(function):
        function.grading_case = Case(float(points), feedback)
        return function

    return declare


def scaled_error(got: Any, expected: Any, rtol: float, atol: float) -> float:
    """``max |got - expected| / (atol + rtol |expected|)``: at most 1 exactly when
    ``np.allclose(got, expected, rtol, atol)``; inf for NaNs or a different structure or shape."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return math.inf
        return max((scaled_error(got[k], expected[k], rtol, atol) for k in expected), default=0.0)
    try:
        got_array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return math.inf
    expected_array = np.asarray(expected, dtype=np.float64)
    if got_array.shape != expected_array.shape:
        return math.inf
    if got_array.size == 0:
        return 0.0
    error = np.abs(got_array - expected_array) / (atol + rtol * np.abs(expected_array))
    return float(np.max(np.where(np.isnan(error), np.inf, error)))


class Mismatch(AssertionError):
    """A comparison failed; its message is evidence a student may see (values, not test code)."""


def assert_trees_all_close(got: Any, expected: Any, rtol: float, atol: float,
                           what: str = "the result", case: str | None = None,
                           relative: bool = False, margins: list | None = None) -> None:
    """Compares nested dicts/lists of numbers leaf by leaf, with shapes; raises `Mismatch`.

    Passes when every leaf satisfies ``|got - expected| <= atol + rtol |expected|``. The message
    gives the worst value beside the expected one (``case`` describes the inputs, when they may be
    shown), or with ``relative=True`` (reference runs) only the relative error. The scaled error
    (`scaled_error`) is appended to ``margins`` when given.
    """
    _check_structure(got, expected, what)
    margin = scaled_error(got, expected, rtol, atol)
    if margins is not None:
        margins.append(margin)
    if margin <= 1.0:
        return
    label, got_value, want_value, index = _worst_leaf(got, expected, rtol, atol, what)
    where = (f"{label}{'' if index is None else f' (element {index})'}"
             + (f" with {case}" if case else ""))
    if relative:
        error = abs(got_value - want_value) / max(abs(want_value), atol / rtol)
        raise Mismatch(f"relative error {error:.2g} in {where} (tolerance {rtol:g}).")
    raise Mismatch(f"{where}: got {got_value:.4g}, expected {want_value:.4g}.")


def _leaves(tree, label):
    if isinstance(tree, dict):
        for key in tree:
            yield from _leaves(tree[key], f"{label}[{key!r}]")
    else:
        yield label, np.asarray(tree, dtype=np.float64)


def _worst_leaf(got, expected, rtol, atol, what):
    """``(label, got, expected, flat index or None)`` of the element furthest out of tolerance."""
    worst = None
    for (label, want), (_, have) in zip(_leaves(expected, what), _leaves(got, what)):
        if want.size == 0:
            continue
        error = np.abs(have - want) / (atol + rtol * np.abs(want))
        error = np.where(np.isnan(error), np.inf, error).ravel()
        index = int(np.argmax(error))
        if worst is None or error[index] > worst[0]:
            worst = (error[index], label, float(have.ravel()[index]), float(want.ravel()[index]),
                     index if want.size > 1 else None)
    return worst[1:]


def _check_structure(got, expected, what):
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            raise Mismatch(f"{what} has the wrong structure.")
        for key in expected:
            _check_structure(got[key], expected[key], f"{what}[{key!r}]")
        return
    try:
        got_shape = np.shape(np.asarray(got, dtype=np.float64))
    except (TypeError, ValueError):
        raise Mismatch(f"{what} is not an array of numbers.") from None
    if got_shape != np.shape(expected):
        raise Mismatch(f"{what} has shape {got_shape}, expected {np.shape(expected)}.")


class Comparisons:
    """A check's ``compare`` fixture: `assert_trees_all_close` that keeps each comparison's scaled
    error, as a fraction of its tolerance, for the check's `CaseResult.margins`
    (benchmarks/tolerance_margins.py)."""

    def __init__(self) -> None:
        self.margins: list[float] = []

    def __call__(self, got: Any, expected: Any, rtol: float, atol: float, **options) -> None:
        assert_trees_all_close(got, expected, rtol, atol, margins=self.margins, **options)


class ReferenceValues:
    """A check's ``reference_values`` fixture: its part's stored reference values
    (``parts/<part>/reference.json``), compared, or recorded when ``recorded`` is a dict
    (``python -m autograder.reference --update-goldens``)."""

    # The runs are recorded and replayed in float64 (`inside_sandbox.probing.float64`). Measured
    # (benchmarks/tolerance_margins.py): correct code, including code that computes in float32 on
    # purpose, on AVX-512, AVX2, SSE4.2 and one thread is within 0.0007 of this tolerance (float64
    # code within 1e-11); the nearest wrong implementation is at 13 (step_returns_loss_after_update).
    RTOL, ATOL = 1e-3, 1e-4

    def __init__(self, part: parts.Part, compare: Comparisons, recorded: dict | None) -> None:
        self._part, self._compare, self._recorded = part, compare, recorded

    def check(self, got: Any) -> None:
        """Compares ``got`` with the part's stored values (or records it)."""
        if self._recorded is not None:
            self._recorded[self._part.name] = got
            return
        self._compare(got, _stored(self._part.reference_file), self.RTOL, self.ATOL,
                      what="the reference run", relative=True)


@functools.cache
def _stored(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


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
                self._plugin.answers[key] = (None, withhold_grader_source(error))
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

    @pytest.fixture
    def student(self, request):
        return PartStudent(self.process, self, _part_of(request.node))

    @pytest.fixture
    def compare(self, request):
        return self._comparisons.setdefault(request.node.nodeid, Comparisons())

    @pytest.fixture
    def reference_values(self, request, compare):
        return ReferenceValues(_part_of(request.node), compare, self.recorded)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
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
        evidence = None
        if call.excinfo is not None and isinstance(call.excinfo.value, Mismatch):
            evidence = str(call.excinfo.value)
        if call.excinfo is not None and isinstance(call.excinfo.value, GraderError):
            self.grader_failure = self.grader_failure or str(call.excinfo.value)
        elif call.excinfo is not None and isinstance(call.excinfo.value, StudentError):
            student_error = call.excinfo.value
        elif call.excinfo is not None and not isinstance(call.excinfo.value, AssertionError):
            print(f"grader error in {item.nodeid}: {call.excinfo.value!r}", file=sys.stderr)
        self.results.append(CaseResult(_part_of(item).name, item.name, declared.points,
                                       report.passed, declared.feedback, student_error,
                                       margins, evidence))


def _part_of(item) -> parts.Part:
    """The part whose checks file holds the pytest ``item``."""
    return parts.get(item.path.parent.name)
