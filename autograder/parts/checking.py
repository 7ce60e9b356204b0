"""What a part's checks are written with: `case` declares a check's points and feedback, and the
``compare`` and ``reference_values`` fixtures (`Comparisons`, `ReferenceValues`) compare what a
probe returned with what the check expects, failing with evidence a student may read
(`Mismatch`). The pytest plugin that runs the checks is `autograder.grading.framework`.

A check is a pytest function in ``autograder/parts/<part>/checks.py``::

    @case(points=0.5, feedback="What the student reads when it fails.")
    def test_something(student, compare):
        got = student.probe("a_probe_of_this_part", x=[1.0])  # runs in the sandboxed child
        compare(got, closed_form(...), RTOL, ATOL, what="the result")
"""

import dataclasses
import functools
import json
import math
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.parts import Part


@dataclasses.dataclass(frozen=True)
class Case:
    points: float
    feedback: str


def case(points: float, feedback: str) -> Callable[[Callable], Callable]:
    """Declares a grader function's points and the message a student sees when it fails."""

    def declare(function: Callable) -> Callable:
        function.grading_case = Case(float(points), feedback)
        return function

    return declare


def scaled_error(got: Any, expected: Any, rtol: float, atol: float,
                 nan_equal: bool = False) -> float:
    """``max |got - expected| / (atol + rtol |expected|)``: at most 1 exactly when
    ``np.allclose(got, expected, rtol, atol)``; inf for NaNs (unless ``nan_equal`` and both are NaN
    there) or a different structure or shape."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return math.inf
        return max((scaled_error(got[k], expected[k], rtol, atol, nan_equal) for k in expected),
                   default=0.0)
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
    if nan_equal:
        error = np.where(np.isnan(got_array) & np.isnan(expected_array), 0.0, error)
    return float(np.max(np.where(np.isnan(error), np.inf, error)))


class Mismatch(AssertionError):
    """A comparison failed; its message is evidence a student may see (values, not test code).

    ``diagnosis`` names the known mistake the result matched (`diagnose`), or is None."""

    def __init__(self, evidence: str, diagnosis: str | None = None) -> None:
        super().__init__(evidence)
        self.diagnosis = diagnosis


# Relationships to the expected value that name a mistake by themselves: ``got = factor * expected``.
RELATIONSHIPS = {0.0: "zero", 0.5: "half the correct value", 2.0: "twice the correct value",
                 -1.0: "the correct value with its sign flipped"}


def diagnose(got: Any, expected: Any, rtol: float, atol: float,
             mistakes: dict[str, Any] | None = None) -> str | None:
    """The first known mistake whose result ``got`` equals within the check's own tolerance.

    ``mistakes`` maps what a wrong version computes (a phrase that completes "Your result equals
    ...") to the value it gives on the check's inputs; entries whose value is None do not apply.
    Then the `RELATIONSHIPS` to ``expected``. None when nothing matches: the feedback then only
    restates what the function must do.
    """
    for phrase, value in (mistakes or {}).items():  # a NaN where the mistake has one agrees
        if value is not None and scaled_error(got, value, rtol, atol, nan_equal=True) <= 1.0:
            return phrase
    if isinstance(expected, dict) or scaled_error(expected, 0.0 * np.asarray(expected), rtol,
                                                   atol) <= 1.0:
        return None  # a zero expected value is its own multiple
    for factor, phrase in RELATIONSHIPS.items():
        if scaled_error(got, factor * np.asarray(expected, dtype=np.float64), rtol, atol) <= 1.0:
            return phrase
    return None


def fitted_step(got: Any, start: np.ndarray, direction: np.ndarray) -> float | None:
    """The ``r`` for which ``start + r * direction`` is nearest ``got`` (least squares), to name a
    wrong step size: the catalogue then offers ``start + r * direction`` as a mistake."""
    try:
        moved = np.asarray(got, dtype=np.float64) - start
    except (TypeError, ValueError):
        return None
    if moved.shape != np.shape(direction) or not np.any(direction):
        return None
    return float(moved @ direction / (direction @ direction))


def assert_trees_all_close(got: Any, expected: Any, rtol: float, atol: float,
                           what: str = "the result", case: str | None = None,
                           relative: bool = False, margins: list | None = None,
                           layout: list | dict | None = None,
                           mistakes: dict[str, Any] | None = None) -> None:
    """Compares nested dicts/lists of numbers leaf by leaf, with shapes; raises `Mismatch`.

    Passes when every leaf satisfies ``|got - expected| <= atol + rtol |expected|``. The message
    gives the worst value beside the expected one (``case`` describes the inputs, when they may be
    shown), or with ``relative=True`` (reference runs) only the relative error. The scaled error
    (`scaled_error`) is appended to ``margins`` when given.

    The worst value is named by its position: ``[i, j]`` in its array, or, for a pytree flattened
    into a vector, its leaf's path in the student's pytree (``['params']['dense']['kernel'][1,
    2]``). ``layout`` says how the vector was flattened: a tree spec ``[[path keys], shape], ...``
    in order (`autograder.parts.closed_forms`), or a dict of them by key for a dict of results.

    A failure's ``diagnosis`` is the known mistake (``mistakes``, as in `diagnose`) that ``got``
    equals, if any.
    """
    try:
        _check_structure(got, expected, what)
    except Mismatch as wrong_structure:
        raise Mismatch(str(wrong_structure), diagnose(got, expected, rtol, atol, mistakes)) from None
    margin = scaled_error(got, expected, rtol, atol)
    if margins is not None:
        margins.append(margin)
    if margin <= 1.0:
        return
    label, keys, got_value, want_value, index, shape = _worst_leaf(got, expected, rtol, atol, what)
    spec = layout.get(keys[-1]) if isinstance(layout, dict) and keys else (
        layout if isinstance(layout, list) else None)
    if isinstance(layout, dict) and spec is not None and len(keys) == 1:
        label = f"{what}'s {keys[0]}"  # "the reference run's params at [2]['kernel'][24, 0]"
    where = label + ("" if index is None else _position(index, shape, spec))
    where += f" with {case}" if case else ""
    if relative:
        error = abs(got_value - want_value) / max(abs(want_value), atol / rtol)
        raise Mismatch(f"relative error {error:.2g} in {where} (tolerance {rtol:g}).",
                       diagnose(got, expected, rtol, atol, mistakes))
    raise Mismatch(f"{where}: got {got_value:.4g}, expected {want_value:.4g}.",
                   diagnose(got, expected, rtol, atol, mistakes))


def _leaves(tree, label, keys=()):
    if isinstance(tree, dict):
        for key in tree:
            yield from _leaves(tree[key], f"{label}[{key!r}]", (*keys, key))
    else:
        yield label, keys, np.asarray(tree, dtype=np.float64)


def _worst_leaf(got, expected, rtol, atol, what):
    """``(label, dict keys, got, expected, flat index or None, shape)`` of the element furthest
    out of tolerance."""
    worst = None
    for (label, keys, want), (_, _, have) in zip(_leaves(expected, what), _leaves(got, what)):
        if want.size == 0:
            continue
        error = np.abs(have - want) / (atol + rtol * np.abs(want))
        error = np.where(np.isnan(error), np.inf, error).ravel()
        index = int(np.argmax(error))
        if worst is None or error[index] > worst[0]:
            worst = (error[index], label, keys, float(have.ravel()[index]),
                     float(want.ravel()[index]), index if want.size > 1 else None, want.shape)
    return worst[1:]


def _position(index: int, shape: tuple, spec: list | None) -> str:
    """Where flat ``index`` of an array of ``shape`` is: ``[i, j]``, or `leaf_path` in ``spec``."""
    if spec is not None and len(shape) == 1:
        return " at " + leaf_path(spec, index)
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(index, shape)) + "]"


def leaf_path(spec: list, index: int) -> str:
    """The pytree path of element ``index`` of a vector flattened by the tree spec ``spec``
    (``[[path keys], shape], ...``), as JAX writes it: ``['params']['dense']['kernel'][1, 2]``."""
    for keys, shape in spec:
        size = math.prod(shape)
        if index < size:
            path = "".join(f"[{key}]" if isinstance(key, int) else f"[{key!r}]" for key in keys)
            if not shape:
                return path
            return path + "[" + ", ".join(str(int(i)) for i in np.unravel_index(index, shape)) + "]"
        index -= size
    raise IndexError("the index is past the end of the tree spec")


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
    # code within 1e-11); the nearest wrong implementation is at 13
    # (step_returns_loss_after_update).
    RTOL, ATOL = 1e-3, 1e-4

    def __init__(self, part: Part, compare: Callable, recorded: dict | None) -> None:
        self._part, self._compare, self._recorded = part, compare, recorded

    def check(self, got: Any, layout: list | dict | None = None) -> None:
        """Compares ``got`` with the part's stored values (or records it); ``layout`` as in
        `assert_trees_all_close`."""
        if self._recorded is not None:
            self._recorded[self._part.name] = got
            return
        self._compare(got, _stored(self._part.reference_file), self.RTOL, self.ATOL,
                      what="the reference run", relative=True, layout=layout)


@functools.cache
def _stored(path: pathlib.Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
