"""Grading a generated class: `autograder.batch` against sequential CLI calls and nbgrader.

Every student hands in both notebooks. Each notebook cycles through its part of the tests' banks:
correct submissions (the solution and every alternative), buggy ones (every wrong
implementation), broken ones (hangs, crashes, floods, memory bombs, syntax errors) and blank
releases. In the same run it measures, per student: the batch command with ``--jobs`` (its
self-check filling a fresh compilation cache included), wall-clock and busy core-seconds of the
whole machine (so nothing else should run); the batch command on a subset with the compilation
cache turned off; sequential ``python -m autograder`` calls on the same class (or on students
spread evenly over it); JAX's own events (traces, lowerings, cache hits, compiled programs:
`benchmarks/jax_events.py`) per student on students spread likewise, leaving out those with a
broken notebook (a hang replays for minutes); and plain ``nbgrader autograde`` (with and without
the kernel) on a smaller subset. With
``--baseline-python``, the interpreter of a checkout at another commit (its own venv, the package
installed editable) grades the same class the same way right after, and the ratio is printed;
with ``--rounds N``, this checkout's batch and the baseline's alternate N times.

    python benchmarks/class_throughput.py [--students 100] [--jobs 2] [--subset 10]
        [--cli-subset N] [--events-subset 6] [--nbgrader-subset 2]
        [--baseline-python /path/to/other/checkout/.venv/bin/python [--rounds 1]] [--batch-only]
"""

import argparse
import collections
import itertools
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import submissions  # noqa: E402
from bank import ALTERNATIVES, BROKEN, SOLUTIONS, WRONG  # noqa: E402

from autograder.grading import nbgrader_course as course  # noqa: E402
from autograder.isolation import compilation_cache  # noqa: E402

ROOT = submissions.ROOT


def kinds(notebook):
    """``(kind, variant)`` of ``notebook``'s bank entries; a variant None is the blank release."""
    mine = lambda variants: [v for v in variants if v.notebook == notebook]  # noqa: E731
    return ([("correct", v) for v in mine(SOLUTIONS + ALTERNATIVES)]
            + [("buggy", v) for v in mine(WRONG)] + [("broken", v) for v in mine(BROKEN)]
            + [("blank", None)])


def generate_class(folder, students):
    """``folder/submitted/student_NNN/maml/{maml,beyond_maml}.ipynb``, cycling through the banks;
    returns ``[(student, [(kind, path), ...])]``."""
    cycles = {notebook: itertools.cycle(kinds(notebook)) for notebook in submissions.NOTEBOOKS}
    made = []
    for number in range(students):
        student, notebooks = f"student_{number:03d}", []
        for notebook in submissions.NOTEBOOKS:
            kind, variant = next(cycles[notebook])
            content = (submissions.load(submissions.release_path(notebook)) if variant is None
                       else submissions.submission(variant.cells, notebook=notebook))
            path = submissions.write(content, folder / "submitted" / student / "maml"
                                     / f"{notebook}.ipynb")
            notebooks.append((kind, path))
        made.append((student, notebooks))
    return made


def busy_core_seconds():
    """Core-seconds the whole machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(command, env=None, cwd=ROOT):
    start, busy = time.perf_counter(), busy_core_seconds()
    completed = subprocess.run(command, capture_output=True, text=True, cwd=cwd,
                               env={**os.environ, **(env or {})})
    return time.perf_counter() - start, busy_core_seconds() - busy, completed


def batch(submitted, out, jobs, env=None, python=sys.executable):
    """Seconds and core-seconds of one `autograder.batch` run (by ``python``, in its own
    checkout); its JSON lines."""
    checkout = subprocess.run([python, "-I", "-c", "import autograder, pathlib; "
                               "print(pathlib.Path(autograder.__file__).parents[1])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    seconds, core_seconds, completed = timed(
        [python, "-m", "autograder.batch", str(submitted), "--out", str(out),
         "--jobs", str(jobs)], env, cwd=checkout)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return seconds, core_seconds, [json.loads(line) for line in out.read_text().splitlines()]


def subset_class(folder, made, count):
    """The first ``count`` students of ``made``, copied into ``folder/submitted``."""
    for student, notebooks in made[:count]:
        for _, path in notebooks:
            target = folder / "submitted" / student / "maml" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return folder / "submitted"


def spread(made, count, kinds=None):
    """``count`` students spread evenly over ``made`` (only those whose notebooks are all of
    ``kinds``, if given)."""
    eligible = [(student, notebooks) for student, notebooks in made
                if kinds is None or all(kind in kinds for kind, _ in notebooks)]
    step = max(1, len(eligible) // max(count, 1))
    return eligible[::step][:count]


def jax_events(students, env):
    """JAX's events summed over each student's notebooks, averaged over ``students``."""
    paths = [str(path) for _, notebooks in students for _, path in notebooks]
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "jax_events.py"),
                                *paths], capture_output=True, text=True, cwd=ROOT,
                               env={**os.environ, **env})
    assert completed.returncode == 0, completed.stderr[-2000:]
    total = collections.Counter()
    for line in completed.stdout.splitlines():
        found = json.loads(line)
        assert not found.pop("cut_off"), found
        found.pop("path")
        total.update(found)
    return {name: value / len(students) for name, value in total.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=10,
                        help="students for the batch without the cache")
    parser.add_argument("--cli-subset", type=int, default=0,
                        help="students for the sequential CLI calls, spread over the class "
                        "(0: every student, so that both grade the same notebooks)")
    parser.add_argument("--events-subset", type=int, default=6,
                        help="students whose JAX events are counted, spread over the class")
    parser.add_argument("--nbgrader-subset", type=int, default=2, help="students for nbgrader")
    parser.add_argument("--baseline-python", help="the interpreter of a checkout at another "
                        "commit: its batch grades the same class, for a ratio")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --baseline-python: this checkout's batch and the baseline's, "
                        "alternating, this many times (the machine's speed drifts)")
    parser.add_argument("--batch-only", action="store_true",
                        help="only the batch (and the baseline's): no subsets, CLI or nbgrader")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        made = generate_class(folder, args.students)
        counts = collections.Counter(kind for _, notebooks in made for kind, _ in notebooks)
        print(f"class of {len(made)} students, {2 * len(made)} notebooks: {dict(counts)}; "
              f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
        cache = {compilation_cache.SETTING: str(folder / "compilation-cache")}  # fresh

        seconds, core_seconds, lines = batch(folder / "submitted", folder / "grades.jsonl",
                                             args.jobs, cache)
        assert len(lines) == 2 * len(made)
        per_student, core_per_student = seconds / len(made), core_seconds / len(made)
        print(f"autograder.batch --jobs {args.jobs}: {seconds:.0f} s in all (self-check filling "
              f"a fresh compilation cache included), {per_student:.2f} s per student, "
              f"{core_per_student:.2f} core-s per student")
        for round_ in range(1, args.rounds + 1 if args.baseline_python else 0):
            if round_ > 1:  # this checkout again, then the baseline: ratios from adjacent runs
                seconds, core_seconds, _ = batch(
                    folder / "submitted", folder / f"grades-{round_}.jsonl", args.jobs,
                    {compilation_cache.SETTING: str(folder / f"compilation-cache-{round_}")})
                print(f"round {round_}: autograder.batch --jobs {args.jobs}: "
                      f"{seconds / len(made):.2f} s, {core_seconds / len(made):.2f} core-s per "
                      f"student")
            base_cache = {compilation_cache.SETTING: str(folder / f"baseline-cache-{round_}")}
            base_seconds, base_core_seconds, base_lines = batch(
                folder / "submitted", folder / f"baseline-{round_}.jsonl", args.jobs, base_cache,
                args.baseline_python)
            totals = lambda found: {(r["student"], r["path"]): r["total"]  # noqa: E731
                                    for r in found if not r.get("skipped")}
            differ = sorted(k for k, total in totals(lines).items()
                            if totals(base_lines).get(k) != total)
            print(f"round {round_}: baseline ({args.baseline_python}): "
                  f"{base_seconds / len(made):.2f} s, "
                  f"{base_core_seconds / len(made):.2f} core-s per student; this checkout / "
                  f"baseline: {seconds / base_seconds:.2f} in time, "
                  f"{core_seconds / base_core_seconds:.2f} in core-seconds; totals differ on "
                  f"{len(differ)} notebooks{': ' + str(differ[:5]) if differ else ''}")
        if args.batch_only:
            return 0

        subset = subset_class(folder / "subset", made, args.subset)
        off_seconds, off_core_seconds, off_lines = batch(
            subset, folder / "subset.jsonl", args.jobs, {compilation_cache.SETTING: "off"})
        same = {(r["student"], r["path"].rsplit("/", 1)[-1]): r["total"] for r in off_lines}
        assert all(same[(r["student"], r["path"].rsplit("/", 1)[-1])] == r["total"]
                   for r in lines if r["student"] <= made[args.subset - 1][0]), "scores differ"
        print(f"the same batch without the compilation cache, on {args.subset} students: "
              f"{off_seconds / args.subset:.2f} s, {off_core_seconds / args.subset:.2f} core-s "
              f"per student (self-check included); same scores")

        cli_seconds = cli_core_seconds = 0.0
        sample = spread(made, args.cli_subset or len(made))
        for _, notebooks in sample:
            for _, path in notebooks:
                seconds, core_seconds, _ = timed([sys.executable, "-m", "autograder", str(path),
                                                  "--json"], cache)
                cli_seconds += seconds
                cli_core_seconds += core_seconds
        per_cli = cli_seconds / len(sample)
        sample_kinds = collections.Counter(kind for _, notebooks in sample for kind, _ in notebooks)
        print(f"sequential python -m autograder, both notebooks of {len(sample)} students spread "
              f"over the class ({dict(sample_kinds)}; cache warm): {per_cli:.2f} s, "
              f"{cli_core_seconds / len(sample):.2f} core-s per student; the batch takes "
              f"{per_student / per_cli:.2f} of its time per student")

        sample = spread(made, args.events_subset, kinds=("correct", "buggy", "blank"))
        sample_kinds = collections.Counter(kind for _, notebooks in sample for kind, _ in notebooks)
        found = jax_events(sample, cache)
        print(f"JAX's events per student, {len(sample)} students spread over the class "
              f"({dict(sample_kinds)}; cache warm): " + ", ".join(
                  f"{name} {found.get(name, 0):.1f}" for name in (
                      "traces", "trace_seconds", "lowerings", "lowering_seconds", "programs",
                      "cache_hits", "compiled", "backend_seconds", "starts")))

        students = {student: notebooks[0][1].parent for student, notebooks in made
                    if all(kind == "correct" for kind, _ in notebooks)}
        students = dict(list(students.items())[:args.nbgrader_subset])
        for run_kernel in (True, False) if students else ():
            with tempfile.TemporaryDirectory() as course_folder:
                root = course.copy_course(submissions.ROOT, course_folder)
                start = time.perf_counter()
                course.release_and_grade(root, students, self_check=False, run_kernel=run_kernel)
                per_nbgrader = (time.perf_counter() - start) / len(students)
            print(f"nbgrader autograde (release, feedback, export included; kernel "
                  f"{'on' if run_kernel else 'off'}) on {len(students)} students: "
                  f"{per_nbgrader:.1f} s per student; batch is {per_nbgrader / per_student:.1f}x "
                  f"faster")
        print(f"a class of 500 by autograder.batch at this rate: {500 * per_student / 60:.0f} min "
              f"({500 * core_per_student / 60:.0f} core-min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
