"""The paper's Table 2, reproduced: paper-scale meta-training of MAML, first-order MAML, Reptile,
iMAML and the pretrained baseline, then adaptation on unseen tasks.

Usage: python -m autograder.experiments.table2 [--steps N] [--out results/]

Writes ``table2.json`` (mean squared error after 1, 5 and 10 steps per method, ``ci95``
half-widths over the evaluation tasks, training ``seconds``), ``table2.md`` beside the paper's
numbers, and ``table2.png``.

References:
  Finn, Abbeel and Levine, 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
  Networks", section 5.1.
"""

import argparse
import dataclasses
import json
import pathlib
import time

import jax
import jax.numpy as jnp
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from autograder.experiments import methods

ROOT = pathlib.Path(__file__).resolve().parents[2]
METHODS = ["maml", "first_order", "reptile", "imaml", "pretrained"]
LABELS = {"maml": "MAML", "first_order": "first-order MAML", "reptile": "Reptile",
          "imaml": "iMAML", "pretrained": "pretrained, fine-tuned"}
PAPER = {"maml": {"1": 0.67, "5": 0.38, "10": 0.35}, "pretrained": {"1": 2.41, "5": 2.23, "10": 2.19}}


def evaluate(loss, params, comparison):
    """``{"1": per-task query MSE, ...}`` after plain gradient descent on unseen tasks' support
    points (the evaluation stream is disjoint from the training one)."""
    support, query = evaluation.evaluation_tasks(
        jax.random.PRNGKey(comparison.seed + 1_000_003), comparison.eval_tasks,
        comparison.eval_k_shot, comparison.eval_query_points, comparison.meta.tasks)
    errors = evaluation.adaptation_errors(loss, params, methods.adapt, support, query,
                                          comparison.meta.inner_lr, comparison.eval_steps)
    return {str(steps): e for steps, e in errors.items()}


def run(comparison, log=print):
    model = methods.MLP(comparison.meta.features)
    loss = methods.square_error_loss(model)
    init_key, train_key = jax.random.split(jax.random.PRNGKey(comparison.seed))
    initial = model.init(init_key, jnp.zeros((1, 1)))
    results = {method: {} for method in METHODS}
    results.update(ci95={}, seconds={})
    for method in METHODS:
        start = time.perf_counter()
        params = jax.block_until_ready(methods.train(
            method, loss, initial, train_key, comparison.meta.meta_steps, comparison))
        results["seconds"][method] = round(time.perf_counter() - start, 1)
        errors = evaluate(loss, params, comparison)
        summary = {s: evaluation.mean_and_ci95(e) for s, e in errors.items()}
        results[method] = {s: round(mean, 4) for s, (mean, _) in summary.items()}
        results["ci95"][method] = {s: round(ci, 4) for s, (_, ci) in summary.items()}
        log(f"{method:<12} {results['seconds'][method]:7.1f} s  " + "  ".join(
            f"{s} steps {m:.3f} ± {results['ci95'][method][s]:.3f}"
            for s, m in results[method].items()))
    return results


def markdown(results, comparison):
    steps = [str(s) for s in comparison.eval_steps]
    lines = [f"Post-adaptation MSE on {comparison.eval_tasks} unseen sinusoid tasks, K = "
             f"{comparison.eval_k_shot} support points, {comparison.meta.meta_steps:,} meta-steps "
             "(± half-width of the 95% interval over tasks).", "",
             "| method | " + " | ".join(f"{s} steps" for s in steps) + " | paper (1/5/10) | training s |",
             "|---|" + "---|" * len(steps) + "---|---|"]
    for method in METHODS:
        cells = [f"{results[method][s]:.3f} ± {results['ci95'][method][s]:.3f}" for s in steps]
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
                          for s in comparison.eval_steps} for m in METHODS}
    paper = {LABELS[m]: {int(s): v for s, v in PAPER[m].items()} for m in PAPER}
    figure = plt.figure(figsize=(6, 4))
    plot_adaptation_curves(curves, reference=paper,
                           title=f"Sinusoid regression, K = {comparison.eval_k_shot}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="meta-steps (default: 70,000)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    comparison = ComparisonConfig()
    if args.steps is not None:
        comparison = dataclasses.replace(
            comparison, meta=dataclasses.replace(comparison.meta, meta_steps=args.steps))
    start = time.perf_counter()
    results = run(comparison)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table2.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "table2.md").write_text(markdown(results, comparison))
    plot(results, comparison, args.out / "table2.png")
    print(f"wrote {args.out}/table2.json, table2.md, table2.png in "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
