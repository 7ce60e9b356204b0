"""`python -m autograder.batch`: a class graded in parallel, resumable, with the self-check first."""

import json
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
import submissions

from autograder.grading import nbgrader_course as course

BOB = {"inner_step_objective": 2, "MLP": 1.5, "square_error_loss": 2, "adapt": 0.5,
       "adaptation_loss": 3, "batched_meta_loss": 0.5, "make_meta_train_step": 3}


def run_batch(submitted, out, *args, env=None):
    return subprocess.run([sys.executable, "-m", "autograder.batch", str(submitted), "--out",
                           str(out), *args], capture_output=True, text=True, cwd=submissions.ROOT,
                          env=env)


def lines(out):
    return {(r["student"], r["path"].rsplit("/", 1)[-1]): r
            for r in map(json.loads, out.read_text().splitlines())}


def graded_alike(out):
    """`lines` without how long each grading took, which no two runs share."""
    return {key: {k: v for k, v in line.items() if k != "seconds"} for key, line in lines(out).items()}


@pytest.fixture
def submitted(tmp_path):
    """nbgrader's layout: alice (part 2), bob (three bugs), trent (a cut-off upload)."""
    root = tmp_path / "submitted"
    for student, notebook in (("alice", "beyond_maml"), ("bob", "maml"), ("trent", "maml")):
        (root / student / "maml").mkdir(parents=True)
        shutil.copy(submissions.EXAMPLES_DIR / student / f"{notebook}.ipynb", root / student / "maml")
    return root


def test_grades_a_class_in_parallel_and_resumes(submitted, tmp_path):
    """Two jobs grade every notebook with the single-notebook command's scores (an unreadable one
    is a line with its error); a rerun grades nothing; a changed notebook and a line cut off by a
    crash are graded again, and nothing else."""
    out = tmp_path / "grades.jsonl"
    first = run_batch(submitted, out, "--jobs", "2", "--skip-self-check")
    assert first.returncode == 0, first.stderr
    assert "3 to grade" in first.stderr and "failed: 1" in first.stderr
    graded = lines(out)
    assert {p["name"]: p["score"] for p in graded["bob", "maml.ipynb"]["parts"]} == BOB
    assert graded["alice", "beyond_maml.ipynb"]["total"] == 10.0
    assert graded["trent", "maml.ipynb"]["error"].startswith("The file is not valid notebook JSON")
    assert all(set(r) >= {"notebook", "total", "max_total", "parts", "error", "student"}
               for r in graded.values())

    again = run_batch(submitted, out, "--skip-self-check")
    assert again.returncode == 0 and "3 already graded, 0 to grade" in again.stderr
    assert lines(out) == graded

    bob = submitted / "bob" / "maml" / "maml.ipynb"
    bob.write_text(json.dumps(submissions.submission()))  # bob fixed his bugs
    text = out.read_text().splitlines()
    cut = [line for line in text if '"alice"' not in line] + [text[[i for i, line in enumerate(text)
                                                                    if '"alice"' in line][0]][:40]]
    out.write_text("\n".join(cut) + "\n")  # alice's line cut off mid-write
    resumed = run_batch(submitted, out, "--skip-self-check")
    assert resumed.returncode == 0 and "1 already graded, 2 to grade" in resumed.stderr
    regraded = lines(out)
    assert regraded["bob", "maml.ipynb"]["total"] == 20.0
    assert regraded["alice", "beyond_maml.ipynb"]["total"] == 10.0
    assert regraded["trent", "maml.ipynb"] == graded["trent", "maml.ipynb"]


def test_self_check_first_and_grader_failures_are_not_scores(submitted, tmp_path, monkeypatch):
    """On a machine where the grader cannot run, the self-check stops the batch before anyone is
    graded (exit 1); without it every line is a grader failure with no score (exit 3), and the
    next run on a working machine grades them all."""
    out = tmp_path / "grades.jsonl"
    monkeypatch.setenv("AUTOGRADER_XLA_FLAGS", "--xla_no_such_flag")
    stopped = run_batch(submitted, out)
    assert stopped.returncode == 1 and "self-check FAILED" in stopped.stderr
    assert out.read_text() == ""
    failed = run_batch(submitted, out, "--skip-self-check")
    assert failed.returncode == 3, failed.stderr
    readable = [r for r in lines(out).values() if r["student"] != "trent"]
    assert all(r["total"] is None and r["error"].startswith("The grader failed") for r in readable)
    monkeypatch.delenv("AUTOGRADER_XLA_FLAGS")
    fixed = run_batch(submitted, out, "--skip-self-check")
    assert fixed.returncode == 0 and "1 already graded, 2 to grade" in fixed.stderr
    assert lines(out)["alice", "beyond_maml.ipynb"]["total"] == 10.0


@pytest.fixture
def dask_cluster(tmp_path):
    """A real Dask scheduler and two single-threaded workers on localhost; yields its address."""
    from distributed import Client

    bin_dir = pathlib.Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen([bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                   "0", "--no-dashboard", "--scheduler-file", scheduler_file],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.read_text().strip().endswith("}"):
                break
            time.sleep(0.1)
        processes += [subprocess.Popen([bin_dir / "dask", "worker", "--scheduler-file",
                                        scheduler_file, "--nthreads", "1", "--no-dashboard",
                                        "--name", f"worker-{n}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                      for n in range(2)]
        with Client(scheduler_file=str(scheduler_file)) as client:
            client.wait_for_workers(2, timeout=120)
            yield client.scheduler.address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_a_dask_cluster_grades_exactly_like_local_processes(submitted, tmp_path, dask_cluster):
    """Through a real scheduler and two workers (each runs the self-check first, and grades in
    its own sandboxed children), every line equals local grading."""
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    assert run_batch(submitted, local, "--skip-self-check").returncode == 0
    completed = run_batch(submitted, remote, "--scheduler", dask_cluster)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count("self-check passed") == 2
    assert graded_alike(remote) == graded_alike(local)


def test_links_folders_and_extra_notebooks_are_reported_and_stop_no_one(submitted, tmp_path):
    """mallory submits a link to the instructor's notebook, a folder named ``notes.ipynb`` and a
    second copy of part 2: each is a line that says why it was not graded, her real part 2 is
    graded once, and the rest of the class is graded as before (exit 0)."""
    folder = submitted / "mallory" / "maml"
    folder.mkdir(parents=True)
    (folder / "maml.ipynb").symlink_to(submissions.SOURCE)
    (folder / "notes.ipynb").mkdir()
    for name in ("beyond_maml.ipynb", "beyond_maml (2).ipynb"):
        shutil.copy(submissions.EXAMPLES_DIR / "alice" / "beyond_maml.ipynb", folder / name)
    out = tmp_path / "grades.jsonl"
    completed = run_batch(submitted, out, "--jobs", "2", "--skip-self-check")
    assert completed.returncode == 0, completed.stderr
    graded = lines(out)
    assert {p["name"]: p["score"] for p in graded["bob", "maml.ipynb"]["parts"]} == BOB
    assert graded["mallory", "beyond_maml.ipynb"]["total"] == 10.0
    skipped = {name: r["error"] for (student, name), r in graded.items() if r.get("skipped")}
    assert set(skipped) == {"maml.ipynb", "notes.ipynb", "beyond_maml (2).ipynb"}
    assert "symbolic link" in skipped["maml.ipynb"] and "folder" in skipped["notes.ipynb"]
    assert all(graded["mallory", name]["total"] is None for name in skipped)
    again = run_batch(submitted, out, "--skip-self-check")
    assert again.returncode == 0 and "0 to grade" in again.stderr and lines(out) == graded


def test_regrading_one_student_keeps_every_other_line_byte_for_byte(submitted, tmp_path):
    """`grade_submitted(only={student})` grades that student's notebooks again even when their
    line is current, drops their old lines, and leaves every other line exactly as it was: lines
    of another grader version too, in their order (a regrade after a grader update must not
    regrade, or drop, anyone else)."""
    from autograder.grading.batch_grading import grade_submitted

    out = tmp_path / "grades.jsonl"
    others = [json.dumps({"student": "alice", "path": "a", "total": 10.0, "grader_version": "old"}),
              '{"student": "bob",  "path": "b", "total": 11.0, "grader_version": "older"}']
    trent_old = json.dumps({"student": "trent", "path": str(submitted / "trent" / "maml" / "maml.ipynb"),
                            "total": 5.0, "grader_version": "old"})
    out.write_text("\n".join([others[0], trent_old, others[1]]) + "\n")
    status = grade_submitted(submitted, out, jobs=1, self_check=False, progress=False,
                             only={"trent"})
    assert status == 0
    text = out.read_text().splitlines()
    assert text[:2] == others and len(text) == 3
    trent = json.loads(text[2])
    assert trent["student"] == "trent" and trent["total"] == 0.0
    assert trent["error"].startswith("The file is not valid notebook JSON")
