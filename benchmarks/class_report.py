"""How long the class report takes: writing it for N students, and opening it in Chromium.

Usage: python benchmarks/class_report.py [--students 1000] [--repeats 3]

The class is generated, not graded: the notebooks as `benchmarks/similarity_speed.py` writes them
(the solution or a bank version of each graded function, renamed at random) and batch lines whose
checks fail at random (15%, `tests/class_lines.py`). Timed: `report.write_from_batch` (reading
the lines and the notebooks, similarity, plots, the page) and, in Debian's chromium driven by
Playwright, loading the page from the file until its load event. Prints medians of ``--repeats``.
"""

import argparse
import json
import pathlib
import random
import shutil
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import class_lines  # noqa: E402
from similarity_speed import write_class  # noqa: E402

from autograder.grading import report  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        write_class(folder / "submitted", args.students, random.Random(0))
        grades = folder / "grades.jsonl"
        grades.write_text("".join(json.dumps(line) + "\n"
                                  for line in class_lines.random_class(args.students)))
        writing, loading = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            page_path = report.write_from_batch(grades, folder / "report", folder / "submitted",
                                                ROOT / "release" / "maml")
            writing.append(time.perf_counter() - start)
        size = page_path.stat().st_size
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                 args=["--no-sandbox"])
            for _ in range(args.repeats):
                page = browser.new_page()
                start = time.perf_counter()
                page.goto(page_path.as_uri(), wait_until="load")
                loading.append(time.perf_counter() - start)
                page.close()
            browser.close()
    print(f"{args.students} students: writing the report {statistics.median(writing):.1f} s "
          f"(median of {args.repeats}: {', '.join(f'{s:.1f}' for s in writing)}); "
          f"index.html {size / 1e6:.2f} MB, loaded in {statistics.median(loading):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in loading)})")


if __name__ == "__main__":
    main()
