"""nbgrader end to end on the bundled class: generate, submit, autograde, feedback, export.

alice solved both notebooks, bob has three bugs, carol submitted the blank release, mallory has
bob's bugs and a kernel that attacks the course, trent's upload was cut off halfway (all but alice
submitted only the first notebook).
"""

import csv
import json
import pathlib
import shutil
import subprocess
import sys

import pytest
import submissions

from autograder.grading import nbgrader_course as course
from autograder.grading.course_root import ASSIGNMENT
from autograder.grading.grade import grade_notebook
from autograder.isolation.student_process import process_sandboxes

GRADERS = pathlib.Path(submissions.ROOT / "autograder" / "parts")
BOB = {"inner_step_objective": 2, "MLP": 1.5, "square_error_loss": 2, "adapt": 0.5,
       "adaptation_loss": 3, "batched_meta_loss": 0.5, "make_meta_train_step": 3}
# Bob's three bugs cost exactly these checks (points declared in autograder/parts/).
EXPECTED = {
    "alice": {"inner_step_objective": 2, "MLP": 3, "square_error_loss": 2, "adapt": 4,
              "adaptation_loss": 3, "batched_meta_loss": 3, "make_meta_train_step": 3},
    "bob": BOB,
    "carol": {name: 0 for name in submissions.GRADED_NAMES},
    "mallory": BOB,  # the attacks earn nothing
}
EXPECTED_PART_2 = {"alice": {"reptile_update": 4, "imaml_meta_gradient": 6}}
NOT_SUBMITTED = {"reptile_update": 0, "imaml_meta_gradient": 0}  # nbgrader's zero for a missing notebook
UNGRADABLE = ["trent"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, filled_compilation_cache):
    """The bundled class through nbgrader, its kernels run. The session's self-check (which filled
    the compilation cache) stands for release_and_grade's own, which the tests below exercise."""
    root = course.copy_course(submissions.ROOT, tmp_path_factory.mktemp("course"))
    rows = course.release_and_grade(root, course.example_students(submissions.EXAMPLES_DIR),
                                    self_check=False)
    return root, {row["student_id"]: row for row in rows}


def leaked_grader_lines(text):
    """Lines of the hidden graders' source (25+ characters, not also in the released notebook)
    that appear in ``text``."""
    public = "".join(submissions.release_path(n).read_text(encoding="utf-8")
                     for n in submissions.NOTEBOOKS)
    lines = {line.strip() for path in GRADERS.rglob("*.py") if path.name != "probes.py"
             for line in path.read_text(encoding="utf-8").splitlines()}
    return sorted(line for line in lines
                  if len(line) >= 25 and line not in public and line in text)


def attack_outputs(root):
    notebook = json.loads((root / "autograded" / "mallory" / "maml" / "maml.ipynb").read_text())
    return "".join(
        "".join(output.get("text", "")) for cell in notebook["cells"]
        for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def test_bundled_examples_are_current():
    """examples/ is the current release answered as tests/submissions.py says."""
    files = submissions.example_files()
    assert sorted(files) == sorted(str(p.relative_to(submissions.EXAMPLES_DIR))
                                   for p in submissions.EXAMPLES_DIR.glob("*/*.ipynb"))
    for name, text in files.items():
        assert (submissions.EXAMPLES_DIR / name).read_text(encoding="utf-8") == text, (
            "examples/ is stale: run `python tests/submissions.py --update-goldens`")


def test_gradebook_scores_are_exactly_as_expected(graded_class):
    """Each graded student's autograded points per part are exactly the expected ones."""
    root, _ = graded_class
    for student, expected in EXPECTED.items():
        assert course.part_scores(root, student) == expected, student
        assert course.part_scores(root, student, "beyond_maml") == EXPECTED_PART_2.get(
            student, NOT_SUBMITTED)


def test_gradebook_equals_the_command_line_grader(graded_class):
    """nbgrader's points equal `python -m autograder` on the same notebook; a notebook the CLI
    cannot read is one nbgrader could not grade."""
    root, _ = graded_class
    for student, folder in course.example_students(submissions.EXAMPLES_DIR).items():
        for notebook in folder.glob("*.ipynb"):
            result = grade_notebook(notebook, sandboxes=process_sandboxes())
            if student in UNGRADABLE:
                assert result.error is not None
            else:
                assert course.part_scores(root, student, notebook.stem) == {
                    p.name: p.score for p in result.parts}


def test_export_marks_could_not_grade_distinctly_from_zero(graded_class):
    """Graded students have their totals (carol a real 0); trent says "could not grade" with
    no score, and nbgrader went on with everyone after him."""
    _, rows = graded_class
    for student, parts in EXPECTED.items():
        assert rows[student]["status"] == "graded"
        total = sum(parts.values()) + sum(EXPECTED_PART_2.get(student, {}).values())
        assert float(rows[student]["raw_score"]) == float(total), student
    for student in UNGRADABLE:
        assert rows[student]["status"] == "could not grade"
        assert rows[student]["raw_score"] == rows[student]["score"] == ""


def test_feedback_has_scores_and_reveals_no_hidden_grader(graded_class):
    """Every graded student's feedback HTML has the grader's scores and messages, no solution,
    no grader traceback and no line of the hidden graders' source."""
    root, _ = graded_class
    pages = {path: path.read_text(encoding="utf-8")
             for student in EXPECTED for path in (root / "feedback" / student).glob("*/*.html")}
    assert len(pages) == len(EXPECTED) + len(EXPECTED_PART_2)
    for path, html in pages.items():
        assert "Grader:" in html
        for secret in ("BEGIN SOLUTION", "autograder/parts", "autograder/framework",
                       "grading_case", "substitutes"):
            assert secret not in html, (path, secret)
        assert not leaked_grader_lines(html), path


def test_the_leak_check_finds_grader_source():
    """The line check above does fire on HTML that quotes a hidden grader."""
    line = next(line.strip() for line in (GRADERS / "adapt" / "checks.py").read_text().splitlines()
                if len(line.strip()) >= 25)
    assert leaked_grader_lines(f"<pre>{line}</pre>") == [line]


def test_the_kernel_cannot_reach_the_course(graded_class):
    """mallory's kernel ran under nbgrader, and each attack on the course was blocked."""
    root, _ = graded_class
    outputs = attack_outputs(root)
    for attack in submissions.ATTACK_NAMES:
        assert f"attack: {attack}: blocked" in outputs
    assert "succeeded" not in outputs
    assert not (root / "pwned.txt").exists()


def test_the_attacks_succeed_outside_the_sandbox(graded_class, tmp_path):
    """Control: the same code run unsandboxed from mallory's folder in a copy of the course
    reaches everything, so the test above can fail."""
    root, _ = graded_class
    copy = shutil.copytree(root, tmp_path / "course")
    (copy / "solutions" / "maml").mkdir(parents=True)
    (copy / "solutions" / "maml" / "maml.ipynb").write_text("{}")
    ran = subprocess.run([sys.executable, "-c", submissions.KERNEL_ATTACKS],
                         cwd=copy / "autograded" / "mallory" / "maml", capture_output=True,
                         text=True, check=True)
    for attack in submissions.ATTACK_NAMES:
        assert f"attack: {attack}: succeeded" in ran.stdout


def test_the_log_has_no_kernel_notices(graded_class):
    """nbgrader's autograde log names the ungradable upload, and the sandboxed kernels print no
    "Ctrl-C will not work" notice into it."""
    root, _ = graded_class
    log = (root / "autograde.log").read_text()
    assert "trent" in log
    assert "Ctrl-C" not in log and "--existing" not in log


def test_a_grader_that_cannot_start_grades_nobody(tmp_path, monkeypatch):
    """With the grader's child unable to start (bad XLA flags), class grading stops at the
    self-check; without the self-check, nbgrader records "could not grade" with no score (never
    a zero) and its log blames the grader."""
    monkeypatch.setenv("AUTOGRADER_XLA_FLAGS", "--xla_no_such_flag")
    root = course.copy_course(submissions.ROOT, tmp_path / "course")
    students = {"alice": submissions.EXAMPLES_DIR / "alice"}
    with pytest.raises(course.GradingMachineError, match="self-check FAILED"):
        course.release_and_grade(root, students)
    assert not (root / "submitted").exists()
    rows = {row["student_id"]: row for row in course.release_and_grade(root, students, self_check=False)}
    assert rows["alice"]["status"] == "could not grade"
    assert rows["alice"]["raw_score"] == rows["alice"]["score"] == ""
    assert "The grader failed on this machine, not the student's notebook" in (
        root / "autograde.log").read_text()


def untouched_state(root, student):
    """Everything of ``student`` that grading made: batch lines, gradebook entries, autograded
    and feedback files (bytes and times), export row and class report entry."""
    from nbgrader.api import Gradebook

    lines = [line for line in (root / course.BATCH_GRADES).read_text().splitlines()
             if json.loads(line)["student"] == student]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        entries = [str(submission.timestamp)] + sorted(
            (notebook.name, grade.name, grade.auto_score, grade.manual_score)
            for notebook in submission.notebooks for grade in notebook.grades)
    files = {str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
             for folder in ("autograded", "feedback") for path in (root / folder / student).rglob("*")
             if path.is_file()}
    export = [row for row in csv.DictReader((root / "grades.csv").open()) if row["student_id"] == student]
    report = json.loads((root / course.REPORT / "report.json").read_text())["students"][student]
    return {"lines": lines, "gradebook": entries, "files": files, "export": export, "report": report}


def test_parallel_autograde_reuses_the_batch_grades_and_a_regrade_changes_one_student(tmp_path):
    """`autograde_class(parallel=True)`: the batch grades every notebook, nbgrader takes those
    grades (same gradebook as grading itself) and the class report is written; with
    c.SandboxedExecute.run_kernel = False, bob's own cells are not run (no outputs), only the
    grader's feedback is written into his test cells. Then bob
    resubmits (alice's answers with an import added, and a locked cell edited, which nbgrader
    restores, so that his grading input differs from the raw file's and nbgrader grades it
    itself): `regrade_student`
    updates his batch lines, gradebook, feedback, export row and report entry, and every file
    and entry of alice's stays exactly as it was."""
    root = course.copy_course(submissions.ROOT, tmp_path / "course")
    students = {"alice": submissions.EXAMPLES_DIR / "alice", "bob": submissions.EXAMPLES_DIR / "bob"}
    rows = {row["student_id"]: row for row in course.release_and_grade(
        root, students, self_check=False, run_kernel=False, parallel=True, jobs=2)}
    assert rows["bob"]["status"] == "graded"
    assert float(rows["bob"]["raw_score"]) == sum(BOB.values())
    log = (root / "autograde.log").read_text()
    assert log.count("(from the batch results)") == 3
    assert course.part_scores(root, "alice") == EXPECTED["alice"]
    assert course.part_scores(root, "alice", "beyond_maml") == EXPECTED_PART_2["alice"]
    assert course.part_scores(root, "bob") == BOB
    notebook = json.loads((root / "autograded" / "bob" / "maml" / "maml.ipynb").read_text())
    outputs = {submissions.grade_id(c): c.get("outputs", []) for c in notebook["cells"]
               if c["cell_type"] == "code"}
    assert "".join(outputs["test_adapt"][0]["text"]).startswith("Grader: 0.5/4 points.")
    assert not outputs["meta_training"] and not outputs["setup"]
    report = json.loads((root / course.REPORT / "report.json").read_text())
    assert report["students"]["bob"]["total"] == sum(BOB.values())
    assert (root / course.REPORT / "index.html").is_file()
    alice = untouched_state(root, "alice")

    path = root / "submitted" / "bob" / "maml" / "maml.ipynb"
    notebook = json.loads((root / "submitted" / "alice" / "maml" / "maml.ipynb").read_text())
    setup = next(c for c in notebook["cells"] if submissions.grade_id(c) == "setup")
    setup["source"] = submissions.cell_source(setup) + "\nimport math\n"  # locked: restored
    answer = next(c for c in notebook["cells"] if submissions.is_solution_code(c))
    answer["source"] = "import math\n" + submissions.cell_source(answer)  # not alice's input
    path.write_text(json.dumps(notebook))
    row = course.regrade_student(root, "bob", self_check=False)
    log = (root / "autograde.log").read_text()
    assert log.count("(from the batch results)") == 0 and "alice" not in log
    assert course.part_scores(root, "bob") == EXPECTED["alice"]
    assert float(row["score"]) == sum(EXPECTED["alice"].values())
    bob = [json.loads(line) for line in (root / course.BATCH_GRADES).read_text().splitlines()
           if json.loads(line)["student"] == "bob"]
    assert [line["total"] for line in bob] == [sum(EXPECTED["alice"].values())]
    report = json.loads((root / course.REPORT / "report.json").read_text())
    assert report["students"]["bob"]["total"] == sum(EXPECTED["alice"].values())
    gradebook = report["students"]["bob"]["gradebook"]  # written answers: not graded, 0 so far
    assert (gradebook["score"], gradebook["max_score"]) == (sum(EXPECTED["alice"].values()), 40.0)
    assert untouched_state(root, "alice") == alice
