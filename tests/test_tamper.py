"""Tricks in the student's code never raise a score: each is built on a wrong implementation and
must earn no more than the same wrong code without the trick."""

import dataclasses
import hashlib
import subprocess

import pytest
from bank import WRONG, Variant

import submissions
from autograder.isolation import sandbox

BASE = next(v for v in WRONG if v.name == "adapt_gradient_ascent")
WRONG_ADAPT = BASE.cells["adapt"]

# Each trick is the body of `_trick()`, which the submission's `adapt` calls every time it is
# graded (top-level statements with calls never run in the grader, so tricks run at call time).
TRICKS = {
    "patch_numpy_checks": """
    import numpy, numpy.testing
    numpy.allclose = lambda *a, **k: True
    numpy.testing.assert_allclose = lambda *a, **k: None
""",
    "patch_grader_modules": """
    import autograder.parts.checking, autograder.parts.closed_forms
    autograder.parts.checking.assert_trees_all_close = lambda *a, **k: None
    autograder.parts.closed_forms.Quadratic.adapt = lambda self, v, *a: v
""",
    "patch_jax": """
    import jax
    jax.numpy.allclose = lambda *a, **k: True
    jax.tree_util.tree_all = lambda *a, **k: True
""",
    "equal_to_anything": """
    class Anything:
        def __eq__(self, other): return True
        def __float__(self): return 0.0
        def __array__(self, *a, **k): raise TypeError("no")
    return Anything
""",
    "print_fake_results": """
    import json, sys
    fake = {"notebook": "x", "total": 20.0, "max_total": 20.0, "parts": [], "error": None}
    print(json.dumps(fake)); print(json.dumps({"ok": True, "value": 0.0}))
    print(json.dumps(fake), file=sys.stderr)
""",
    "write_to_inherited_pipes": """
    import os
    for fd in range(3, 64):
        try:
            os.write(fd, b'{"id": 1, "ok": true, "value": 0.0}\\n{"ready": true, "load_errors": []}\\n')
        except OSError:
            pass
""",
    "display_and_input_hooks": """
    import sys
    sys.displayhook = lambda value: print("20.0")
    try:
        get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])
    except NameError:
        pass
""",
    "drop_conftest_and_shadow_modules": """
    import os
    open("conftest.py", "w").write("def pytest_runtest_makereport(item, call):\\n    call.excinfo = None\\n")
    os.makedirs("autograder", exist_ok=True)
    open(os.path.join("autograder", "__init__.py"), "w").write("")
    open("numpy.py", "w").write("allclose = lambda *a, **k: True\\n")
""",
    "edit_grader_files": """
    import pathlib, inside_sandbox
    root = pathlib.Path(inside_sandbox.__path__[0]).parent / "autograder"
    for name in ("framework.py", "grade.py", "parts/adapt/checks.py", "parts/adapt/reference.json",
                 "../inside_sandbox/probing.py"):
        try:
            (root / name).write_text("")
        except Exception:
            pass
""",
    "call_grader_internals": """
    import gc, sys
    for module in list(sys.modules.values()):
        if callable(getattr(module, "trusted_adapt", None)):
            return module.trusted_adapt
    for obj in gc.get_objects():
        if getattr(obj, "__name__", None) == "trusted_adapt" and callable(obj):
            return obj
""",
    "read_hidden_sources": """
    import glob, pathlib
    stolen = ""
    for pattern in ("/work/**/substitutes.py", "/work/**/checks.py", "/tmp/**/*.py"):
        for path in glob.glob(pattern, recursive=True):
            try:
                stolen += pathlib.Path(path).read_text()
            except Exception:
                pass
    if "def trusted_adapt" in stolen:
        namespace = {"jax": jax}
        exec(stolen[stolen.index("def trusted_adapt"):].split("\\n\\n\\n")[0], namespace)
        return namespace["trusted_adapt"]
""",
    "signal_the_grader": """
    import os, signal
    for pid in (os.getppid(), 1):
        try:
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
""",
}

WRONG_BODY = WRONG_ADAPT.split(":\n", 1)[1]  # the wrong adapt's body, after its signature
# Tricks that return something the submission then uses instead of the wrong body.
USES_FINDINGS = {
    "call_grader_internals": "    if found is not None:\n"
                             "        return found(loss, params, x, y, alpha, steps, first_order)\n",
    "read_hidden_sources": "    if found is not None:\n"
                           "        return found(loss, params, x, y, alpha, steps, first_order)\n",
    "equal_to_anything": "    return jax.tree_util.tree_map(lambda leaf: found(), params)\n",
}


def tampered(name):
    code = ("def _trick():" + TRICKS[name] + "\n\n"
            "def adapt(loss, params, x, y, alpha, steps=1, first_order=False):\n"
            "    found = _trick()\n" + USES_FINDINGS.get(name, "") + WRONG_BODY)
    return Variant(f"tamper_{name}", {"adapt": code})


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def untouched():
    """Fingerprints of the grader and the repository before the tricks run; checked after."""
    grader = submissions.ROOT / "autograder"
    def status():
        lines = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=submissions.ROOT,
                               capture_output=True, text=True).stdout.splitlines()
        return [line for line in lines if "__pycache__" not in line]

    before = (tree_digest(grader), status())
    yield
    assert (tree_digest(grader), status()) == before, "a trick changed files outside its scratch"


@pytest.mark.skipif(sandbox.bubblewrap() is None, reason="tricks may write files without the sandbox")
@pytest.mark.parametrize("tamper", [tampered(trick) for trick in sorted(TRICKS)],
                         ids=lambda v: v.name)
def test_trick_earns_no_more_than_the_wrong_code_alone(grade_variant, untouched, tamper):
    """A trick plus wrong code scores at most what the wrong code scores, part by part."""
    assert len(TRICKS) >= 12
    base, attempt = grade_variant(BASE), grade_variant(tamper)
    assert attempt.error is None
    for base_part, attempt_part in zip(base.parts, attempt.parts):
        assert attempt_part.score <= base_part.score, (tamper.name, attempt_part)


def test_a_trick_succeeds_when_substitutes_reach_the_child_early(monkeypatch, tmp_path):
    """Control: were the grader's own `adapt` in the child while `adapt` is graded (as when every
    probe carried the substitutes), delegating to it would earn points; so the test above can fail."""
    from autograder import parts
    from autograder.grading.grade import grade_notebook

    early = dataclasses.replace(parts.get("adapt"), uses_substitutes=True)
    monkeypatch.setitem(parts.PARTS, "adapt", early)
    path = submissions.write(submissions.submission(tampered("call_grader_internals").cells),
                             tmp_path / "maml.ipynb")
    result = grade_notebook(path, parts=["adapt"])
    assert result.part("adapt").score == result.part("adapt").max

