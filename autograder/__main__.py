"""``python -m autograder NOTEBOOK [--json]``: grade one submission (see the assignment contract).

Exit status: 0 graded (whatever the score); 2 the file is not a readable notebook; 3 the grader
itself failed on this machine (nobody's score: see the JSON ``error``). With ``--self-check``: 0
when the reference solutions earn full marks here, 1 when they do not, 3 when the grader failed.
"""

import argparse
import json
import os
import sys

from autograder.grading.grade import ALL_PARTS, GradeResult, grade_notebook, manual_points
from autograder.isolation import sandbox
from autograder.isolation.student_process import EXTRA_XLA_FLAGS

UNSANDBOXED = ("WARNING: graded WITHOUT the bubblewrap sandbox (not installed or no namespaces): "
               "scores are still decided out of process, but the student's code could read and "
               "write files. See SECURITY.md.")


def format_table(result: GradeResult) -> str:
    """``result`` as the table a person reads, with a warning when grading ran unsandboxed."""
    return result.to_table(manual_points([p.name for p in result.parts]),
                           UNSANDBOXED if sandbox.bubblewrap() is None else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", nargs="?", help="the submitted .ipynb file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--parts", nargs="+", metavar="PART",
                        help=f"grade only these parts, before or after the notebook "
                             f"(default: the notebook's assignment): {', '.join(ALL_PARTS)}")
    parser.add_argument("--self-check", action="store_true",
                        help="grade the bundled reference solutions; exit 1 unless full marks")
    parser.add_argument("--xla-flags", metavar="FLAGS",
                        help=f"extra XLA flags for the grader's child process, e.g. "
                             f"--xla_cpu_max_isa=SSE4_2 (same as setting {EXTRA_XLA_FLAGS})")
    args = parser.parse_args(argv)
    if args.parts:  # "--parts adapt MLP notebook.ipynb" also takes the notebook: give it back
        unknown = [p for p in args.parts if p not in ALL_PARTS]
        if len(unknown) == 1 and args.notebook is None and not args.self_check:
            args.notebook = unknown[0]
            args.parts.remove(unknown[0])
            unknown = []
        if unknown or not args.parts:
            parser.error(f"unknown part(s) {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(ALL_PARTS)}")
    if args.xla_flags is not None:
        os.environ[EXTRA_XLA_FLAGS] = args.xla_flags
    if args.self_check:
        from autograder.grading import course_root, self_check

        status, line = self_check.run(course_root.source_notebooks(course_root.find_for(parser)))
        print(line)
        return status
    if args.notebook is None:
        parser.error("give a notebook to grade, or --self-check")
    result = grade_notebook(args.notebook, args.parts)
    print(json.dumps(result.to_json()) if args.json else format_table(result))
    return result.exit_status()


if __name__ == "__main__":
    sys.exit(main())
