"""The trust boundary is a folder: of this project's code, student code can open only
`inside_sandbox/` (and the `maml_helpers` it imports), never a grader, closed form or reference
value."""

import json
import pathlib
import subprocess
import sys

import pytest
import submissions

from autograder.isolation import sandbox

ROOT = submissions.ROOT
PACKAGE = ROOT / "autograder"
HELPERS = ROOT / "source" / "maml" / "maml_helpers"
VENV = pathlib.Path(sys.prefix).resolve()
# Lists every regular file that the sandbox's unprivileged process can open for reading, under
# the given roots, skipping the kernel's virtual filesystems.
LIST_OPENABLE = """
import json, os, sys
sys.path.insert(0, {inside!r})
from inside_sandbox.limits import drop_privileges
drop_privileges()
found = []
for top in {roots!r}:
    for folder, subfolders, files in os.walk(top):
        if folder in ("/proc", "/sys", "/dev"):
            subfolders[:] = []
            continue
        for name in files:
            path = os.path.join(folder, name)
            try:
                os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW))
            except OSError:
                continue
            found.append(path)
print(json.dumps(found))
"""


def openable(tmp_path, roots, readable=()):
    """The files that a process in the grader's sandbox can open under ``roots``."""
    script = LIST_OPENABLE.format(inside=str(sandbox.INSIDE.parent), roots=list(roots))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = sandbox.wrap([sys.executable, "-I", "-c", script], str(scratch),
                           {"PATH": "/usr/bin:/bin"}, readable=readable)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return {pathlib.Path(p) for p in json.loads(completed.stdout)}


def trusted_files():
    """Every file of the checkout that is not meant for the sandbox: the grader package (graders,
    closed forms, reference values), the instructor's notebooks and solutions, the experiments."""
    allowed = (sandbox.INSIDE, HELPERS, VENV)
    return {path for path in ROOT.rglob("*") if path.is_file() and ".git" not in path.parts
            and not any(path.is_relative_to(folder) for folder in allowed)}


@submissions.NEEDS_BUBBLEWRAP
def test_student_code_can_open_no_trusted_file(tmp_path):
    """The whole filesystem as the sandbox shows it holds no trusted file: of this checkout only
    `inside_sandbox/`, `maml_helpers` and the virtual environment."""
    files = openable(tmp_path, ["/"])
    assert any(path.is_relative_to(sandbox.INSIDE) for path in files)  # the walk saw the boundary
    assert not files & trusted_files()
    outside = sorted(str(p) for p in files if p.is_relative_to(ROOT) and not any(
        p.is_relative_to(folder) for folder in (sandbox.INSIDE, HELPERS, VENV)))
    assert not outside, outside[:20]
    assert not any(p.is_relative_to(PACKAGE) for p in files)


@submissions.NEEDS_BUBBLEWRAP
def test_the_listing_finds_a_trusted_file_once_bound(tmp_path):
    """Control: were the grader package bound too, the same listing would find its files."""
    files = openable(tmp_path, [str(ROOT)], readable=[PACKAGE])
    assert PACKAGE / "parts" / "adapt" / "checks.py" in files
    assert files & trusted_files()


def test_nothing_inside_the_sandbox_imports_the_grader():
    """`inside_sandbox` imports no module of `autograder`: it would not be there to import."""
    for path in sandbox.INSIDE.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "import autograder" not in source and "from autograder" not in source, path


@pytest.mark.parametrize("part", ["adapt", "imaml_meta_gradient"])
def test_a_part_folder_holds_its_probes_checks_and_reference_values(part):
    """A part's probe, checks and reference values are found in one folder."""
    folder = PACKAGE / "parts" / part
    assert {"__init__.py", "probes.py", "checks.py", "reference.json"} <= {
        p.name for p in folder.iterdir()}
