"""What one notebook costs inside a class: graded one after another in one shared sandbox.

The first notebook given is graded once ahead, to pay the sandbox's start (a batch worker pays it
once for many students); then each notebook is graded ``--repeats`` times, in turn, in that same
sandbox, with the compilation cache the self-check fills (run ``python -m autograder
--self-check`` first). Per notebook it prints the medians of: wall seconds, the whole machine's
busy core-seconds (`/proc/stat`: the worker in the sandbox and this process; nothing else should
run) and this grading process's own CPU seconds.

    python benchmarks/notebook_costs.py [--repeats 3] [--bank NAME ...] [NOTEBOOK ...]

``--bank NAME`` adds the tests' bank variant ``NAME`` (a wrong, alternative or broken version of
one part, in its notebook); ``--bank solution:maml`` and ``--bank blank:maml`` are the solution
and the blank release of a notebook.
"""

import argparse
import json
import pathlib
import resource
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import submissions  # noqa: E402
from bank import ALTERNATIVES, BROKEN, WRONG  # noqa: E402
from class_throughput import busy_core_seconds  # noqa: E402

from autograder.grading.grade import grade_notebooks  # noqa: E402
from autograder.isolation.student_process import SandboxPool  # noqa: E402


def bank_notebook(name: str, folder: pathlib.Path) -> pathlib.Path:
    """The notebook of bank variant ``name`` (or ``solution:NOTEBOOK``, ``blank:NOTEBOOK``)."""
    kind, _, notebook = name.partition(":")
    if kind == "solution":
        content = submissions.submission({}, notebook=notebook)
    elif kind == "blank":
        content = submissions.load(submissions.release_path(notebook))
    else:
        variant = next(v for v in WRONG + ALTERNATIVES + BROKEN if v.name == name)
        content, notebook = submissions.submission(variant.cells, notebook=variant.notebook), \
            variant.notebook
    return submissions.write(content, folder / name.replace(":", "-") / f"{notebook}.ipynb")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--bank", action="append", default=[])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        named = [(path, pathlib.Path(path)) for path in args.notebooks]
        named += [(name, bank_notebook(name, pathlib.Path(folder))) for name in args.bank]
        if not named:
            parser.error("give notebooks or --bank names")
        pool = SandboxPool()
        try:
            grade_notebooks([named[0][1]], sandboxes=pool)  # the sandbox's start
            costs = {name: [] for name, _ in named}
            for _ in range(args.repeats):
                for name, path in named:
                    started, busy, own = time.perf_counter(), busy_core_seconds(), own_cpu_seconds()
                    [result] = grade_notebooks([path], sandboxes=pool)
                    costs[name].append((time.perf_counter() - started,
                                        busy_core_seconds() - busy, own_cpu_seconds() - own,
                                        result.total))
        finally:
            pool.close()
    for name, runs in costs.items():
        wall, core, own, totals = zip(*runs)
        print(json.dumps({"notebook": name, "wall_s": round(statistics.median(wall), 2),
                          "core_s": round(statistics.median(core), 2),
                          "grading_process_s": round(statistics.median(own), 2),
                          "total": totals[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
