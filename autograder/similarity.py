"""``python -m autograder.similarity SUBMITTED_DIR --release release/maml --out similarity.json``:
similar code across a graded class, per graded function.

Writes ``{graded name: [{"students": [...], "score": s}, ...]}``: clusters of identical and
near-identical implementations (renamed, reformatted or reordered copies), highest score first,
with the released templates excluded and functions of a line or two not compared. It flags; it
never changes a grade. The work is done by `autograder.grading.similarity`.
"""

import argparse
import json
import pathlib
import sys

from autograder.grading.similarity import class_similarity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.similarity",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submitted", help="nbgrader's submitted/ folder (STUDENT/ASSIGNMENT/*.ipynb)")
    parser.add_argument("--release", required=True, help="the released assignment folder (templates)")
    parser.add_argument("--out", required=True, help="where to write the clusters as JSON")
    args = parser.parse_args(argv)
    result = class_similarity(args.submitted, args.release)
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    flagged = {name: found for name, found in result.items() if found}
    print(f"{sum(map(len, flagged.values()))} clusters of similar code in "
          f"{len(flagged)} of {len(result)} graded names; written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
