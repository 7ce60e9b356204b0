"""The compilation cache: filled only by trusted grading, read by students, never changes a grade."""

import pathlib

import pytest
import submissions
from bank import ALTERNATIVES, SOLUTIONS, WRONG

from autograder import parts
from autograder.grading.notebook import extract_definitions
from autograder.isolation import compilation_cache, sandbox
from autograder.isolation.student_process import StudentProcess, XLA_FLAGS

# A student's `inner_step_objective` that reports how many programs its process loaded from the
# persistent cache so far (JAX's own monitoring event), as the probe's value.
COUNTS_CACHE_HITS = '''
def inner_step_objective(g, alpha):
    import jax

    global HITS  # statements other than definitions are not run in grading: set up on first call
    if "HITS" not in globals():
        HITS = []
        jax.monitoring.register_event_listener(lambda event, **_: HITS.append(event)
                                               if event == "/jax/compilation_cache/cache_hits" else None)
    hits = float(len(HITS))
    return lambda x: g(x) * 0.0 + hits
'''


def cache_hits(fill_cache=False, calls=2):
    """Probes the hit-counting submission ``calls`` times in one child; the last count."""
    notebook = submissions.submission({"inner_step_objective": COUNTS_CACHE_HITS})
    statements, _ = extract_definitions(notebook)
    with StudentProcess(statements, fill_cache=fill_cache) as process:
        for _ in range(calls):
            value = process.probe(parts.get("inner_step_objective"), "inner_step_objective", 60, g={"poly": [1.0, 0.0]}, alpha=0.1,
                                  xs=[0.0])
    return value["values"][0]


def snapshot(folder):
    """The index and each indexed entry's modification time (the entries folder is unlistable)."""
    entries = pathlib.Path(folder) / compilation_cache.ENTRIES
    return ((pathlib.Path(folder) / compilation_cache.INDEX).read_text(),
            {name: (entries / name).stat().st_mtime_ns for name in compilation_cache.names(folder)})


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(compilation_cache.SETTING, str(tmp_path / "cache"))
    return compilation_cache.directory(XLA_FLAGS)


@submissions.NEEDS_BUBBLEWRAP
def test_student_processes_load_what_trusted_grading_compiled(own_cache, monkeypatch):
    """A child started after a trusted child compiled the same programs loads them from the cache;
    with the cache empty or turned off it loads none."""
    assert cache_hits() == 0.0  # empty cache
    cache_hits(fill_cache=True)
    assert compilation_cache.entries(own_cache) > 0
    assert cache_hits() >= 1.0
    monkeypatch.setenv(compilation_cache.SETTING, "off")
    assert cache_hits() == 0.0


@submissions.NEEDS_BUBBLEWRAP
def test_student_processes_never_write_the_cache(own_cache):
    """Grading a student whose programs are new to the cache leaves it exactly as it was."""
    cache_hits(fill_cache=True)
    before = snapshot(own_cache)
    notebook = submissions.submission(WRONG[0].cells)
    statements, _ = extract_definitions(notebook)
    with StudentProcess(statements) as process:
        process.probe(parts.get("inner_step_objective"), "inner_step_objective", 60, g={"poly": [1.0, 2.0, 0.5]}, alpha=0.3,
                      xs=[0.0, 1.0])
    assert snapshot(own_cache) == before


def test_unsandboxed_students_get_no_cache(own_cache, monkeypatch):
    """Without bubblewrap nothing keeps a student from writing the cache, so none is used."""
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    cache_hits(fill_cache=True)
    assert compilation_cache.entries(own_cache) > 0
    assert cache_hits() == 0.0


def test_self_check_fills_the_cache_with_programs_and_font_list(filled_compilation_cache):
    """The self-check leaves compiled programs and matplotlib's font list in the cache."""
    folder = compilation_cache.directory(XLA_FLAGS)
    assert folder.parent == filled_compilation_cache
    assert compilation_cache.entries(folder) >= 50
    assert list((folder / compilation_cache.MATPLOTLIB).glob("fontlist-*.json"))


def test_each_machine_and_flag_set_has_its_own_folder(monkeypatch, tmp_path):
    """Another CPU or other XLA flags never share executables."""
    monkeypatch.setenv(compilation_cache.SETTING, str(tmp_path))
    here = compilation_cache.directory(XLA_FLAGS)
    assert compilation_cache.directory(XLA_FLAGS + " --xla_cpu_max_isa=SSE4_2") != here
    monkeypatch.setattr(compilation_cache, "_cpu_flags", lambda: "sse sse2")
    assert compilation_cache.directory(XLA_FLAGS) != here
    monkeypatch.setenv(compilation_cache.SETTING, "off")
    assert compilation_cache.directory(XLA_FLAGS) is None


def test_publish_renames_new_entries_and_keeps_existing_ones(own_cache, tmp_path):
    """Entries arrive whole (a rename) and are indexed; one already there is never overwritten;
    the entries folder cannot be listed."""
    staging, entries = tmp_path / "staging", own_cache / compilation_cache.ENTRIES
    (staging / "matplotlib").mkdir(parents=True)
    (staging / "jit_a-1-cache").write_bytes(b"new")
    (staging / "jit_b-2-cache").write_bytes(b"new")
    (staging / "matplotlib" / "fontlist-v1.json").write_text("{}")
    (staging / "notes.txt").write_text("not an entry")
    (entries / "jit_b-2-cache").write_bytes(b"old")
    assert compilation_cache.publish(staging, own_cache) == 2
    assert (entries / "jit_a-1-cache").read_bytes() == b"new"
    assert (entries / "jit_b-2-cache").read_bytes() == b"old"
    assert (own_cache / "matplotlib" / "fontlist-v1.json").exists()
    assert compilation_cache.names(own_cache) == ["jit_a-1-cache"]
    assert not (entries / "notes.txt").exists()
    assert entries.stat().st_mode & 0o777 == compilation_cache.UNLISTABLE


IDENTICAL = [SOLUTIONS[0], SOLUTIONS[1], next(v for v in ALTERNATIVES if v.name == "adapt_with_fori_loop"),
             next(v for v in WRONG if v.part == "adaptation_loss"),
             next(v for v in WRONG if v.part == "imaml_meta_gradient")]


@submissions.NEEDS_BUBBLEWRAP  # else no student's process uses the cache
@pytest.mark.parametrize("variant", IDENTICAL, ids=lambda v: v.name)
def test_grades_are_identical_with_and_without_the_cache(variant, grade_variant, tmp_path,
                                                         monkeypatch):
    """Every score, feedback line, evidence figure and margin is the same as compiling everything
    (margins differ between instruction sets, BENCHMARKS.md, so this would see other code)."""
    with_cache = grade_variant(variant)
    monkeypatch.setenv(compilation_cache.SETTING, "off")
    without = submissions.grade_submission(variant, tmp_path)
    assert without.to_json() | {"notebook": ""} == with_cache.to_json() | {"notebook": ""}
    assert [(c.name, c.passed, c.evidence, c.margins) for c in without.cases] == \
        [(c.name, c.passed, c.evidence, c.margins) for c in with_cache.cases]
