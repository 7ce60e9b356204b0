"""Times `python -m autograder` on the bundled examples and the solution notebook's full run.

Usage: python benchmarks/grading_time.py [--repeats N] [--skip-notebook]
Prints one line per measurement: median and range of wall-clock seconds over the repeats.
"""

import argparse
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def wall_seconds(command, env=None, cwd=ROOT):
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=False, capture_output=True)
    return time.perf_counter() - start


def report(label, samples):
    print(f"{label:<52} median {statistics.median(samples):6.1f} s  "
          f"(min {min(samples):.1f}, max {max(samples):.1f}, n={len(samples)})", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-notebook", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for example in sorted((ROOT / "examples").glob("*.ipynb")):
        samples = [wall_seconds([sys.executable, "-m", "autograder", str(example), "--json"])
                   for _ in range(args.repeats)]
        report(f"python -m autograder examples/{example.name}", samples)
    if not args.skip_notebook:
        with tempfile.TemporaryDirectory() as scratch:
            out = pathlib.Path(scratch) / "maml.ipynb"
            command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                       "--ExecutePreprocessor.timeout=600", f"--output={out}",
                       str(ROOT / "source" / "maml" / "maml.ipynb")]
            report("solution notebook, full budget (nbconvert --execute)",
                   [wall_seconds(command, cwd=ROOT / "source" / "maml")])


if __name__ == "__main__":
    main()
