"""Grading a generated class: `autograder.batch` against sequential CLI calls and nbgrader.

The class cycles through the tests' banks: correct submissions (the solution and every
alternative), buggy ones (every wrong implementation), broken ones (hangs, crashes, floods,
memory bombs, syntax errors) and blank releases, one notebook per student. In the same run it
times, per notebook: the batch command with ``--jobs``; sequential ``python -m autograder`` calls
on a subset; and plain ``nbgrader autograde`` (with and without the kernel) on a smaller subset.

    python benchmarks/class_throughput.py [--students 100] [--jobs 2] [--subset 6]
"""

import argparse
import itertools
import json
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import submissions  # noqa: E402
from bank import ALTERNATIVES, BROKEN, SOLUTIONS, WRONG  # noqa: E402

from autograder import course  # noqa: E402

ROOT = submissions.ROOT


def generate_class(folder, students):
    """``folder/submitted/student_NNN/maml/<notebook>.ipynb`` cycling through the banks."""
    kinds = [("correct", v) for v in SOLUTIONS + ALTERNATIVES] + [("buggy", v) for v in WRONG] + [
        ("broken", v) for v in BROKEN] + [("blank", None), ("blank_part_2", None)]
    made = []
    for number, (kind, variant) in zip(range(students), itertools.cycle(kinds)):
        if variant is None:
            notebook = "beyond_maml" if kind == "blank_part_2" else "maml"
            content = submissions.load(submissions.release_path(notebook))
        else:
            notebook = variant.notebook
            content = submissions.submission(variant.cells, notebook=notebook)
        path = submissions.write(content, folder / "submitted" / f"student_{number:03d}" / "maml"
                                 / f"{notebook}.ipynb")
        made.append((kind, path))
    return made


def timed(command, **kwargs):
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **kwargs)
    return time.perf_counter() - start, completed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=6, help="notebooks for the sequential CLI")
    parser.add_argument("--nbgrader-subset", type=int, default=2, help="students for nbgrader")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        made = generate_class(folder, args.students)
        kinds = {kind: sum(k == kind for k, _ in made) for kind, _ in made}
        print(f"class of {len(made)}: {kinds}")

        batch_seconds, completed = timed([sys.executable, "-m", "autograder.batch",
                                          str(folder / "submitted"), "--out",
                                          str(folder / "grades.jsonl"), "--jobs", str(args.jobs)])
        assert completed.returncode == 0, completed.stderr[-2000:]
        lines = [json.loads(line) for line in (folder / "grades.jsonl").read_text().splitlines()]
        assert len(lines) == len(made)
        per_batch = batch_seconds / len(made)
        print(f"autograder.batch --jobs {args.jobs}: {batch_seconds:.0f} s in all (self-check "
              f"included), {per_batch:.2f} s per notebook")

        subset = made[::max(1, len(made) // args.subset)][:args.subset]
        cli_seconds = 0.0
        for _, path in subset:
            seconds, _ = timed([sys.executable, "-m", "autograder", str(path), "--json"])
            cli_seconds += seconds
        per_cli = cli_seconds / len(subset)
        print(f"sequential python -m autograder on {len(subset)} notebooks: {per_cli:.2f} s per "
              f"notebook; batch is {per_cli / per_batch:.2f}x faster per notebook")

        students = {}
        for kind, path in made:
            if kind == "correct" and len(students) < args.nbgrader_subset:
                students[path.parents[1].name] = path.parent
        for run_kernel in (True, False):
            with tempfile.TemporaryDirectory() as course_folder:
                root = course.copy_course(course_folder)
                start = time.perf_counter()
                course.grade_class(root, students, self_check=False, run_kernel=run_kernel)
                per_nbgrader = (time.perf_counter() - start) / len(students)
            print(f"nbgrader autograde (release, feedback, export included; kernel "
                  f"{'on' if run_kernel else 'off'}) on {len(students)} students: "
                  f"{per_nbgrader:.1f} s per notebook; batch is {per_nbgrader / per_batch:.1f}x faster")
        print(f"a class of 500 by autograder.batch at this rate: {500 * per_batch / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
