"""The Table 2 reproduction's plumbing, at toy scale (the paper-scale run is `make table2`)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from autograder.experiments import methods, table2

TOY = dataclasses.replace(
    ComparisonConfig(), meta=dataclasses.replace(ComparisonConfig().meta, meta_steps=3),
    eval_tasks=20, eval_query_points=10)


@pytest.fixture(scope="module")
def toy_results():
    return table2.run(TOY, ["maml", "pretrained"], log=lambda _: None)


def test_results_have_the_issue_s_json_form(toy_results):
    """Means, ci95 half-widths, seconds and diverged-task counts, keyed by method and "1"/"5"/"10"."""
    steps = {"1", "5", "10"}
    for method in ("maml", "pretrained"):
        assert set(toy_results[method]) == steps
        assert set(toy_results["ci95"][method]) == steps
        assert set(toy_results["diverged_tasks"][method]) == steps
        assert toy_results["seconds"][method] > 0
        for s in steps:
            assert toy_results[method][s] > 0 and toy_results["ci95"][method][s] > 0


def test_diverged_tasks_are_counted_and_hide_the_mean():
    """Infinite, NaN and absurd errors count as diverged; finite ones do not."""
    errors = np.array([0.5, np.inf, np.nan, 2 * evaluation.DIVERGED, evaluation.DIVERGED])
    assert evaluation.diverged_count(errors) == 3
    assert evaluation.diverged(errors) and not evaluation.diverged(errors[[0, 4]])


def test_markdown_marks_whether_the_paper_lies_inside_the_interval():
    """A paper figure inside mean ± ci gets ✓, one outside gets ✗, a blown-up cell its count."""
    results = {"maml": {"1": 0.66, "5": 0.50, "10": None},
               "ci95": {"maml": {"1": 0.02, "5": 0.05, "10": None}},
               "diverged_tasks": {"maml": {"1": 0, "5": 0, "10": 3}}}
    assert table2._cell(results, "maml", "1") == "0.660 ± 0.020 ✓"
    assert table2._cell(results, "maml", "5") == "0.500 ± 0.050 ✗"
    assert table2._cell(results, "maml", "10") == "diverged (3 tasks)"


def test_paper_initialisation_is_a_truncated_normal_of_std_0_01_with_zero_biases():
    """Kernels within two standard deviations of 0.01 (std 0.0088 after truncation), biases 0."""
    model = methods.MLP((40, 40))
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 1)))
    initial = table2.paper_initialisation(params, jax.random.PRNGKey(1))
    flat = jax.tree_util.tree_flatten_with_path(initial)[0]
    kernels = jnp.concatenate([leaf.ravel() for path, leaf in flat if "kernel" in str(path)])
    biases = [leaf for path, leaf in flat if "bias" in str(path)]
    assert kernels.size == 40 + 40 * 40 + 40
    assert float(jnp.abs(kernels).max()) <= 0.02
    assert float(kernels.std()) == pytest.approx(0.0088, rel=0.1)  # 1,680 draws: 2% sampling error
    assert all(not bias.any() for bias in biases)


def test_seed_ranges_parse():
    """"0-9" is ten seeds, "3" one."""
    assert table2._seed_range("0-9") == list(range(10))
    assert table2._seed_range("3") == [3]


def test_sharpness_is_the_largest_hessian_eigenvalue_of_each_task_s_support_loss():
    """On least squares, loss = mean((x w - y)^2), the Hessian is 2 X^T X / K: compare eigvalsh."""
    def loss(params, x, y):
        return jnp.mean((x @ params["w"] - y) ** 2)

    x = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 4)) * jnp.array([1.0, 2.0, 3.0])[:, None, None]
    y = jnp.zeros((3, 5))
    expected = [np.linalg.eigvalsh(2 * xi.T @ xi / 5)[-1] for xi in np.asarray(x)]
    found = table2.sharpness(loss, {"w": jnp.zeros(4)}, (x, y), iterations=200)
    np.testing.assert_allclose(found, expected, rtol=1e-4)  # float32 power iteration, 200 steps


def test_only_the_paper_scale_run_or_an_explicit_out_writes_files(tmp_path, monkeypatch):
    """`--steps N` alone writes nothing (a short run never replaces the committed table);
    with `--out` it writes there; the default run writes results/table2.json, .md and .png."""
    cells = {"1": 1.0, "5": 0.5, "10": None}
    results = {method: dict(cells) for method in table2.METHODS}
    results.update(ci95={m: {"1": 0.1, "5": 0.1, "10": None} for m in table2.METHODS},
                   seconds={m: 1.0 for m in table2.METHODS},
                   diverged_tasks={m: {"1": 0, "5": 0, "10": 2} for m in table2.METHODS})
    monkeypatch.setattr(table2, "run", lambda comparison, names, init: results)
    monkeypatch.setattr(table2, "ROOT", tmp_path)
    table2.main(["--steps", "2"])
    assert not (tmp_path / "results").exists()
    table2.main(["--steps", "2", "--out", str(tmp_path / "short")])
    assert json.loads((tmp_path / "short" / "table2.json").read_text()) == results
    table2.main([])
    assert {p.name for p in (tmp_path / "results").iterdir()} == {
        "table2.json", "table2.md", "table2.png"}
    assert "diverged (2 tasks)" in (tmp_path / "results" / "table2.md").read_text()
