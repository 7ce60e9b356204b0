"""iMAML's settings for Table 2, chosen by a declared search on validation tasks.

Usage: python -m experiments.imaml_sweep [--seeds 0] [--grid LAM:RATE:STEPS ...] [--steps N]
       [--jobs N] [--out DIR]

iMAML's paper gives no protocol for sinusoid regression, so its proximal strength ``lam``, the
rate and number of gradient steps on its inner problem ``L(phi) + lam / 2 ||phi - theta||^2``
are chosen here. Each setting of `GRID` (or ``--grid``) trains iMAML at Table 2's scale (70,000
meta-steps of 25 tasks, Adam 1e-3, 5 CG iterations) and is scored by its mean validation error
after 1, 5 and 10 test-time steps of its own inner rate, as Table 2 adapts every method. The
evaluation's tasks are never used. Prints one
markdown row per setting with the trained network's support-loss sharpness and, with ``--out``,
writes ``imaml_search.json`` and ``imaml_search.md`` there; the best setting is what
`ComparisonConfig.imaml` declares.
"""

import argparse
import dataclasses
import json
import pathlib

import numpy as np
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from experiments import table2

# (lam, inner rate, inner steps). GD on the proximal problem converges where the rate is below
# 2 / (lam + sharpness) and 1 - rate * lam, raised to the number of steps, is small: the
# meta-gradient assumes phi is the proximal point. Networks trained at these settings have
# sharpness up to a few thousand, so rates stay at or below 1e-3 and steps at 10 (the table's
# time budget allows about 3 ms per meta-step for iMAML).
GRID = [(1000.0, 0.001, 5), (1000.0, 0.0005, 10), (1000.0, 0.0003, 10), (2000.0, 0.0002, 10),
        (500.0, 0.0003, 10)]


def search(comparison, grid, seeds, jobs=None):
    """One row per (setting, seed): the setting, its test rate (its own inner rate), the mean
    validation error after each step count (None where a task diverged) and the count of
    diverged tasks, its score (the mean of the three), training seconds and sharpness."""
    runs = [table2.Run("imaml", seed, configured(comparison, *setting), sharpness=True,
                       on_validation=True) for setting in grid for seed in seeds]
    outcomes = table2.run_all(runs, jobs)
    rows = []
    for run_, outcome in zip(runs, outcomes):
        errors = outcome["errors"].values()
        means = [None if evaluation.diverged(e) else round(float(np.mean(e)), 4) for e in errors]
        rows.append({"lam": run_.comparison.imaml_lam, "inner_lr": run_.comparison.imaml.inner_lr,
                     "inner_steps": run_.comparison.imaml.inner_steps, "seed": run_.seed,
                     "test_lr": outcome["test_lr"], "validation": means,
                     "diverged_tasks": [evaluation.diverged_count(e) for e in errors],
                     "score": None if None in means else round(float(np.mean(means)), 4),
                     "seconds": round(outcome["seconds"], 1), "sharpness": outcome["sharpness"]})
    return rows


def configured(comparison, lam, inner_lr, inner_steps):
    """``comparison`` with iMAML's setting, its test-time steps at its own inner rate."""
    return dataclasses.replace(comparison, imaml_lam=lam, imaml=dataclasses.replace(
        comparison.imaml, inner_lr=inner_lr, inner_steps=inner_steps, test_lr=inner_lr))


def best(rows):
    """The setting with the lowest mean score over its seeds; a diverged task in any seed
    disqualifies the setting."""
    scores = {}
    for row in rows:
        scores.setdefault((row["lam"], row["inner_lr"], row["inner_steps"]), []).append(row["score"])
    finite = {s: np.mean(v) for s, v in scores.items() if None not in v}
    return min(finite, key=finite.get) if finite else None


def markdown(rows, comparison):
    chosen = best(rows)
    lines = [f"iMAML on {comparison.validation_tasks:,} validation tasks (seed "
             f"{comparison.validation_seed}, apart from the evaluation's), "
             f"{comparison.imaml.meta_steps:,} meta-steps: mean query MSE after 1 / 5 / 10 "
             "test-time steps of the setting's own inner rate. Chosen (bold): the lowest mean of "
             "the three; a setting with a diverged task is out. Sharpness: the largest eigenvalue "
             "of each validation task's support-loss Hessian; steps of rate r are stable below "
             "2 / r.", "",
             "| lam | inner rate | inner steps | seed | test rate | validation MSE 1 / 5 / 10 | "
             "mean | training s | sharpness: median, 99th percentile |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        setting = (row["lam"], row["inner_lr"], row["inner_steps"])
        mark = "**" if setting == chosen else ""
        errors = " / ".join(f"diverged ({table2._count(n, 'task')})" if e is None else f"{e:.3f}"
                            for e, n in zip(row["validation"], row["diverged_tasks"]))
        lines.append(f"| {mark}{row['lam']:g}{mark} | {row['inner_lr']:g} | {row['inner_steps']} | "
                     f"{row['seed']} | {row['test_lr']:g} | {errors} | "
                     f"{_number(row['score'])} | {row['seconds']:.0f} | "
                     "{:.0f}, {:.0f} |".format(*row["sharpness"]))
    lines += ["", f"Chosen: lam = {chosen[0]:g}, inner rate {chosen[1]:g}, {chosen[2]} inner steps."
              if chosen else "No setting stayed finite."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=table2._seed_range, default=[0], help="e.g. 0-4")
    parser.add_argument("--grid", nargs="+", type=_setting, default=GRID,
                        help="settings as LAM:RATE:STEPS (default: GRID)")
    parser.add_argument("--steps", type=int, default=None, help="meta-steps (default: 70,000)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="write imaml_search.json and .md there")
    args = parser.parse_args(argv)
    comparison = table2.overridden(ComparisonConfig(), args.steps)
    rows = search(comparison, args.grid, args.seeds, args.jobs)
    text = markdown(rows, comparison)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "imaml_search.json").write_text(json.dumps(
            {"rows": rows, "chosen": best(rows), "grid": [list(s) for s in args.grid],
             "meta_steps": comparison.imaml.meta_steps,
             "validation_tasks": comparison.validation_tasks,
             "validation_seed": comparison.validation_seed}, indent=1) + "\n")
        (args.out / "imaml_search.md").write_text(text)


def _number(value):
    return "-" if value is None else f"{value:.3f}"


def _setting(text):
    lam, rate, steps = text.split(":")
    return float(lam), float(rate), int(steps)


if __name__ == "__main__":
    main()
