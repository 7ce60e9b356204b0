"""Where the course is: the folder with ``nbgrader_config.py`` and the instructor's ``source/``.

It is found from the working directory (it or the nearest folder above it that holds the course),
never from where this package is installed, so a grader installed elsewhere grades this course.
"""

import argparse
import pathlib

ASSIGNMENT = "maml"


class CourseNotFound(FileNotFoundError):
    """No course root at or above the folder asked about."""


def find(start: pathlib.Path | str | None = None) -> pathlib.Path:
    """The course root at or above ``start`` (default: the working directory).

    Raises:
      CourseNotFound: no folder there holds ``source/maml`` and ``nbgrader_config.py``.
    """
    here = pathlib.Path(start or pathlib.Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "source" / ASSIGNMENT).is_dir() and (folder / "nbgrader_config.py").is_file():
            return folder
    raise CourseNotFound(f"no course root at or above {here}: run this from the course's "
                            f"folder (the one with nbgrader_config.py and source/{ASSIGNMENT}/)")


def find_for(parser: argparse.ArgumentParser) -> pathlib.Path:
    """`find` for a command line: without a course root, the command stops with a usage error
    (exit status 2) that says where to run it, not a traceback."""
    try:
        return find()
    except CourseNotFound as error:
        parser.error(str(error))


def source_notebooks(root: pathlib.Path | None = None) -> list[pathlib.Path]:
    """The instructor notebooks (with the solutions), in the assignment's order."""
    from autograder.parts import NOTEBOOKS

    folder = (root or find()) / "source" / ASSIGNMENT
    return [folder / f"{name}.ipynb" for name in NOTEBOOKS]
