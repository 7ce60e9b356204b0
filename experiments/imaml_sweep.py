"""iMAML's proximal strength and inner rate for Table 2's alpha: a sweep at paper scale.

Usage: python -m experiments.imaml_sweep [--seeds 0] [--grid LAM:RATE ...] [--steps N]
       [--jobs N]

Trains iMAML once per seed and (lam, inner rate) of `GRID` (or ``--grid``) under Table 2's
protocol otherwise, then scores each network two ways on the evaluation tasks after 1, 5 and 10
steps: plain gradient descent with rate alpha (what Table 2 does for every method) and iMAML's own
adaptation, gradient descent on the proximal problem ``L(phi) + lam / 2 ||phi - theta||^2`` with
its training rate. Prints one markdown row per setting, with the trained network's support-loss
sharpness.
"""

import argparse
import dataclasses

import jax
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from experiments import methods, table2

# (lam, inner_lr): inner_lr = 1 / lam makes each proximal step theta - grad L(phi) / lam, an
# implicit step of 1 / lam; the declared setting is lam = 1 / alpha.
GRID = [(1000.0, 0.001), (500.0, 0.002), (2000.0, 0.0005), (1000.0, 0.0005), (300.0, 0.001),
        (100.0, 0.001)]


def proximal_adapt(lam, rate):
    """``adapt(loss, theta, x, y, alpha, steps)`` as iMAML adapts: ``steps`` gradient steps of
    ``rate`` on ``L(phi) + lam / 2 ||phi - theta||^2`` from ``theta`` (``alpha`` is unused)."""

    def adapt(loss, theta, x, y, alpha, steps):
        phi = theta
        for _ in range(steps):
            gradient = jax.grad(loss)(phi, x, y)
            phi = jax.tree_util.tree_map(lambda p, g, t: p - rate * (g + lam * (p - t)),
                                         phi, gradient, theta)
        return phi

    return adapt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=table2._seed_range, default=[0], help="e.g. 0-4")
    parser.add_argument("--grid", nargs="+", type=_setting, default=GRID,
                        help="(lam, inner rate) settings as LAM:RATE (default: GRID)")
    parser.add_argument("--steps", type=int, default=None, help="meta-steps (default: 70,000)")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    declared = ComparisonConfig()
    meta = declared.meta if args.steps is None else dataclasses.replace(
        declared.meta, meta_steps=args.steps)
    settings = [(lam, rate, seed) for lam, rate in args.grid for seed in args.seeds]
    runs = [table2.Run("imaml", seed, dataclasses.replace(
        declared, meta=meta, imaml_lam=lam, imaml_inner_lr=rate), sharpness=True)
        for lam, rate, seed in settings]
    outcomes = table2.run_all(runs, args.jobs)
    steps = [str(s) for s in declared.eval_steps]
    loss = methods.square_error_loss(methods.MLP(meta.features))
    support, query = table2.evaluation_tasks(declared)
    print(f"iMAML, {meta.meta_steps:,} meta-steps, alpha = {meta.inner_lr}; "
          "query MSE (mean over tasks) after 1 / 5 / 10 steps:\n")
    print("| lam | inner rate | seed | plain gradient descent, rate alpha | iMAML's proximal descent | "
          "sharpness: median, 99th percentile |")
    print("|---|---|---|---|---|---|")
    for (lam, rate, seed), outcome in zip(settings, outcomes):
        own = evaluation.adaptation_errors(loss, outcome["params"], proximal_adapt(lam, rate),
                                           support, query, meta.inner_lr, declared.eval_steps)
        plain = " / ".join(table2._seed_cell(outcome["errors"][s]) for s in steps)
        proximal = " / ".join(table2._seed_cell(own[int(s)]) for s in steps)
        print(f"| {lam:g} | {rate:g} | {seed} | {plain} | {proximal} | "
              "{:.0f}, {:.0f} |".format(*outcome["sharpness"]))


def _setting(text):
    lam, _, rate = text.partition(":")
    return float(lam), float(rate)


if __name__ == "__main__":
    main()
