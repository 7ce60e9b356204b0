"""Times `python -m autograder` on the bundled examples and the solution notebooks' full runs.

Usage: python benchmarks/grading_time.py [--repeats N] [--skip-notebook] [--compare]
Prints one line per measurement: median and range of wall-clock seconds over the repeats.
With --compare it also grades examples/alice/maml.ipynb in this process with and without the child's
XLA_FLAGS, with XLA's fusion emitters off (chosen) and on, and with and without the bubblewrap
sandbox, alternating, and prints the ratios of the medians (the design choices in
autograder/isolation/student_process.py and autograder/isolation/sandbox.py). These comparisons run with the
compilation cache off, so that every setting compiles everything.
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


def compare(repeats, label, setups):
    """Alternates ``setups`` ({name: callable that configures the grader}) over ``repeats``."""
    from autograder.grading.grade import grade_notebook

    samples = {name: [] for name in setups}
    os.environ["AUTOGRADER_COMPILATION_CACHE"] = "off"  # each setting compiles all it runs
    for _ in range(repeats):
        for name, setup in setups.items():
            restore = setup()
            start = time.perf_counter()
            assert grade_notebook(ROOT / "examples" / "alice" / "maml.ipynb").total == 20
            samples[name].append(time.perf_counter() - start)
            restore()
    for name, values in samples.items():
        report(f"grade_notebook(alice) {name}", values)
    first, second = (statistics.median(v) for v in samples.values())
    print(f"ratio {label}: {first / second:.2f}", flush=True)


def patch(module, name, value):
    def setup():
        old = getattr(module, name)
        setattr(module, name, value)
        return lambda: setattr(module, name, old)
    return setup


def compare_choices(repeats):
    from autograder.isolation import sandbox, student_process

    unchanged = lambda: (lambda: None)  # noqa: E731
    compare(repeats, "with/without XLA_FLAGS", {
        "with XLA_FLAGS": unchanged, "without XLA_FLAGS": patch(student_process, "XLA_FLAGS", "")})
    fusion_emitters_on = student_process.XLA_FLAGS.replace("--xla_cpu_use_fusion_emitters=false", "")
    assert fusion_emitters_on != student_process.XLA_FLAGS
    compare(repeats, "fusion emitters off/on", {
        "fusion emitters off": unchanged,
        "fusion emitters on": patch(student_process, "XLA_FLAGS", fusion_emitters_on)})
    compare(repeats, "sandboxed/unsandboxed", {
        "sandboxed": unchanged, "unsandboxed": patch(sandbox, "bubblewrap", lambda: None)})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-notebook", action="store_true")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for example in sorted((ROOT / "examples").glob("*/*.ipynb")):
        samples = [wall_seconds([sys.executable, "-m", "autograder", str(example), "--json"])
                   for _ in range(args.repeats)]
        report(f"python -m autograder {example.relative_to(ROOT)}", samples)
    if args.compare:
        compare_choices(args.repeats)
    for name in [] if args.skip_notebook else ["maml", "beyond_maml"]:
        with tempfile.TemporaryDirectory() as scratch:
            out = pathlib.Path(scratch) / f"{name}.ipynb"
            command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                       "--ExecutePreprocessor.timeout=600", f"--output={out}",
                       str(ROOT / "source" / "maml" / f"{name}.ipynb")]
            report(f"solution notebook {name}, full budget (nbconvert)",
                   [wall_seconds(command, cwd=ROOT / "source" / "maml")])


if __name__ == "__main__":
    main()
