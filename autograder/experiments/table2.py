"""The paper's Table 2, reproduced: paper-scale meta-training of MAML, first-order MAML, Reptile,
iMAML and the pretrained baseline, then adaptation on unseen tasks.

Usage: python -m autograder.experiments.table2 [--steps N --out DIR]
       python -m autograder.experiments.table2 --methods maml --seeds 0-9 [--inner-lr 0.001]

Writes ``table2.json`` (mean squared error after 1, 5 and 10 steps per method, ``ci95``
half-widths over the evaluation tasks, training ``seconds``), ``table2.md`` beside the paper's
numbers, and ``table2.png``.

References:
  Finn, Abbeel and Levine, 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
  Networks", section 5.1.
Where adaptation blows up on some task (`maml_helpers.evaluation.diverged`: an infinite, NaN or
absurd error), the mean and interval are written as null and shown as "diverged";
``diverged_tasks`` counts those tasks. Networks start from the paper code's initialisation
(``--init flax`` for Flax's defaults). ``--seeds`` trains each method once per seed and prints one
row per run instead (a side experiment: it writes nothing).
"""

import argparse
import dataclasses
import json
import pathlib
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from autograder.experiments import methods

ROOT = pathlib.Path(__file__).resolve().parents[2]
METHODS = ["maml", "first_order", "reptile", "imaml", "pretrained"]
LABELS = {"maml": "MAML", "first_order": "first-order MAML", "reptile": "Reptile",
          "imaml": "iMAML", "pretrained": "pretrained, fine-tuned"}
PAPER = {"maml": {"1": 0.67, "5": 0.38, "10": 0.35}, "pretrained": {"1": 2.41, "5": 2.23, "10": 2.19}}


def evaluation_tasks(comparison):
    """The unseen tasks' ``(support, query)`` (the evaluation stream is disjoint from training)."""
    return evaluation.evaluation_tasks(
        jax.random.PRNGKey(comparison.eval_seed), comparison.eval_tasks,
        comparison.eval_k_shot, comparison.eval_query_points, comparison.meta.tasks)


def evaluate(loss, params, comparison):
    """``{"1": per-task query MSE, ...}`` after plain gradient descent on unseen tasks' support
    points."""
    support, query = evaluation_tasks(comparison)
    errors = evaluation.adaptation_errors(loss, params, methods.adapt, support, query,
                                          comparison.meta.inner_lr, comparison.eval_steps)
    return {str(steps): e for steps, e in errors.items()}


def paper_initialisation(params, key):
    """The paper's code's initialisation: kernels from a normal truncated at 2 std of 0.01,
    zero biases."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    return jax.tree_util.tree_unflatten(treedef, [
        0.01 * jax.random.truncated_normal(jax.random.fold_in(key, i), -2.0, 2.0, leaf.shape)
        if "kernel" in jax.tree_util.keystr(path) else jnp.zeros_like(leaf)
        for i, (path, leaf) in enumerate(leaves)])


def sharpness(loss, params, support, iterations=50):
    """Each task's support-loss Hessian eigenvalue of largest magnitude at ``params``, by power
    iteration on Hessian-vector products. Gradient descent with rate alpha is stable near
    ``params`` only along directions whose curvature is below 2 / alpha."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    def one_task(x, y):
        def gradient(v):
            return jax.flatten_util.ravel_pytree(jax.grad(loss)(unravel(v), x, y))[0]

        def hvp(v):
            return jax.jvp(gradient, (flat,), (v,))[1]

        def power_step(v, _):
            w = hvp(v)
            return w / jnp.linalg.norm(w), None

        v, _ = jax.lax.scan(power_step, jnp.ones_like(flat) / jnp.sqrt(flat.size), None,
                            length=iterations)
        return v @ hvp(v)

    return np.asarray(jax.jit(jax.vmap(one_task))(*support))


def run(comparison, names=METHODS, init="paper", log=print, on_trained=None):
    """Trains and evaluates each method; returns the ``table2.json`` dictionary.
    ``on_trained(method, loss, params)``, if given, sees each trained network."""
    model = methods.MLP(comparison.meta.features)
    loss = methods.square_error_loss(model)
    init_key, train_key = jax.random.split(jax.random.PRNGKey(comparison.seed))
    initial = model.init(init_key, jnp.zeros((1, 1)))
    if init == "paper":
        initial = paper_initialisation(initial, init_key)
    results = {method: {} for method in names}
    results.update(ci95={}, seconds={}, diverged_tasks={})
    for method in names:
        start = time.perf_counter()
        params = jax.block_until_ready(methods.train(
            method, loss, initial, train_key, comparison.meta.meta_steps, comparison))
        results["seconds"][method] = round(time.perf_counter() - start, 1)
        if on_trained is not None:
            on_trained(method, loss, params)
        errors = evaluate(loss, params, comparison)
        summary = {s: (None, None) if evaluation.diverged(e) else evaluation.mean_and_ci95(e)
                   for s, e in errors.items()}
        results[method] = {s: _rounded(mean) for s, (mean, _) in summary.items()}
        results["ci95"][method] = {s: _rounded(ci) for s, (_, ci) in summary.items()}
        results["diverged_tasks"][method] = {s: evaluation.diverged_count(e)
                                             for s, e in errors.items()}
        log(f"{method:<12} {results['seconds'][method]:7.1f} s  " + "  ".join(
            f"{s} steps {_cell(results, method, s)}" for s in results[method]))
    return results


def runs_table(comparison, seeds, names, init="paper", log=print):
    """Logs one markdown row per method and training seed (the evaluation tasks stay the same),
    with the sharpness of the trained network on those tasks' support points."""
    steps = [str(s) for s in comparison.eval_steps]
    support, _ = evaluation_tasks(comparison)
    log("| method | seed | " + " | ".join(_count(s, "step") for s in steps)
        + f" | sharpness: median, 99th percentile (2 / alpha = {2 / comparison.meta.inner_lr:g}) |")
    log("|---|---|" + "---|" * len(steps) + "---|")
    for seed in seeds:
        curvature = {}

        def measure(method, loss, params):
            eigenvalues = sharpness(loss, params, support)
            curvature[method] = f"{np.median(eigenvalues):.0f}, {np.percentile(eigenvalues, 99):.0f}"

        results = run(dataclasses.replace(comparison, seed=seed), names, init,
                      log=lambda _: None, on_trained=measure)
        for method in names:
            log(f"| {LABELS[method]} | {seed} | " + " | ".join(_cell(results, method, s) for s in steps)
                + f" | {curvature[method]} |")


def _rounded(value):
    return None if value is None else round(value, 4)


def _count(number, noun):
    return f"{number} {noun}" + ("" if int(number) == 1 else "s")


def _cell(results, method, steps):
    mean, ci = results[method][steps], results["ci95"][method][steps]
    if mean is None:
        return f"diverged ({_count(results['diverged_tasks'][method][steps], 'task')})"
    paper = PAPER.get(method, {}).get(steps)
    inside = "" if paper is None else " ✓" if abs(mean - paper) <= ci else " ✗"
    return f"{mean:.3f} ± {ci:.3f}{inside}"


def markdown(results, comparison):
    steps = [str(s) for s in comparison.eval_steps]
    lines = [f"Post-adaptation MSE on {comparison.eval_tasks} unseen sinusoid tasks, K = "
             f"{comparison.eval_k_shot} support points, {comparison.meta.meta_steps:,} meta-steps, "
             f"alpha = {comparison.meta.inner_lr} (± half-width of the 95% interval over tasks; ✓ or ✗: "
             "the paper's figure inside it or not; diverged: tasks where gradient descent blew up).",
             "",
             "| method | " + " | ".join(_count(s, "step") for s in steps) + " | paper (1/5/10) | training s |",
             "|---|" + "---|" * len(steps) + "---|---|"]
    for method in METHODS:
        cells = [_cell(results, method, s) for s in steps]
        paper = " / ".join(f"{PAPER[method][s]:.2f}" for s in steps) if method in PAPER else "-"
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells)
                     + f" | {paper} | {results['seconds'][method]:.0f} |")
    return "\n".join(lines) + "\n"


def plot(results, comparison, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from maml_helpers.plots import plot_adaptation_curves

    curves = {LABELS[m]: {s: (results[m][str(s)], results["ci95"][m][str(s)])
                          for s in comparison.eval_steps if results[m][str(s)] is not None}
              for m in METHODS}
    curves = {label: curve for label, curve in curves.items() if curve}  # diverged everywhere
    paper = {LABELS[m]: {int(s): v for s, v in PAPER[m].items()} for m in PAPER}
    figure = plt.figure(figsize=(8, 4))
    ax = plot_adaptation_curves(curves, reference=paper,
                                title=f"Sinusoid regression, K = {comparison.eval_k_shot} "
                                      "(cells that diverged are not drawn)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="meta-steps (default: 70,000)")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="where to write (default: results/, for the paper-scale run only)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS,
                        help="only these methods: prints their results, writes nothing")
    parser.add_argument("--seeds", type=_seed_range, default=None,
                        help="e.g. 0-9: one run per training seed, printed, nothing written")
    parser.add_argument("--init", choices=["paper", "flax"], default="paper",
                        help="the paper code's initialisation (default) or Flax's")
    parser.add_argument("--inner-lr", type=float, default=None,
                        help="alpha for training and evaluation (default: config, 0.01)")
    args = parser.parse_args(argv)
    comparison = ComparisonConfig()
    meta = comparison.meta
    if args.steps is not None:
        meta = dataclasses.replace(meta, meta_steps=args.steps)
    if args.inner_lr is not None:
        meta = dataclasses.replace(meta, inner_lr=args.inner_lr)
    comparison = dataclasses.replace(comparison, meta=meta)
    if args.seeds is not None:
        runs_table(comparison, args.seeds, args.methods, args.init)
        return
    start = time.perf_counter()
    results = run(comparison, args.methods, args.init)
    if args.methods != METHODS or args.init != "paper" or args.inner_lr is not None:
        return  # a side experiment: the committed table is the default, complete run
    out = args.out
    if out is None:
        if args.steps is not None:
            return  # a shorter run never replaces the committed paper-scale table
        out = ROOT / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "table2.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "table2.md").write_text(markdown(results, comparison))
    plot(results, comparison, out / "table2.png")
    print(f"wrote {out}/table2.json, table2.md, table2.png in {time.perf_counter() - start:.0f} s")


def _seed_range(text):
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


if __name__ == "__main__":
    main()
