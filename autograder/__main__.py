"""``python -m autograder NOTEBOOK [--json]``: grade one submission (see the assignment contract)."""

import argparse
import json
import sys

from autograder import sandbox
from autograder.grade import ALL_PARTS, grade_notebook

UNSANDBOXED = ("WARNING: graded WITHOUT the bubblewrap sandbox (not installed or no namespaces): "
               "scores are still decided out of process, but the student's code could read and "
               "write files. See SECURITY.md.")


def format_table(result):
    rows = [(p.name, f"{p.score:g}/{p.max:g}", p.feedback) for p in result.parts]
    width = max([len(r[0]) for r in rows] + [4])
    lines = [f"{result.notebook}: {result.total:g}/{result.max_total:g}"]
    if result.error:
        lines.append(f"error: {result.error}")
    lines += [f"  {name:<{width}}  {score:>7}  {feedback}" for name, score, feedback in rows]
    if sandbox.bubblewrap() is None:
        lines.append(UNSANDBOXED)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("notebook", help="the submitted .ipynb file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--parts", nargs="+", choices=ALL_PARTS,
                        help="grade only these parts (default: the notebook's assignment)")
    args = parser.parse_args(argv)
    result = grade_notebook(args.notebook, args.parts)
    print(json.dumps(result.to_json()) if args.json else format_table(result))
    return 2 if result.error else 0


if __name__ == "__main__":
    sys.exit(main())
