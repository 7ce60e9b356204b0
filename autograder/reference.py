"""``python -m autograder.reference --update-goldens``: rewrite every part's stored reference
values (``autograder/parts/<part>/reference.json``) from the instructor notebooks of the course in
the working directory. Run it after changing an instructor solution that a reference run uses."""

import argparse
import sys

from autograder.grading import course_root
from autograder.grading.record import ExitStatus
from autograder.grading.self_check import record_reference_values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.reference", description=__doc__)
    parser.add_argument("--update-goldens", action="store_true", required=True,
                        help="rewrite every part's reference.json from the instructor notebooks")
    parser.parse_args(argv)
    notebooks = course_root.source_notebooks(course_root.find_for(parser))
    _, values = record_reference_values(notebooks)
    print(f"wrote the reference values of {len(values)} parts ({', '.join(values)})",
          file=sys.stderr)
    return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
