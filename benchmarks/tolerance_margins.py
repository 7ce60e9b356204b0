"""How far each grader check's tolerance sits from correct code on other CPUs and from wrong code.

For every check, two measured figures, both as a fraction of the check's tolerance (a comparison
passes when its scaled error ``max |got - want| / (atol + rtol |want|)`` is at most 1):

- ``correct``: the largest scaled error of correct code (the instructor's solutions, the bank's
  alternatives, and code that computes in float32 on purpose), graded natively, with XLA limited to
  AVX2 and to SSE4.2 (an older CPU), and with XLA on one thread;
- ``nearest wrong``: the smallest scaled error among the bank's wrong implementations that the
  check catches, and which one it is.

A tolerance is sound when ``correct`` is far below 1 and ``nearest wrong`` far above it.

    python benchmarks/tolerance_margins.py [--jobs 2]
"""

import argparse
import collections
import concurrent.futures
import multiprocessing
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

import submissions  # noqa: E402
from bank import ALTERNATIVES, SOLUTIONS, WRONG, Variant  # noqa: E402

CONFIGS = {"native": None, "AVX2": "--xla_cpu_max_isa=AVX2", "SSE4_2": "--xla_cpu_max_isa=SSE4_2",
           "one thread": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def grade(variant, config):
    with tempfile.TemporaryDirectory() as folder:
        result = submissions.grade_submission(variant, pathlib.Path(folder))
    return variant, config, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    jobs = [(Variant(v.name, v.cells, v.part, v.notebook, flags), config)
            for config, flags in CONFIGS.items() for v in SOLUTIONS + ALTERNATIVES]
    jobs += [(v, "native") for v in WRONG]
    correct = collections.defaultdict(float)  # (part, check, config) -> largest scaled error
    nearest = {}  # (part, check) -> (smallest scaled error among catches, variant)
    failures = []
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(
            args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for variant, config, result in pool.map(grade, *zip(*jobs)):
            for case in result.cases:
                key = (case.part, case.name)
                worst = max(case.margins, default=0.0)
                if variant.part is None:  # correct code
                    if not case.passed:
                        failures.append(f"{variant.name} [{config}] failed {case.name}")
                    correct[key + (config,)] = max(correct[key + (config,)], worst)
                elif not case.passed and case.margins:
                    if key not in nearest or worst < nearest[key][0]:
                        nearest[key] = (worst, variant.name)
    print(f"{len(jobs)} gradings in {time.perf_counter() - start:.0f} s; scaled errors as a "
          "fraction of each check's tolerance\n")
    print("| part | check | " + " | ".join(f"correct, {c}" for c in CONFIGS)
          + " | nearest wrong (which) |")
    print("|---|---|" + "---|" * (len(CONFIGS) + 1))
    for part, check in sorted({key[:2] for key in correct}):
        wrong = nearest.get((part, check))
        wrong_text = f"{wrong[0]:.3g} ({wrong[1]})" if wrong else "- (structure or error only)"
        print(f"| {part} | {check} | "
              + " | ".join(f"{correct[part, check, c]:.2g}" for c in CONFIGS) + f" | {wrong_text} |")
    if failures:
        print("\nCORRECT CODE LOST POINTS:\n" + "\n".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
