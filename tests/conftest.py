"""Shared fixtures: grading submissions once per test session, one per core at a time."""

import concurrent.futures
import multiprocessing
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest
import submissions
from bank import Variant

from autograder.isolation import compilation_cache

_OWN_CACHE = pytest.StashKey[str]()

_VARIANTS_BY_MODULE = pytest.StashKey[dict]()


def pytest_collection_finish(session):
    """Notes, per test module, the variants its selected tests take as parameters."""
    by_module = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "grade_variant" not in item.fixturenames:
            continue
        module = by_module.setdefault(item.nodeid.split("::")[0], {})
        for value in callspec.params.values():
            if isinstance(value, Variant):
                module.setdefault(value.name, value)
    session.config.stash[_VARIANTS_BY_MODULE] = by_module


def pytest_configure(config):
    """Gradings in the tests use a compilation cache of the session's own, never the user's."""
    if compilation_cache.SETTING not in os.environ:
        folder = tempfile.mkdtemp(prefix="maml-tests-compilation-cache-")
        os.environ[compilation_cache.SETTING] = config.stash[_OWN_CACHE] = folder


def pytest_unconfigure(config):
    if _OWN_CACHE in config.stash:
        shutil.rmtree(config.stash[_OWN_CACHE], ignore_errors=True)


@pytest.fixture(scope="session")
def filled_compilation_cache():
    """The session's compilation cache after the self-check filled it, as a class's grading does."""
    completed = subprocess.run([sys.executable, "-m", "autograder", "--self-check"],
                               capture_output=True, text=True, cwd=submissions.ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return pathlib.Path(os.environ[compilation_cache.SETTING])


@pytest.fixture(scope="session")
def grade_variant(tmp_path_factory, pytestconfig, filled_compilation_cache):
    """Grades the release answered with the solution except a variant's cells (cached).

    The first time a test module asks, every variant its tests take as parameters is queued, and
    worker processes grade them one per core, up to four (grading runs pytest, which is not
    thread-safe); gradings of one module never overlap other modules' tests. Each worker grades in
    sandboxes that serve one notebook after another, as `autograder.batch`'s workers do.
    """
    by_module = pytestconfig.stash.get(_VARIANTS_BY_MODULE, {})
    # Each worker and its student process hold a JAX runtime: at most four, to bound memory.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(os.cpu_count() or 1, 4), mp_context=multiprocessing.get_context("spawn"))
    futures = {}

    def submit(variant):
        if variant.name not in futures:
            folder = tmp_path_factory.mktemp(variant.name)
            futures[variant.name] = pool.submit(submissions.grade_in_shared_sandboxes, variant,
                                                folder)
        return futures[variant.name]

    def grade(variant):
        for variants in by_module.values():
            if variant.name in variants:
                for queued in variants.values():
                    submit(queued)
        return submit(variant).result()

    yield grade
    pool.shutdown(cancel_futures=True)
