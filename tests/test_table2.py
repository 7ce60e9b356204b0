"""The Table 2 reproduction's plumbing, at toy scale (the paper-scale run is `make table2`)."""

import dataclasses
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from experiments import imaml_sweep, methods, table2

TOY = dataclasses.replace(table2.overridden(ComparisonConfig(), steps=3), eval_tasks=20,
                          eval_query_points=10, validation_tasks=20, seeds=(0, 1, 2))


@pytest.fixture(scope="module")
def toy_results():
    # Flax's initialisation: after 3 steps from the paper's tiny one every seed predicts about 0.
    return table2.run(TOY, ["maml", "pretrained"], init="flax", jobs=2, log=lambda _: None)


def test_results_have_the_issue_s_json_form(toy_results):
    """Means, ci95 half-widths, diverged-task counts and each seed's mean, keyed by method and
    "1"/"5"/"10"; training seconds per method and the command's total; each seed's test rate (the
    baseline's tuned, with its validation scores); the protocol."""
    steps = {"1", "5", "10"}
    for method in ("maml", "pretrained"):
        for field in (toy_results[method], toy_results["ci95"][method],
                      toy_results["diverged_tasks"][method], toy_results["per_seed"][method],
                      toy_results["per_seed_diverged_tasks"][method]):
            assert set(field) == steps
        assert toy_results["seconds"][method] > 0
        for s in steps:
            per_seed = toy_results["per_seed"][method][s]
            assert len(per_seed) == 3 and len(set(per_seed)) == 3  # three different trainings
            assert toy_results[method][s] == pytest.approx(np.mean(per_seed), abs=1e-4)
            assert toy_results["ci95"][method][s] > 0
    assert toy_results["seconds"]["total"] > 0
    assert toy_results["test_lr"]["maml"] == [0.001] * 3
    assert all(rate in TOY.test_lr_grid for rate in toy_results["test_lr"]["pretrained"])
    assert "maml" not in toy_results["validation"]
    for seed_scores in toy_results["validation"]["pretrained"]:
        assert set(seed_scores) == {str(rate) for rate in TOY.test_lr_grid}
    protocol = toy_results["protocol"]
    assert protocol["seeds"] == [0, 1, 2]
    assert (protocol["eval_k_shot"], protocol["eval_tasks"], protocol["eval_steps"]) == (
        5, 20, [1, 5, 10])
    assert protocol["methods"]["maml"]["inner_lr"] == 0.001
    assert protocol["methods"]["reptile"]["minibatch"] == 10
    assert {p["meta_steps"] for p in protocol["methods"].values()} == {3}


def test_a_seed_trains_the_same_network_in_any_worker(toy_results):
    """A run is a function of its method and seed: the same seed alone, on one worker, gives the
    same per-seed means (process pool order and core pinning do not matter)."""
    alone = table2.run(dataclasses.replace(TOY, seeds=(1,)), ["maml"], init="flax", jobs=1,
                       log=lambda _: None)
    for s in ("1", "5", "10"):
        assert alone["per_seed"]["maml"][s] == [toy_results["per_seed"]["maml"][s][1]]


def test_each_method_s_declared_protocol_is_its_authors():
    """MAML and first-order MAML as cbfinn/maml's sinusoid command (alpha = 0.001 in training and
    at test time, 70,000 meta-steps of 25 tasks, K = 10, Adam 1e-3); Reptile as its sine demo
    (30,000 iterations of one task of 50 points, one epoch of SGD at 0.02 in minibatches of 10,
    outer step 0.1 annealed, test steps of 0.02); the baseline's test rate tuned, iMAML's its own
    inner rate;
    evaluation on 1,000 tasks at K = 5 after 1/5/10 steps, seeds 0-4."""
    declared = ComparisonConfig()
    for method in ("maml", "first_order"):
        p = declared.protocol(method)
        assert (p.inner_lr, p.inner_steps, p.test_lr, p.meta_steps, p.tasks_per_step,
                p.points_per_task, p.outer, p.outer_lr) == (0.001, 1, 0.001, 70_000, 25, 20, "adam", 1e-3)
    r = declared.reptile
    assert (r.meta_steps, r.tasks_per_step, r.points_per_task, r.inner_lr, r.inner_steps,
            declared.reptile_minibatch, r.outer, r.outer_lr, r.test_lr) == (
        30_000, 1, 50, 0.02, 5, 10, "interpolate", 0.1, 0.02)
    assert r.inner_steps * declared.reptile_minibatch == r.points_per_task  # one epoch
    assert declared.pretrained.test_lr is None
    assert declared.imaml.test_lr == declared.imaml.inner_lr  # its own inner rate
    assert (declared.eval_k_shot, declared.eval_tasks, declared.eval_steps, declared.seeds) == (
        5, 1_000, (1, 5, 10), (0, 1, 2, 3, 4))
    assert declared.validation_seed != declared.eval_seed


def test_the_declared_imaml_setting_is_the_one_its_validation_search_chose():
    """`ComparisonConfig` declares the (lam, inner rate, inner steps) that
    `experiments.imaml_sweep` scored best on validation tasks (results/imaml_search.json), at the
    table's meta-steps and on the declared validation tasks."""
    search = json.loads((pathlib.Path(__file__).parents[1] / "results" / "imaml_search.json").read_text())
    declared = ComparisonConfig()
    assert search["chosen"] == [declared.imaml_lam, declared.imaml.inner_lr, declared.imaml.inner_steps]
    assert (search["meta_steps"], search["validation_tasks"], search["validation_seed"]) == (
        declared.imaml.meta_steps, declared.validation_tasks, declared.validation_seed)
    assert imaml_sweep.best(search["rows"]) == tuple(search["chosen"])


def test_the_tuned_rate_is_the_one_with_the_lowest_validation_error():
    """Least squares y = 2x from w = 0: one step of rate a leaves w = 2 (1 - (1 - 2a)^k) after k
    steps (loss mean((w x - y)^2) with x = 1), so 0.5 is exact at every k; 1.5 diverges; 0.1
    converges slowly. The tuned rate is 0.5 and the diverged rate scores None."""
    def loss(params, x, y):
        return jnp.mean((params * x - y) ** 2)

    x = jnp.ones((4, 3, 1))
    support = query = (x, 2 * x)
    rate, scores = evaluation.tuned_rate(loss, jnp.zeros(()), methods.adapt, support, query,
                                         (0.1, 0.5, 1.5), (1, 5, 10))
    assert rate == 0.5
    assert scores[0.5] == [0.0, 0.0, 0.0]
    assert scores[1.5] is None  # the error doubles each step: 4 * 2^10 squared after 10
    expected = [4 * (1 - 0.2) ** (2 * k) for k in (1, 5, 10)]
    np.testing.assert_allclose(scores[0.1], expected, rtol=1e-5)  # float32, exact otherwise


def test_reptile_s_demo_iteration_is_one_epoch_of_sgd_then_interpolation():
    """On loss(p) = mean((p - y)^2) / 2 over a minibatch, a step of rate a moves p to
    p - a (p - mean(y_batch)): after the epoch over two minibatches, theta moves eps of the way."""
    def loss(params, x, y):
        return jnp.mean((params - y) ** 2) / 2

    y = jnp.array([[1.0], [3.0], [10.0], [20.0]])
    got = methods.reptile_epoch_update(loss, jnp.array(0.0), jnp.zeros((4, 1)), y, 0.5, 2, 0.1)
    phi = 0.0
    for batch in ([1.0, 3.0], [10.0, 20.0]):
        phi = phi - 0.5 * (phi - np.mean(batch))
    assert float(got) == pytest.approx(0.1 * phi)


def test_reptile_s_outer_step_anneals_linearly_to_zero():
    """0.1 at the first iteration, 0.05 halfway, 0 at the end, as the demo's schedule."""
    schedule = methods.linearly_annealed(0.1, 30_000)
    assert [float(schedule(i)) for i in (0, 15_000, 30_000)] == pytest.approx([0.1, 0.05, 0.0])


def test_the_interval_is_a_t_interval_over_seeds_when_tasks_agree():
    """Seed means 1, 2, 3 on identical tasks: 2 ± t(0.975, 2) * 1 / sqrt(3) = 2 ± 2.484."""
    errors = np.repeat([[1.0], [2.0], [3.0]], 50, axis=1)
    mean, half_width = table2.seed_interval(errors)
    assert mean == 2.0
    assert half_width == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)


def test_with_one_seed_the_interval_is_the_one_over_tasks():
    """One seed: the normal interval over its tasks, as before seeds were added."""
    errors = np.random.default_rng(0).gamma(2.0, size=(1, 400))
    assert table2.seed_interval(errors) == pytest.approx(evaluation.mean_and_ci95(errors[0]))


def test_the_interval_covers_the_expected_error_95_percent_of_the_time():
    """Simulated tables, error = 1 + seed effect + task effect + noise, with tasks shared by the
    seeds as in Table 2: the interval covers 1 in about 95% of 2,000 tables (binomial sd 0.5%),
    where an interval over tasks alone, blind to the seeds, covers it far less often."""
    rng = np.random.default_rng(0)
    seeds, tasks, tables = 5, 200, 2_000
    covered = covered_by_tasks_alone = 0
    for _ in range(tables):
        errors = (1 + rng.normal(0, 0.15, (seeds, 1)) + rng.normal(0, 0.5, (1, tasks))
                  + rng.normal(0, 0.3, (seeds, tasks)))
        mean, half_width = table2.seed_interval(errors)
        covered += abs(mean - 1) <= half_width
        _, task_half_width = evaluation.mean_and_ci95(errors.mean(axis=0))
        covered_by_tasks_alone += abs(mean - 1) <= task_half_width
    assert 0.93 <= covered / tables <= 0.985  # the sum of two variances: slightly conservative
    assert covered_by_tasks_alone / tables < 0.8


def test_diverged_tasks_are_counted_and_hide_the_mean():
    """Infinite, NaN and absurd errors count as diverged; finite ones do not."""
    errors = np.array([0.5, np.inf, np.nan, 2 * evaluation.DIVERGED, evaluation.DIVERGED])
    assert evaluation.diverged_count(errors) == 3
    assert evaluation.diverged(errors) and not evaluation.diverged(errors[[0, 4]])


def test_markdown_marks_whether_the_paper_lies_inside_the_interval():
    """A paper figure inside mean ± ci gets ✓, one outside gets ✗, a blown-up cell its count of
    tasks and of seeds."""
    results = {"maml": {"1": 0.66, "5": 0.50, "10": None},
               "ci95": {"maml": {"1": 0.02, "5": 0.05, "10": None}},
               "diverged_tasks": {"maml": {"1": 0, "5": 0, "10": 3}},
               "per_seed_diverged_tasks": {"maml": {"1": [0, 0], "5": [0, 0], "10": [0, 3]}},
               "protocol": {"seeds": [0, 1]}}
    assert table2._cell(results, "maml", "1") == "0.660 ± 0.020 ✓"
    assert table2._cell(results, "maml", "5") == "0.500 ± 0.050 ✗"
    assert table2._cell(results, "maml", "10") == "diverged (3 tasks in 1 of 2 seeds)"


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


def test_only_the_declared_protocol_or_an_explicit_out_writes_files(tmp_path, monkeypatch):
    """`--steps N` or `--inner-lr 0.01` alone writes nothing (only the declared protocol replaces
    the committed table); with `--out` they write there; the default run writes results/; the
    markdown shows each seed's row, the seeds' range and divergence counts."""
    seeds = [0, 1]
    results = {method: {"1": 1.0, "5": 0.5, "10": None} for method in table2.METHODS}
    results.update(
        ci95={m: {"1": 0.1, "5": 0.1, "10": None} for m in table2.METHODS},
        per_seed={m: {"1": [0.9, 1.1], "5": [0.4, 0.6], "10": [0.3, None]} for m in table2.METHODS},
        per_seed_diverged_tasks={m: {"1": [0, 0], "5": [0, 0], "10": [0, 2]} for m in table2.METHODS},
        seconds={**{m: 1.0 for m in table2.METHODS}, "total": 9.0},
        diverged_tasks={m: {"1": 0, "5": 0, "10": 2} for m in table2.METHODS},
        protocol={"seeds": seeds})
    calls = []

    def fake_run(comparison, names, init, jobs, sharpness):
        calls.append(comparison)
        return results

    monkeypatch.setattr(table2, "run", fake_run)
    (tmp_path / "source" / "maml").mkdir(parents=True)  # a course root: results/ goes there
    (tmp_path / "nbgrader_config.py").touch()
    monkeypatch.chdir(tmp_path)
    table2.main(["--steps", "2"])
    table2.main(["--inner-lr", "0.01"])
    assert not (tmp_path / "results").exists()
    assert calls[1].maml.inner_lr == calls[1].maml.test_lr == calls[1].first_order.test_lr == 0.01
    assert calls[1].reptile == ComparisonConfig().reptile and calls[1].seeds == (0, 1, 2, 3, 4)
    table2.main(["--inner-lr", "0.01", "--seeds", "0-1", "--out", str(tmp_path / "alpha")])
    assert json.loads((tmp_path / "alpha" / "table2.json").read_text()) == results
    assert calls[2].seeds == (0, 1)
    table2.main([])
    assert calls[3] == ComparisonConfig()
    assert {p.name for p in (tmp_path / "results").iterdir()} == {
        "table2.json", "table2.md", "table2.png"}
    table = (tmp_path / "results" / "table2.md").read_text()
    assert "diverged (2 tasks in 1 of 2 seeds)" in table
    assert "1.000 ± 0.100 (0.90–1.10)" in table
    assert "| MAML | 1 | - | 1.100 | 0.600 | diverged (2 tasks) |" in table
    assert "openai/supervised-reptile reptile-sinewaves-demo: 5 SGD steps of 0.02" in table
