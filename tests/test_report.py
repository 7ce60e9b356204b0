"""`python -m autograder.report`: the class report's figures equal the batch lines', and the page
opens in a real browser (Debian's Chromium, driven by Playwright) offline, with no console error,
showing those figures and running nothing that students wrote."""

import json
import pathlib
import shutil

import class_lines
import pytest
import submissions

from autograder import parts
from autograder import report as report_cli
from autograder.grading import canvas, report
from autograder.grading.record import skipped_line

ARTIFACTS = submissions.ROOT / "test-artifacts"  # the screenshot, kept after the run
HOSTILE_ID = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "</pre><script>alert(2)</script><img src=x onerror=alert(3)>"


def mixed_class(students=40):
    """A generated class, then: a notebook the grader failed on, one that is not a notebook, an
    extra file never opened, and a student regraded (two lines for one notebook: the last counts)."""
    lines = class_lines.random_class(students, seed=1)
    lines += [class_lines.failure_line("zed", "maml"),
              class_lines.unreadable_line("yan", "maml"),
              skipped_line("yan", "submitted/yan/maml/extra.ipynb", "an extra notebook", "3" * 64, "v1"),
              class_lines.graded_line("student0000", "maml", failed={"adapt/test_one_step_on_quadratic"},
                                      seconds=99.0)]
    old_grader = class_lines.graded_line("old", "maml", failed={"MLP/test_forward_pass"})
    del old_grader["failed_checks"]  # written before lines recorded their failed checks
    return lines + [old_grader]


def write_lines(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def last_lines(lines):
    """The last line of each notebook, computed here independently of the report."""
    return list({(line["student"], line["path"]): line for line in lines}.values())


def test_the_figures_equal_the_batch_lines(tmp_path):
    """Each student's total is the sum of the last line of each notebook (the Canvas export's
    number; none where the grader failed); each check's failures are the graded lines that list
    it; every notebook not graded is listed with its reason; the slowest come first."""
    lines = mixed_class()
    grades = write_lines(tmp_path / "grades.jsonl", lines)
    figures = report.build(report.latest_lines(grades))
    last = last_lines(lines)

    expected = {}
    for line in last:
        if line.get("total") is not None and not line.get("skipped"):
            expected[line["student"]] = round(expected.get(line["student"], 0) + line["total"], 6)
    totals = {s: e["total"] for s, e in figures["students"].items() if e["total"] is not None}
    assert totals == expected
    assert figures["students"]["zed"]["total"] is None and "grader failed" in figures["students"]["zed"]["problem"]
    assert totals == {s: g.score for s, g in canvas.grades_from_batch(grades).items()
                      if g.score is not None}
    assert figures["students"]["student0000"]["notebooks"]["maml.ipynb"]["seconds"] == 99.0

    graded = [line for line in last if line.get("failed_checks") is not None and line["error"] is None]
    for check in figures["checks"]:
        failed = sorted(line["student"] for line in graded for f in line["failed_checks"]
                        if (f["part"], f["check"]) == (check["part"], check["check"]))
        assert check["students"] == failed and check["failed"] == len(failed)
        assert check["graded"] == sum(check["part"] in {p["name"] for p in line["parts"]}
                                      for line in graded)
    assert figures["without_check_detail"] == 1 and "old" in totals
    assert [c["failed"] for c in figures["checks"]] == sorted(
        (c["failed"] for c in figures["checks"]), reverse=True)
    assert {(u["student"], u["status"]) for u in figures["ungraded"]} == {
        ("zed", "could not grade"), ("yan", "not a notebook"), ("yan", "not graded")}
    assert figures["counts"]["notebooks"] == len(last)
    assert figures["slowest"][0] == {"student": "student0000", "notebook": class_lines.path("student0000", "maml"),
                                     "seconds": 99.0}
    adapt = figures["parts"]["adapt"]
    scores = [p["score"] for line in last if line["error"] is None and line["total"] is not None
              for p in line["parts"] if p["name"] == "adapt"]  # old grader versions' too
    assert adapt["count"] == len(scores) and adapt["mean"] == pytest.approx(sum(scores) / len(scores), abs=5e-5)  # 4 decimals


def test_a_check_the_class_never_failed_is_listed_with_zero(tmp_path):
    """A class that passed everything still lists every declared check, each failed by nobody."""
    lines = [class_lines.graded_line(s, n) for s in ("ann", "ben") for n in parts.NOTEBOOKS]
    figures = report.build(lines)
    assert len(figures["checks"]) == sum(len(report.declared_checks([p])) for p in parts.PARTS)
    assert all(c["failed"] == 0 and c["graded"] == 2 for c in figures["checks"])


def test_a_file_that_is_not_batch_lines_is_refused(tmp_path, capsys):
    """Exit 2 with the line at fault, and no report written; a --submitted that is not a folder
    too."""
    grades = tmp_path / "grades.csv"
    grades.write_text("student_id,score\nann,3\n")
    assert report_cli.main([str(grades), "--out", str(tmp_path / "r")]) == 2
    assert "line 1" in capsys.readouterr().err and not (tmp_path / "r").exists()
    lines = write_lines(tmp_path / "grades.jsonl", mixed_class(2))
    assert report_cli.main([str(lines), "--out", str(tmp_path / "r"),
                            "--submitted", str(tmp_path / "nowhere")]) == 2


def hostile_class(folder):
    """Two students whose adapt is the same code holding markup, one of them with an id that is
    markup: the report must show both as text."""
    solution = submissions.solution_sources("maml")
    hostile = solution["adapt"].replace('"""', f'"""{HOSTILE_TEXT} ', 1)
    for student in (HOSTILE_ID, "ann"):
        answers = {**solution, "adapt": hostile}
        submissions.write(submissions.submission(answers),
                          folder / "submitted" / student / "maml" / "maml.ipynb")
    return folder / "submitted"


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: make test installs Debian's chromium "
                    "(apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_report(browser, page_path):
    """The page, and every console message, page error, dialog and request beyond the file."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"console": [], "errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: r.url.startswith("file:") or seen["requests"].append(r.url))
    page.goto(pathlib.Path(page_path).as_uri(), wait_until="load")
    return page, seen


def test_the_page_opens_offline_with_no_console_error_and_shows_the_lines_figures(tmp_path, browser):
    """A class of 1,000 and a hostile pair: the page loads from the file with no console message,
    no error, no request beyond itself; its counts, each student's total and each check's
    failures are the batch lines'; students' markup is shown as text and runs nothing; a
    screenshot is kept in test-artifacts/."""
    lines = [*class_lines.random_class(1000, seed=2), class_lines.failure_line("zed", "maml"),
             class_lines.graded_line(HOSTILE_ID, "maml", failed={"MLP/test_forward_pass"})]
    grades = write_lines(tmp_path / "grades.jsonl", lines)
    submitted = hostile_class(tmp_path)
    assert report_cli.main([str(grades), "--out", str(tmp_path / "report"), "--submitted",
                            str(submitted), "--release",
                            str(submissions.release_path("maml").parent)]) == 0
    page, seen = open_report(browser, tmp_path / "report" / "index.html")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "class_report.png"), full_page=False)
    assert seen == {"console": [], "errors": [], "dialogs": [], "requests": []}

    expected = {}
    for line in last_lines(lines):
        if line["total"] is not None:
            expected[line["student"]] = round(expected.get(line["student"], 0) + line["total"], 6)
    shown = dict(page.locator("tr[data-student]").evaluate_all(
        "rows => rows.map(r => [r.dataset.student, r.querySelector('td.total').innerText])"))
    assert len(shown) == 1002 and shown.pop("zed") == "–"
    assert {s: float(v) for s, v in shown.items()} == expected
    assert page.locator("#count-students").inner_text() == "1002"
    assert page.locator("#count-could-not-grade").inner_text() == "1"
    figures = json.loads((tmp_path / "report" / "report.json").read_text())
    failed = dict(page.locator("tr[data-check]").evaluate_all(
        "rows => rows.map(r => [r.dataset.check, r.querySelector('td.failed').innerText])"))
    assert failed == {f"{c['part']}/{c['check']}": str(c["failed"]) for c in figures["checks"]}

    assert page.locator("script").count() == 0
    assert HOSTILE_TEXT in page.locator("details[data-name=adapt] pre").first.text_content()
    assert page.locator(f"tr[data-student='{HOSTILE_ID}'] td").first.inner_text() == HOSTILE_ID
    similar = json.loads((tmp_path / "report" / "similarity.json").read_text())
    assert similar["adapt"] == [{"students": sorted([HOSTILE_ID, "ann"]), "score": 1.0}]
