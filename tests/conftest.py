"""Shared fixtures: grading submissions once per test session."""

import pytest
import submissions

from autograder.grade import grade_notebook


@pytest.fixture(scope="session")
def grade_variant(tmp_path_factory):
    """Grades the release answered with the solution except a variant's cells (cached)."""
    cache = {}

    def grade(variant):
        if variant.name not in cache:
            path = tmp_path_factory.mktemp(variant.name) / f"{variant.notebook}.ipynb"
            submissions.write(submissions.submission(variant.cells, notebook=variant.notebook), path)
            cache[variant.name] = grade_notebook(path)
        return cache[variant.name]

    return grade
