"""The class report: what a graded class got wrong, who could not be graded, and similar code,
as ``report.json``, ``similarity.json`` and one static ``index.html`` (the library of
``python -m autograder.report``).

Every figure comes from `autograder.batch`'s lines (the last line of each notebook,
`class_grades.latest_lines`), and a student's total is `class_grades.student_grades`, the same
number the Canvas export writes. The page is self-contained: its plots are inline PNGs, it loads
nothing from the network and runs no script, and everything students control (their ids, error
messages, code) is escaped; its Content-Security-Policy forbids scripts, so an escape that was
missed still cannot run one.
"""

import base64
import html
import io
import json
import pathlib
import statistics

from autograder import parts
from autograder.grading.class_grades import (NotBatchLines, latest_lines, line_status,
                                             points_possible, student_grades)
from autograder.grading.course_root import ASSIGNMENT
from autograder.grading.grade import declared_checks, max_points
from autograder.grading.record import Status

SLOWEST = 20  # notebooks listed by grading time
CODE_SIDE_BY_SIDE = 3  # members of a similar-code cluster shown side by side


def build(lines: list[dict], similarity: dict | None = None,
          sources: dict[str, dict[str, str]] | None = None,
          gradebook: dict[str, dict] | None = None) -> dict:
    """The report's figures (``report.json``) from the last batch line of each notebook.

    Args:
      lines: `class_grades.latest_lines`.
      similarity: `similarity.class_similarity`'s clusters, or None when not compared.
      sources: ``{graded name: {student: source}}`` for the code shown beside each cluster.
      gradebook: `gradebook_scores`, or None without a gradebook.
    """
    grades = student_grades(lines)
    students = {}
    for line in lines:
        entry = students.setdefault(line["student"], {"notebooks": {}})
        entry["notebooks"][pathlib.Path(line.get("path") or "?").name] = {
            "status": line_status(line).value, "total": line.get("total"),
            "max_total": line.get("max_total"),
            "parts": {p["name"]: p["score"] for p in line.get("parts", [])},
            "seconds": line.get("seconds"), "error": line.get("error")}
    for student, grade in grades.items():
        students[student].update(total=grade.score, problem=grade.problem)
        if gradebook and student in gradebook:
            students[student]["gradebook"] = gradebook[student]
    graded = [line for line in lines if line_status(line) is Status.GRADED]
    totals = [g.score for g in grades.values() if g.score is not None]
    maximum = points_possible()
    return {
        "points_possible": maximum,
        "grader_versions": sorted({str(line.get("grader_version")) for line in lines}),
        "counts": {"students": len(students), "notebooks": len(lines),
                   **{status.value: sum(line_status(line) is status for line in lines)
                      for status in Status}},
        "totals": _summary(totals, maximum),
        "parts": {name: _summary(scores, max_points([name])[name])
                  for name, scores in _part_scores(graded).items()},
        "checks": _checks(graded),
        "without_check_detail": sum("failed_checks" not in line for line in graded),
        "ungraded": [{"student": line["student"], "notebook": line.get("path"),
                      "status": line_status(line).value, "error": line.get("error")}
                     for line in lines if line_status(line) is not Status.GRADED],
        "slowest": [{"student": line["student"], "notebook": line.get("path"),
                     "seconds": line["seconds"]}
                    for line in sorted((line for line in lines if line.get("seconds") is not None),
                                       key=lambda line: -line["seconds"])[:SLOWEST]],
        "similarity": similarity,
        "similar_code": _cluster_code(similarity, sources),
        "students": students,
    }


def _part_scores(graded):
    """``{part: [score of each graded notebook that has it]}``."""
    scores = {name: [] for name in parts.PARTS}
    for line in graded:
        for part in line["parts"]:
            if part["name"] in scores:  # a part since removed from the assignment is left out
                scores[part["name"]].append(part["score"])
    return scores


def _summary(values, maximum):
    if not values:
        return {"max_points": maximum, "count": 0}
    return {"max_points": maximum, "count": len(values), "mean": round(statistics.fmean(values), 4),
            "median": statistics.median(values), "min": min(values), "max": max(values),
            "full_marks": sum(v >= maximum for v in values), "zero": sum(v == 0 for v in values),
            "values": sorted(values)}


def _checks(graded):
    """Each declared check: how many graded notebooks ran it, which students it failed, and the
    known mistakes their results matched; most failed first. Lines written before batch lines
    recorded their failed checks are not counted."""
    ran, failed, diagnoses = {}, {}, {}
    for line in graded:
        if "failed_checks" not in line:
            continue
        for part in line["parts"]:
            ran[part["name"]] = ran.get(part["name"], 0) + 1
        for outcome in line["failed_checks"]:
            key = outcome["part"], outcome["check"]
            failed.setdefault(key, []).append(line["student"])
            if outcome.get("diagnosis"):
                found = diagnoses.setdefault(key, {})
                found[outcome["diagnosis"]] = found.get(outcome["diagnosis"], 0) + 1
    rows = []
    for check in declared_checks(list(parts.PARTS)):
        key = check["part"], check["check"]
        rows.append({**check, "graded": ran.get(check["part"], 0), "failed": len(failed.get(key, [])),
                     "students": sorted(failed.get(key, [])),
                     "diagnoses": dict(sorted(diagnoses.get(key, {}).items(), key=lambda d: -d[1]))})
    return sorted(rows, key=lambda row: -row["failed"])  # stable: the notebook's order within ties


def _cluster_code(similarity, sources):
    """``{graded name: [[{"student", "source"}, ...] per cluster]}`` for the side-by-side view."""
    if not similarity or not sources:
        return {}
    return {name: [[{"student": s, "source": sources.get(name, {}).get(s, "")}
                    for s in cluster["students"][:CODE_SIDE_BY_SIDE]] for cluster in found]
            for name, found in similarity.items() if found}


def gradebook_scores(database: str | pathlib.Path, assignment: str) -> dict[str, dict]:
    """``{student: {"score", "max_score", "needs_manual_grade"}}`` of ``assignment`` in nbgrader's
    gradebook: the autograded points plus the written answers graded so far."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{pathlib.Path(database).resolve()}") as book:
        try:
            submissions = book.find_assignment(assignment).submissions
        except MissingEntry:
            return {}
        return {s.student_id: {"score": s.score, "max_score": s.max_score,
                               "needs_manual_grade": bool(s.needs_manual_grade)}
                for s in submissions}


class ReportError(Exception):
    """The inputs cannot make a report; the message says which and why."""


def write_from_batch(grades: str | pathlib.Path, out: str | pathlib.Path,
                     submitted: str | pathlib.Path | None = None,
                     release: str | pathlib.Path = f"release/{ASSIGNMENT}",
                     gradebook: str | pathlib.Path | None = None) -> pathlib.Path:
    """`build` from the batch lines in ``grades``, with similar code when ``submitted`` (nbgrader's
    folder) is given and the gradebook's scores when ``gradebook`` is, then `write` into ``out``;
    returns the page's path.

    Raises:
      ReportError: ``grades`` is not the batch's output, or ``submitted`` is not a folder.
    """
    from autograder.grading.similarity import class_similarity, class_sources

    try:
        lines = latest_lines(grades)
    except (NotBatchLines, OSError) as error:
        raise ReportError(str(error)) from None
    similarity = sources = None
    if submitted is not None:
        if not pathlib.Path(submitted).is_dir():
            raise ReportError(f"{submitted} is not a folder")
        sources = class_sources(submitted)
        similarity = class_similarity(submitted, release, sources)
    scores = gradebook_scores(gradebook, ASSIGNMENT) if gradebook is not None else None
    return write(out, build(lines, similarity, sources, scores), str(grades))


def write(out: str | pathlib.Path, report: dict, source: str) -> pathlib.Path:
    """Writes ``report.json``, ``similarity.json`` (when compared) and ``index.html`` into
    ``out``; returns the page's path."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if report["similarity"] is not None:
        (out / "similarity.json").write_text(json.dumps(report["similarity"], indent=1) + "\n",
                                             encoding="utf-8")
    page = out / "index.html"
    page.write_text(render(report, source), encoding="utf-8")
    return page


# ----- the page -----

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-top:12px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
nav a{margin-right:14px}.muted{color:#666}.warn{color:#a40000}
details>summary{cursor:pointer}.who{max-width:900px;word-break:break-word}
.code{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:8px}
pre{background:#f7f7f7;border:1px solid #ddd;padding:6px;overflow:auto;font-size:12px;margin:0}
img{max-width:100%}
"""
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _n(value) -> str:
    return "–" if value is None else f"{value:g}"


def render(report: dict, source: str) -> str:
    """The report as one static HTML page (no script, nothing from the network)."""
    counts, totals = report["counts"], report["totals"]
    body = [f"<h1>Class report</h1><p class=muted>From <code>{_e(source)}</code>; grader "
            f"version {_e(', '.join(report['grader_versions']))}.</p>",
            "<nav><a href='#summary'>Summary</a><a href='#distributions'>Distributions</a>"
            "<a href='#checks'>Checks</a><a href='#ungraded'>Not graded</a><a href='#slowest'>"
            "Slowest</a><a href='#similarity'>Similar code</a><a href='#students'>Students</a></nav>",
            "<h2 id=summary>Summary</h2><table>"]
    rows = [("students", counts["students"]), ("notebooks", counts["notebooks"]),
            *((status.value, counts[status.value]) for status in Status)]
    body += [f"<tr><th>{_e(k)}</th><td class=num id='count-{_e(k.replace(' ', '-'))}'>{v}</td></tr>"
             for k, v in rows]
    body.append("</table>")
    if totals["count"]:
        body.append(f"<p>Totals of {totals['count']} students, out of {_n(totals['max_points'])}: "
                    f"mean <b id=total-mean>{_n(totals['mean'])}</b>, median {_n(totals['median'])}, "
                    f"range {_n(totals['min'])} to {_n(totals['max'])}; {totals['full_marks']} with "
                    f"full marks, {totals['zero']} with 0.</p>")
    body.append(f"<h2 id=distributions>Distributions</h2>{_plots(report)}")
    body.append(_checks_table(report["checks"], report["without_check_detail"]))
    body.append(_ungraded_table(report["ungraded"]))
    body.append("<h2 id=slowest>Slowest notebooks</h2><table><tr><th>student</th><th>notebook</th>"
                "<th class=num>seconds</th></tr>" + "".join(
                    f"<tr><td>{_e(r['student'])}</td><td>{_e(r['notebook'])}</td>"
                    f"<td class=num>{r['seconds']:.1f}</td></tr>" for r in report["slowest"])
                + "</table>")
    body.append(_similarity_section(report))
    body.append(_students_table(report))
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{_POLICY}\">"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>Class report</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def _checks_table(checks, without):
    rows = []
    for check in checks:
        who = ", ".join(map(_e, check["students"]))
        diagnoses = "".join(f"<li>{count}: {_e(name)}</li>" for name, count in check["diagnoses"].items())
        detail = (f"<details><summary>{check['failed']} students</summary><div class=who>{who}</div>"
                  + (f"<p>Known mistakes matched:</p><ul>{diagnoses}</ul>" if diagnoses else "")
                  + "</details>") if check["failed"] else ""
        rows.append(f"<tr data-check='{_e(check['part'])}/{_e(check['check'])}'>"
                    f"<td>{_e(check['part'])}</td><td>{_e(check['check'])}</td>"
                    f"<td class=num>{_n(check['points'])}</td>"
                    f"<td class='num failed'>{check['failed']}</td><td class=num>{check['graded']}</td>"
                    f"<td>{_e(check['message'])}{detail}</td></tr>")
    return ("<h2 id=checks>Checks, most failed first</h2>" + (
        f"<p class=warn>{without} graded notebooks are not counted here: their lines come from a "
        "grader version that did not record failed checks (grade them again).</p>"
        if without else "") + "<table><tr><th>part</th><th>check</th>"
            "<th class=num>points</th><th class=num>failed</th><th class=num>graded</th>"
            "<th>what it checks (the message a student sees)</th></tr>" + "".join(rows) + "</table>")


def _ungraded_table(ungraded):
    if not ungraded:
        return "<h2 id=ungraded>Not graded</h2><p>Every notebook was graded.</p>"
    return ("<h2 id=ungraded>Not graded</h2><p class=muted>“could not grade”: the grader failed "
            "(no score; run the regrade); “not a notebook”: the file scored 0 with the reason; "
            "“not graded”: reported, never opened.</p><table><tr><th>student</th><th>notebook</th>"
            "<th>status</th><th>why</th></tr>" + "".join(
                f"<tr><td>{_e(r['student'])}</td><td>{_e(r['notebook'])}</td>"
                f"<td class=warn>{_e(r['status'])}</td><td>{_e(r['error'])}</td></tr>"
                for r in ungraded) + "</table>")


def _similarity_section(report):
    similarity = report["similarity"]
    head = "<h2 id=similarity>Similar code</h2>"
    if similarity is None:
        return head + "<p>Not compared: the submitted notebooks were not given.</p>"
    text = ["<p class=muted>Clusters of identical or near-identical implementations of a graded "
            "function (names, comments, formatting and statement order normalised; the released "
            "template and one-line functions excluded). A flag to look at, never a grade.</p>"]
    code = report["similar_code"]
    for name, found in similarity.items():
        if not found:
            continue
        text.append(f"<h3>{_e(name)}: {len(found)} clusters</h3>")
        for number, cluster in enumerate(found):
            shown = code.get(name, [])[number] if number < len(code.get(name, [])) else []
            more = len(cluster["students"]) - len(shown)
            text.append(
                f"<details data-name='{_e(name)}'><summary>score {cluster['score']:.2f}: "
                f"{_e(', '.join(cluster['students']))}</summary><div class=code>" + "".join(
                    f"<div><b>{_e(member['student'])}</b><pre>{_e(member['source'])}</pre></div>"
                    for member in shown) + "</div>"
                + (f"<p class=muted>and {more} more</p>" if more > 0 else "") + "</details>")
    if len(text) == 1:
        text.append("<p>No similar code found.</p>")
    return head + "".join(text)


def _students_table(report):
    names = list(parts.PARTS)
    with_gradebook = any("gradebook" in s for s in report["students"].values())
    head = ("<tr><th>student</th><th class=num>total</th>"
            + "".join(f"<th class=num>{_e(n)}</th>" for n in names)
            + ("<th class=num>gradebook (with written answers)</th>" if with_gradebook else "")
            + "<th>note</th></tr>")
    rows = []
    for student, entry in sorted(report["students"].items()):
        scores = {}
        for notebook in entry["notebooks"].values():
            scores.update(notebook["parts"])
        book = entry.get("gradebook")
        rows.append(
            f"<tr data-student='{_e(student)}'><td>{_e(student)}</td>"
            f"<td class='num total'>{_n(entry.get('total'))}</td>"
            + "".join(f"<td class=num>{_n(scores.get(n))}</td>" for n in names)
            + (f"<td class=num>{_n(book['score']) if book else '–'}"
               f"{' (written answers to grade)' if book and book['needs_manual_grade'] else ''}</td>"
               if with_gradebook else "")
            + f"<td class=warn>{_e(entry.get('problem') or '')}</td></tr>")
    return (f"<h2 id=students>Students ({len(rows)})</h2><p class=muted>Total: the autograded "
            f"points of all notebooks, out of {_n(report['points_possible'])} (the Canvas export's "
            "number); – where there is none.</p><table>" + head + "".join(rows) + "</table>")


def _plots(report):
    """The totals' histogram and each part's, as inline PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    totals = report["totals"]
    if totals["count"]:
        figure, axis = plt.subplots(figsize=(8, 3), dpi=100)
        axis.hist(totals["values"], bins=_bins(totals["max_points"]), color="#4c72b0")
        axis.set(xlabel=f"total (autograded, out of {totals['max_points']:g})", ylabel="students",
                 title="Totals")
        figure.tight_layout()
        images.append(_png(figure, plt, "Histogram of the students' totals"))
    shown = [(name, s) for name, s in report["parts"].items() if s["count"]]
    if shown:
        columns = 5
        rows = -(-len(shown) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(12, 2.4 * rows), dpi=100, squeeze=False)
        for axis, (name, summary) in zip(axes.flat, shown):
            axis.hist(summary["values"], bins=_bins(summary["max_points"]), color="#55a868")
            axis.set_title(f"{name} (/{summary['max_points']:g})", fontsize=9)
            axis.tick_params(labelsize=8)
        for axis in list(axes.flat)[len(shown):]:
            axis.axis("off")
        figure.tight_layout()
        images.append(_png(figure, plt, "Histogram of each part's score"))
    return "".join(images) or "<p>No graded notebook.</p>"


def _bins(maximum):
    """Quarter-point bins (the finest points a check carries) up to 40, else 40 equal ones."""
    steps = int(round(maximum * 4))
    if steps <= 40:
        return [(i - 0.5) / 4 for i in range(steps + 2)]
    return [maximum * i / 40 for i in range(41)]


def _png(figure, plt, alt):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<p><img alt='{_e(alt)}' src='data:image/png;base64,{data}'></p>"
