"""Which files of a student's submission are graded: regular files only, the assignment's
notebooks only, each at most once.

A submission is untrusted input to the trusted parent. A symbolic link (Gradescope keeps them in
uploads from GitHub or Bitbucket) could point at the instructor's notebook, a folder named
``notes.ipynb`` cannot be read, and a folder of a hundred notebooks would be graded a hundred
times. So, without following any link:

- only regular files named ``*.ipynb`` are candidates; links, folders and anything else are
  reported and never opened;
- at most `MAX_CANDIDATES` of them are read (the assignment's own file names first);
- each of the assignment's notebooks (`autograder.grading.grade.ASSIGNMENT_PARTS`) is filled by the
  first candidate whose content says it is that notebook
  (`autograder.grading.grade.assignment_of`), so a renamed download still counts; a file that
  cannot be read fills the notebook its name says, if no readable file did. Every other file is
  reported, not graded.
"""

import dataclasses
import os
import pathlib
import stat

from autograder.grading.grade import ASSIGNMENT_PARTS, assignment_of, parts_for
from autograder.grading.notebook import NotebookError, read_notebook

MAX_CANDIDATES = 8  # notebook files read per submission; the assignment has two


@dataclasses.dataclass
class Skipped:
    path: pathlib.Path
    reason: str  # one sentence for the student

    def __str__(self):
        return f"{self.path.name}: not graded ({self.reason})"


@dataclasses.dataclass
class SubmissionFiles:
    graded: dict  # assignment notebook name -> path, in the assignment's order
    skipped: list  # `Skipped`, in path order


def _entries(folder, recursive):
    """``(path, kind)`` of every ``*.ipynb`` entry under ``folder``, links never followed."""
    found = []
    for root, directories, files in os.walk(folder, followlinks=False):
        root = pathlib.Path(root)
        if not recursive and root != pathlib.Path(folder):
            break
        directories[:] = sorted(d for d in directories if d != ".ipynb_checkpoints")
        for name in [*directories, *files]:
            if name.endswith(".ipynb"):
                found.append(root / name)
    return sorted(found)


def _why_not_a_file(path, folder):
    """Why ``path`` is no file to grade, or None for a regular file inside ``folder``."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as error:
        return f"it could not be read ({error.strerror})"
    if stat.S_ISLNK(mode):
        return "it is a symbolic link, not a file; submit the notebook itself"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a notebook"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    if not pathlib.Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder)):
        return "it lies outside the submission folder"
    return None


def _priority(path):
    own = [f"{name}.ipynb" for name in ASSIGNMENT_PARTS]
    return (own.index(path.name) if path.name in own else len(own), str(path))


def find(folder: str | pathlib.Path, recursive: bool = True) -> SubmissionFiles:
    """The files of the submission in ``folder`` to grade, and those reported instead."""
    folder = pathlib.Path(folder)
    skipped, candidates = [], []
    for path in _entries(folder, recursive):
        reason = _why_not_a_file(path, folder)
        if reason is None:
            candidates.append(path)
        else:
            skipped.append(Skipped(path, reason))
    candidates.sort(key=_priority)
    skipped += [Skipped(path, f"a submission is graded from at most {MAX_CANDIDATES} notebook "
                              "files") for path in candidates[MAX_CANDIDATES:]]
    graded, unreadable = {}, []
    for path in candidates[:MAX_CANDIDATES]:
        try:
            assignment = assignment_of(read_notebook(path), path)
        except NotebookError:
            unreadable.append(path)
            continue
        if assignment in graded:
            skipped.append(Skipped(path, f"{graded[assignment].name} is graded as "
                                         f"{assignment}.ipynb already"))
        else:
            graded[assignment] = path
    for path in unreadable:  # graded, to tell the student why, where no readable file was
        assignment = next(a for a, parts in ASSIGNMENT_PARTS.items() if parts == parts_for(path))
        if assignment in graded:
            skipped.append(Skipped(path, "it is not a readable notebook, and "
                                         f"{graded[assignment].name} is graded as "
                                         f"{assignment}.ipynb"))
        else:
            graded[assignment] = path
    order = list(ASSIGNMENT_PARTS)
    return SubmissionFiles(dict(sorted(graded.items(), key=lambda item: order.index(item[0]))),
                           sorted(skipped, key=lambda s: str(s.path)))


def read_capped(path: str | pathlib.Path) -> bytes:
    """The bytes of the regular file at ``path`` (never through a link), at most one byte past
    `autograder.grading.notebook.MAX_NOTEBOOK_BYTES`: enough for the reader to say it is too large."""
    from autograder.grading.notebook import MAX_NOTEBOOK_BYTES

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_NOTEBOOK_BYTES + 1)
