"""``python -m autograder.gradescope --out autograder.zip``: the Gradescope autograder bundle.

The zip holds this project's grader (``autograder/`` and ``inside_sandbox/``, the provided
``maml_helpers``, the pinned
``pyproject.toml`` and ``requirements.lock``, and the instructor notebooks for the self-check),
``setup.sh`` (installs bubblewrap and the pinned environment) and ``run_autograder`` (grades the
notebooks found in the submission folder and writes ``results/results.json`` in Gradescope's
format). Both scripts honour ``AUTOGRADER_ROOT`` (default ``/autograder``), so they can be tried
outside Gradescope: unpack the zip into ``$AUTOGRADER_ROOT/source``, run ``setup.sh``, put the
submission in ``$AUTOGRADER_ROOT/submission`` and run ``run_autograder``.

``python -m autograder.gradescope --run`` is what ``run_autograder`` calls. The zip is built
from the course in the working directory. The work is done by
`autograder.grading.gradescope_bundle`.
"""

import argparse
import os
import pathlib
import sys

from autograder.grading import course_root
from autograder.grading.gradescope_bundle import build, run
from autograder.grading.record import ExitStatus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, help="where to write the zip")
    parser.add_argument("--run", action="store_true", help="grade the submission (run_autograder)")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    args = parser.parse_args(argv)
    if args.run:
        return run(args.root)
    if args.out is None:
        parser.error("give --out autograder.zip (or --run)")
    names = build(args.out, course_root.find_for(parser))
    print(f"wrote {args.out} ({len(names)} files)", file=sys.stderr)
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
