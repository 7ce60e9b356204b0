"""Grading one notebook: extract, run in a sandboxed child process, run the parts' checks, add up.

The result is a `autograder.grading.record.GradeResult`, which owns every form a grade takes.
"""

import contextlib
import hashlib
import importlib
import io
import json
import os
import pathlib
import time

import pytest

from autograder import parts as registry
from autograder.grading.framework import CaseResult, GradingPlugin
from autograder.grading.notebook import (NotebookError, defined_names, extract_definitions,
                                         read_notebook)
from autograder.grading.record import GradeResult, PartResult
from autograder.isolation.errors import GraderError
from autograder.isolation.student_process import SandboxPool, StudentProcess

__all__ = ["ASSIGNMENT_PARTS", "ALL_PARTS", "GradeResult", "PartResult", "declared_checks",
           "grade_notebook",
           "grade_notebooks", "max_points", "manual_points", "notebook_grading_key"]

# The graded names of each notebook, in the notebook's order (`autograder.parts`).
ASSIGNMENT_PARTS = {notebook: registry.of_notebook(notebook) for notebook in registry.NOTEBOOKS}
ALL_PARTS = list(registry.PARTS)
# Points of each notebook's written answers, graded by hand in nbgrader's formgrader.
MANUAL_POINTS = registry.NOTEBOOKS


def manual_points(parts: list[str]) -> float:
    """Hand-graded points of the notebook whose autograded parts are ``parts`` (0 for a subset)."""
    return next((MANUAL_POINTS[name] for name, own in ASSIGNMENT_PARTS.items()
                 if list(parts) == own), 0.0)


def parts_for(path: str | pathlib.Path) -> list[str]:
    """The parts of the notebook at ``path`` by its file name, else MAML's (for files that
    cannot be read, so have no content to go by)."""
    return ASSIGNMENT_PARTS.get(pathlib.Path(path).stem, ASSIGNMENT_PARTS["maml"])


def assignment_of(notebook: dict, path: str | pathlib.Path) -> str:
    """Which assignment notebook this is, by its content, so that a renamed download
    (``beyond_maml (1).ipynb``) is graded as what it is: the nbgrader ``grade_id``s of its cells,
    else the graded names its code defines, else its file name.

    Raises:
      NotebookError: none of these identifies one of the assignment's notebooks.
    """
    def best(found):
        counts = {name: len(found & {*parts, *(f"test_{p}" for p in parts)})
                  for name, parts in ASSIGNMENT_PARTS.items()}
        top = max(counts.values())
        winners = [name for name, count in counts.items() if count == top]
        return winners[0] if top and len(winners) == 1 else None

    grade_ids = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                 for cell in notebook["cells"] if isinstance(cell, dict)}
    by_ids = best(grade_ids)
    if by_ids:
        return by_ids
    defined = defined_names(notebook)
    # Part 2 asks for part 1's functions to be pasted in, so its own names decide.
    if defined & set(ASSIGNMENT_PARTS["beyond_maml"]):
        return "beyond_maml"
    if defined & set(ASSIGNMENT_PARTS["maml"]):
        return "maml"
    stem = pathlib.Path(path).stem
    if stem in ASSIGNMENT_PARTS:
        return stem
    raise NotebookError("This notebook is not one of the assignment's (maml.ipynb, "
                        "beyond_maml.ipynb): it has none of their graded cells or functions.")


def run_graders(process: StudentProcess, parts: list[str],
                recorded: dict | None = None) -> list[CaseResult]:
    """Runs the checks of ``parts`` against ``process``; returns the `CaseResult`s. With
    ``recorded`` (a dict) the reference values are recorded into it instead of compared."""
    plugin = GradingPlugin(process, recorded)
    # In the notebook's order always: a part's substitutes reach the child only after it is graded.
    parts = sorted(parts, key=ALL_PARTS.index)
    args = [str(registry.get(part).checks) for part in parts] + [
        "-p", "no:cacheprovider", "-p", "no:terminal", "--noconftest",
        # Its teardown runs full garbage collections (about 0.1 s a notebook) to find exceptions
        # nobody raised in this trusted process; the checks' own errors are reported as ever.
        "-p", "no:unraisableexception",
        "--rootdir", str(registry.FOLDER), "-c", os.devnull, "--import-mode=importlib",
    ]
    with contextlib.redirect_stdout(io.StringIO()) as output:
        code = pytest.main(args, plugins=[plugin])
    if plugin.grader_failure is not None:
        raise GraderError(plugin.grader_failure)
    declared = _declared_cases(parts)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or \
            len(plugin.results) != len(declared):
        raise RuntimeError(f"the graders did not run (pytest exit {code}): {output.getvalue()}")
    return plugin.results


FEEDBACK_CHARACTERS = 400  # a part's feedback stays short enough to read at a glance


def _case_message(case, restate=True):
    """What one failed check tells the student: the known mistake its result matched, if any,
    then what the function must do (unless not ``restate`` after a diagnosis), with the evidence;
    or what their code did (raised, hung, missing)."""
    error = case.student_error
    if error is not None:
        return error.feedback(check=case.name.removeprefix("test_").replace("_", " "))
    text = f"Your result equals {case.diagnosis}." if case.diagnosis else ""
    if restate or not case.diagnosis:
        text = f"{text} {case.feedback}".strip()
    return f"{text} Evidence: {case.evidence}" if case.evidence else text


def _lead_case(failed):
    """The check whose message comes first: the first that failed (checks run from the most
    specific, closed forms on tiny inputs, to the least, reference runs), unless it only failed
    while a later one names the mistake; code that raised always comes first."""
    if failed[0].student_error is None:
        return next((c for c in failed if c.diagnosis and c.student_error is None), failed[0])
    return failed[0]


def _named(part, message):
    """``message`` opening with the name of its part (a check's own text may already)."""
    return message if message.startswith((f"{part} ", f"`{part}` ")) else f"{part}: {message}"


def _part_feedback(part, cases, load_errors):
    """The most likely cause first (`_lead_case`) in full, then one short line for the rest. When
    that is too long, a diagnosed mistake stands without the restatement of the check, and then
    the lead message is cut, never the lines after it."""
    failed = [c for c in cases if not c.passed]
    if not failed:
        return "All checks passed."
    lead_case = _lead_case(failed)
    full = _case_message(lead_case)
    others = [c for c in failed if c is not lead_case and _case_message(c) != full]
    after = ""
    if others:
        after += f" ({len(others)} more check{'s' if len(others) > 1 else ''} failed; fix this first.)"
    relevant = [e for e in load_errors if "NameError" not in e]  # others are side effects
    if relevant and any(c.student_error and "is not defined" in str(c.student_error)
                        for c in failed):
        after += " Some of your notebook's code could not run: " + "; ".join(relevant[:2]) + "."
    for lead in (full, _case_message(lead_case, restate=False)):
        text = _named(part, lead) + after
        if len(text) <= FEEDBACK_CHARACTERS:
            return text
    room = FEEDBACK_CHARACTERS - len(text) + len(lead) - 4
    lead = lead[:max(room, 0)].rsplit(" ", 1)[0] + " ..."
    text = _named(part, lead) + after
    return text if len(text) <= FEEDBACK_CHARACTERS else text[:FEEDBACK_CHARACTERS - 3] + "..."


def summarize(notebook: str, parts: list[str], case_results: list[CaseResult],
              load_errors: list[str] = ()) -> GradeResult:
    part_results = []
    for part in parts:
        cases = [c for c in case_results if c.part == part]
        part_results.append(PartResult(
            name=part, score=round(sum(c.points for c in cases if c.passed), 6),
            max=round(sum(c.points for c in cases), 6),
            feedback=_part_feedback(part, cases, list(load_errors))))
    return GradeResult(notebook=str(notebook), total=round(sum(p.score for p in part_results), 6),
                       max_total=round(sum(p.max for p in part_results), 6), parts=part_results,
                       cases=list(case_results))


def max_points(parts: list[str]) -> dict[str, float]:
    """Each part's maximum, read from the grader files' declarations (no student code runs)."""
    return {p.name: p.max for p in summarize("", parts, _declared_cases(parts)).parts}


def _declared_cases(parts):
    """A `CaseResult` per declared check of ``parts`` (not passed), its points and message."""
    cases = []
    for part in parts:
        module = importlib.import_module(f"autograder.parts.{part}.checks")
        for name, function in vars(module).items():
            if name.startswith("test_") and hasattr(function, "grading_case"):
                declared = function.grading_case
                cases.append(CaseResult(part, name, declared.points, False, declared.feedback))
    return cases


def declared_checks(parts: list[str]) -> list[dict]:
    """Every check of ``parts`` as the grader files declare it: ``{"part", "check", "points",
    "message"}`` (the message a student sees when it fails), in the notebook's order."""
    return [{"part": c.part, "check": c.name, "points": c.points, "message": c.feedback}
            for c in _declared_cases(parts)]


def grade_notebook(path: str | pathlib.Path, parts: list[str] | None = None,
                   fill_cache: bool = False, sandboxes: SandboxPool | None = None) -> GradeResult:
    """Grades the notebook at ``path`` as the assignment notebook its content says it is (or
    only ``parts``); never raises for anything in the notebook. ``fill_cache`` only for trusted
    notebooks (`autograder.isolation.compilation_cache`); ``sandboxes``: see `grade_notebooks`."""
    return grade_notebooks([path], parts, fill_cache, sandboxes=sandboxes)[0]


def grade_notebooks(paths: list, parts: list[str] | None = None, fill_cache: bool = False,
                    recorded: dict | None = None,
                    sandboxes: SandboxPool | None = None) -> list[GradeResult]:
    """Grades notebooks one after another, each exactly as `grade_notebook` grades it alone.

    Each notebook's code runs in a worker of its own. Where the grader runs as root, the workers
    share a sandbox from ``sandboxes`` (default: a pool for this call), each under a uid of its
    own, and the sandbox's server clears everything of one notebook before the next starts: a
    notebook's worker holds the grader's own versions of the parts it builds on
    (`autograder/parts/substitutes.py`) and must leave nothing for the next (SECURITY.md, "At
    class scale"). ``recorded``: see `run_graders`."""
    pool = sandboxes if sandboxes is not None else SandboxPool()
    results = []
    try:
        for path in paths:
            started = time.perf_counter()
            results.append(_grade_one(path, parts, fill_cache, recorded, pool))
            results[-1].seconds = round(time.perf_counter() - started, 3)
    finally:
        if sandboxes is None:
            pool.close()
    return results


def _grade_one(path, parts, fill_cache, recorded, sandboxes):
    """`grade_notebooks` of one notebook, in a sandbox from ``sandboxes``."""
    try:
        notebook = read_notebook(path)
        assignment = assignment_of(notebook, path)
        own_parts = parts or ASSIGNMENT_PARTS[assignment]
        statements, unparsed = extract_definitions(notebook)
    except NotebookError as error:
        return GradeResult.unreadable(str(path), max_points(parts or parts_for(path)), str(error))
    try:
        with StudentProcess(statements, fill_cache, sandboxes) as process:
            case_results = run_graders(process, own_parts, recorded)
    except Exception as error:  # noqa: BLE001 - a grader failure: this notebook only
        return GradeResult.grader_failure(str(path), max_points(own_parts), error)
    result = summarize(path, own_parts, case_results, unparsed + process.load_errors)
    result.assignment = assignment
    result.grading_key = grading_key(own_parts, statements, unparsed)
    return result


def grading_key(parts: list[str], statements: list, unparsed: list[str]) -> str:
    """A digest of everything grading reads from a notebook: the parts, the extracted statements
    and the unparsable cells. Two notebooks with the same key get the same grade (nbgrader's
    sanitized copy of a submission has the raw file's key unless a locked cell was edited)."""
    text = json.dumps([list(parts), [[s.cell, s.source] for s in statements], list(unparsed)])
    return hashlib.sha256(text.encode()).hexdigest()


def notebook_grading_key(path: str | pathlib.Path) -> str | None:
    """`grading_key` of the notebook at ``path``, or None when it cannot be read or placed."""
    try:
        notebook = read_notebook(path)
        parts = ASSIGNMENT_PARTS[assignment_of(notebook, path)]
    except NotebookError:
        return None
    return grading_key(parts, *extract_definitions(notebook))
