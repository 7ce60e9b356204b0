"""How long `autograder.similarity` takes on a class: seconds for N students' two notebooks.

Usage: python benchmarks/similarity_speed.py [--students 500] [--repeats 3]

The class is generated, not graded: each student answers every graded cell with the
instructor's solution or one of the tests' bank versions of it (wrong or alternative), chosen at
random, with its names renamed at random, so that most pairs differ and the copies that coincide
are what a real class's would be. Writing the notebooks is not timed; reading them, extracting
the graded functions and clustering them is. Prints the median of ``--repeats`` runs and the
clusters found.
"""

import argparse
import ast
import pathlib
import random
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bank  # noqa: E402
import submissions  # noqa: E402

from autograder import parts  # noqa: E402
from autograder.grading import similarity  # noqa: E402


def renamed(source, rng):
    """``source`` with every argument and local of its first definition given a random suffix."""
    tree = ast.parse(source)
    suffix = f"_{rng.randrange(10 ** 6)}"
    for node in ast.walk(tree.body[0]):
        if isinstance(node, ast.arg):
            node.arg += suffix
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            node.id += suffix
    stored = {n.id[: -len(suffix)] for n in ast.walk(tree) if isinstance(n, ast.Name)
              and n.id.endswith(suffix)} | {a.arg[: -len(suffix)] for a in ast.walk(tree)
                                             if isinstance(a, ast.arg)}
    for node in ast.walk(tree.body[0]):
        if isinstance(node, ast.Name) and node.id in stored:
            node.id += suffix
    return ast.unparse(tree)


def write_class(folder, students, rng):
    choices = {}
    for notebook in parts.NOTEBOOKS:
        solutions = submissions.solution_sources(notebook)
        for name in parts.of_notebook(notebook):
            versions = [solutions[name]] + [v.cells[name] for v in bank.WRONG + bank.ALTERNATIVES
                                            if name in v.cells]
            choices[name] = versions
    for i in range(students):
        for notebook in parts.NOTEBOOKS:
            answers = {}
            for name in parts.of_notebook(notebook):
                try:
                    answers[name] = renamed(rng.choice(choices[name]), rng)
                except SyntaxError:  # a bank version that is a whole cell of several statements
                    answers[name] = rng.choice(choices[name])
            submissions.write(submissions.submission(answers, notebook=notebook),
                              folder / f"student{i:04d}" / "maml" / f"{notebook}.ipynb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        submitted = pathlib.Path(tmp) / "submitted"
        write_class(submitted, args.students, random.Random(0))
        seconds, result = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = similarity.class_similarity(submitted, ROOT / "release" / "maml")
            seconds.append(time.perf_counter() - start)
    print(f"{args.students} students, 2 notebooks each: {statistics.median(seconds):.1f} s "
          f"(median of {args.repeats}: {', '.join(f'{s:.1f}' for s in seconds)})")
    for name, found in result.items():
        sizes = sorted((len(c["students"]) for c in found), reverse=True)
        print(f"  {name:<22} {len(found)} clusters, largest {sizes[:5]}")


if __name__ == "__main__":
    main()
