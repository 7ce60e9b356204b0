"""What grader files declare (`case`), how they compare (`assert_trees_all_close`), and the
pytest plugin that turns their outcomes into points."""

import copy
import dataclasses
import functools
import json
import math
import pathlib
import sys

import numpy as np
import pytest

from autograder.student_process import GraderError, StudentError, StudentTimeout


# Probes that check a part with the grader's own versions of the parts it builds on; the child
# gets those versions (graders/substitutes.py) only when the first of these runs.
NEEDS_SUBSTITUTES = {"adaptation_loss_quadratic", "adaptation_loss_reference",
                     "batched_meta_loss_quadratic", "batched_meta_loss_reference",
                     "meta_train_step_reference", "reptile_update_quadratic", "reptile_reference"}
SUBSTITUTES = pathlib.Path(__file__).parent / "graders" / "substitutes.py"
# Verbatim runs of the substitutes' source this long in a student's error message withhold it.
_QUOTE_CHARACTERS = 24


@functools.cache
def _substitute_quotes():
    text = " ".join(SUBSTITUTES.read_text().split())
    return {text[i:i + _QUOTE_CHARACTERS] for i in range(len(text) - _QUOTE_CHARACTERS + 1)}


def withhold_grader_source(error):
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


def case(points, feedback):
    """Declares a grader function's points and the message a student sees when it fails."""

    def declare(function):
        function.grading_case = Case(float(points), feedback)
        return function

    return declare


# Every comparison's scaled error, as a fraction of its tolerance, while a check runs; the
# plugin moves them into the check's `CaseResult.margins` (benchmarks/tolerance_margins.py).
_margins = []


def scaled_error(got, expected, rtol, atol):
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


def assert_trees_all_close(got, expected, rtol, atol, what="the result", case=None,
                           relative=False):
    """Compares nested dicts/lists of numbers leaf by leaf, with shapes; raises `Mismatch`.

    Passes when every leaf satisfies ``|got - expected| <= atol + rtol |expected|``. The message
    gives the worst value beside the expected one (``case`` describes the inputs, when they may be
    shown), or with ``relative=True`` (reference runs) only the relative error.
    """
    _check_structure(got, expected, what)
    margin = scaled_error(got, expected, rtol, atol)
    _margins.append(margin)
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


@dataclasses.dataclass
class CaseResult:
    part: str
    name: str
    points: float
    passed: bool
    feedback: str
    student_error: str | None = None
    # Each comparison's scaled error as a fraction of its tolerance (pass: all <= 1).
    margins: list = dataclasses.field(default_factory=list)
    evidence: str | None = None  # a failed comparison's values, for the student (`Mismatch`)


class PartStudent:
    """The child process as one part's checks see it.

    Answers are memoized by request, so checks that look at different outputs of the same call
    (a value and its gradient) share one run and one compilation. After a timeout the part stops
    probing.
    """

    def __init__(self, process, plugin, part):
        self._process, self._plugin, self._part = process, plugin, part

    def probe(self, name, timeout=20.0, **args):
        if self._plugin.grader_failure is not None:
            raise GraderError(self._plugin.grader_failure)
        if self._part in self._plugin.timed_out_parts:
            raise StudentTimeout("Skipped: an earlier check of this part ran out of time.")
        key = json.dumps([name, args], sort_keys=True)
        if key not in self._plugin.answers:
            try:
                substitutes = SUBSTITUTES.read_text() if name in NEEDS_SUBSTITUTES else None
                self._plugin.answers[key] = (
                    self._process.probe(name, timeout, substitutes=substitutes, **args), None)
            except StudentTimeout:
                self._plugin.timed_out_parts.add(self._part)
                raise
            except StudentError as error:
                self._plugin.answers[key] = (None, withhold_grader_source(error))
        value, error = self._plugin.answers[key]
        if error is not None:
            raise error
        return copy.deepcopy(value)


class GradingPlugin:
    """Collects one `CaseResult` per grader function; nothing else decides a point."""

    def __init__(self, process):
        self.process = process
        self.results = []
        self.timed_out_parts = set()
        self.answers = {}
        self.grader_failure = None  # why the grader itself failed: no check is then believed

    @pytest.fixture
    def student(self, request):
        return PartStudent(self.process, self, request.module.PART)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        declared = getattr(item.function, "grading_case", None)
        if declared is None or report.when == "teardown":
            return
        margins, _margins[:] = list(_margins), []
        if report.when == "setup" and report.passed:
            return
        student_error = None
        evidence = None
        if call.excinfo is not None and isinstance(call.excinfo.value, Mismatch):
            evidence = str(call.excinfo.value)
        if call.excinfo is not None and isinstance(call.excinfo.value, GraderError):
            self.grader_failure = self.grader_failure or str(call.excinfo.value)
        elif call.excinfo is not None and isinstance(call.excinfo.value, StudentError):
            student_error = str(call.excinfo.value)
        elif call.excinfo is not None and not isinstance(call.excinfo.value, AssertionError):
            print(f"grader error in {item.nodeid}: {call.excinfo.value!r}", file=sys.stderr)
        self.results.append(CaseResult(item.module.PART, item.name, declared.points,
                                       report.passed, declared.feedback, student_error,
                                       margins, evidence))
