"""Every grade the tests' banks and the bundled examples get, as one JSON file, to compare two
versions of the grader (a restructuring must change none of it).

    python tests/grade_snapshot.py --out after.json [--jobs 2]
    python tests/grade_snapshot.py --compare before.json after.json

It grades the solutions and every variant of `bank` (wrong, alternative and broken code) and
every notebook in ``examples/``, one after another in each worker's shared sandboxes as batch
grading does, and records for each its total, error, each part's score and
feedback, and each check's points, outcome and evidence. ``--compare`` prints every difference
and exits 1 if there is one.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import submissions  # noqa: E402
from bank import ALTERNATIVES, BROKEN, SOLUTIONS, WRONG  # noqa: E402


def _plain(result):
    return {
        "total": result.total, "max_total": result.max_total, "error": result.error,
        "grader_failed": bool(result.grader_failed),
        "parts": [[p.name, p.score, p.max, p.feedback] for p in result.parts],
        "checks": [[c.part, c.name, c.points, c.passed, c.evidence] for c in result.cases],
    }


def _grade_variant(variant):
    with tempfile.TemporaryDirectory() as folder:
        return variant.name, _plain(submissions.grade_in_shared_sandboxes(variant, folder))


def _grade_example(path):
    from autograder.grading.grade import grade_notebooks
    from autograder.isolation.student_process import process_sandboxes

    [result] = grade_notebooks([submissions.EXAMPLES_DIR / path], sandboxes=process_sandboxes())
    return f"examples/{path}", _plain(result)


def snapshot(jobs):
    variants = SOLUTIONS + WRONG + ALTERNATIVES + BROKEN
    examples = sorted(str(p.relative_to(submissions.EXAMPLES_DIR))
                      for p in submissions.EXAMPLES_DIR.glob("*/*.ipynb"))
    with concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_grade_variant, v) for v in variants]
        futures += [pool.submit(_grade_example, e) for e in examples]
        return dict(sorted(f.result() for f in futures))


def compare(before, after):
    """The differences between two snapshots, one line each."""
    lines = [f"{name}: only in {which}" for which, one, other in
             (("the first", before, after), ("the second", after, before))
             for name in one if name not in other]
    for name in sorted(set(before) & set(after)):
        for key in before[name]:
            if before[name][key] != after[name].get(key):
                lines.append(f"{name} {key}: {before[name][key]!r} != {after[name].get(key)!r}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare", nargs=2, type=pathlib.Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        differences = compare(before, after)
        print("\n".join(differences) or f"identical: {len(before)} gradings")
        return 1 if differences else 0
    if args.out is None:
        parser.error("give --out FILE or --compare BEFORE AFTER")
    grades = snapshot(args.jobs)
    args.out.write_text(json.dumps(grades, indent=1) + "\n")
    print(f"wrote {len(grades)} gradings to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
