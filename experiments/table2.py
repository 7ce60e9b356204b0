"""The paper's Table 2, reproduced: paper-scale meta-training of MAML, first-order MAML, Reptile,
iMAML and the pretrained baseline from several training seeds, then adaptation on unseen tasks.

Usage: python -m experiments.table2                  (the declared protocol: results/)
       python -m experiments.table2 --inner-lr 0.01 --out DIR [--methods ...]
       [--seeds 0-9] [--steps N] [--init flax] [--sharpness] [--jobs N]

Each method trains and adapts by its own protocol, declared in `ComparisonConfig`: MAML and
first-order MAML as the paper's released code runs them, Reptile as its authors' sine-wave demo,
the pretrained baseline as the MAML paper describes it (its test-time rate tuned on validation
tasks), iMAML with the settings its validation search chose. Seeds 0-4. Each (method, seed) run
trains as one `jax.jit` over `jax.lax.scan` in a worker process pinned to one core. Writes
``table2.json`` (per method and step count the mean over seeds, ``ci95``, ``per_seed`` means,
``diverged_tasks``, ``test_lr`` and ``validation`` scores per seed, ``protocol``, ``seconds`` of
training per method and ``total``), ``table2.md`` and ``table2.png``; any other protocol prints
its table and writes only with ``--out``.

Where adaptation blows up on some task (`maml_helpers.evaluation.diverged`: an infinite, NaN or
absurd error), that seed's mean and the cell's are null, shown as "diverged" with the count.

References:
  Finn, Abbeel and Levine, 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
  Networks", section 5.1.
"""

import argparse
import concurrent.futures
import dataclasses
import functools
import json
import multiprocessing
import os
import pathlib
import time

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import scipy.stats
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig

from autograder.grading import course_root
from experiments import methods

METHODS = ["maml", "first_order", "reptile", "imaml", "pretrained"]
LABELS = {"maml": "MAML", "first_order": "first-order MAML", "reptile": "Reptile",
          "imaml": "iMAML", "pretrained": "pretrained, fine-tuned"}
PAPER = {"maml": {"1": 0.67, "5": 0.38, "10": 0.35}, "pretrained": {"1": 2.41, "5": 2.23, "10": 2.19}}


def evaluation_tasks(comparison):
    """The unseen tasks' ``(support, query)`` (the evaluation stream is disjoint from training)."""
    return _tasks(comparison, comparison.eval_seed, comparison.eval_tasks)


def validation_tasks(comparison):
    """Tasks for choosing tuned rates and settings, drawn apart from the evaluation's."""
    return _tasks(comparison, comparison.validation_seed, comparison.validation_tasks)


def _tasks(comparison, seed, num_tasks):
    return evaluation.evaluation_tasks(jax.random.PRNGKey(seed), num_tasks, comparison.eval_k_shot,
                                       comparison.eval_query_points, comparison.meta.tasks)


def evaluate(loss, params, comparison, rate, tasks=None):
    """``{"1": per-task query MSE, ...}`` after plain gradient descent at ``rate`` on unseen
    tasks' support points (``tasks``: the evaluation tasks unless given)."""
    support, query = tasks or evaluation_tasks(comparison)
    errors = evaluation.adaptation_errors(loss, params, methods.adapt, support, query, rate,
                                          comparison.eval_steps)
    return {str(steps): e for steps, e in errors.items()}


def tuned_rate(loss, params, comparison):
    """`evaluation.tuned_rate` over ``comparison.test_lr_grid`` on the validation tasks."""
    rate, scores = evaluation.tuned_rate(loss, params, methods.adapt, *validation_tasks(comparison),
                                         comparison.test_lr_grid, comparison.eval_steps)
    return rate, {r: None if means is None else [_rounded(m) for m in means]
                  for r, means in scores.items()}


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


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run: ``method`` from training seed ``seed`` under ``comparison``, scored on
    the evaluation tasks or, for a search, on the validation tasks (``on_validation``)."""

    method: str
    seed: int
    comparison: ComparisonConfig
    init: str = "paper"
    sharpness: bool = False
    on_validation: bool = False


# Milliseconds per meta-step of one run pinned to one core (benchmarks/seed_batching.py; Reptile's
# one-task iteration from `make table2`'s own timing), to start the longest runs first so that the
# cores finish together.
COST = {"imaml": 1.86, "reptile": 0.11, "maml": 0.41, "first_order": 0.22, "pretrained": 0.14}


def train_and_evaluate(run_):
    """Trains one run and scores it on the evaluation tasks (the validation tasks for a search) at
    its protocol's test rate, tuned on validation tasks where the protocol says so: ``{"seconds",
    "params", "test_lr", "errors": {steps: per-task query MSE}}``, ``"validation"`` where the rate
    was tuned and, if asked, ``"sharpness"``: the median and 99th percentile over the tasks."""
    loss, training = _training(run_.method, run_.comparison)
    model = methods.MLP(run_.comparison.meta.features)
    init_key, train_key = jax.random.split(jax.random.PRNGKey(run_.seed))
    initial = model.init(init_key, jnp.zeros((1, 1)))
    if run_.init == "paper":
        initial = paper_initialisation(initial, init_key)
    start = time.perf_counter()
    params = jax.block_until_ready(training(initial, train_key))
    outcome = {"seconds": time.perf_counter() - start, "params": jax.device_get(params)}
    rate = run_.comparison.protocol(run_.method).test_lr
    if rate is None:
        rate, outcome["validation"] = tuned_rate(loss, params, run_.comparison)
    tasks = (validation_tasks if run_.on_validation else evaluation_tasks)(run_.comparison)
    outcome.update(test_lr=rate, errors=evaluate(loss, params, run_.comparison, rate, tasks))
    if run_.sharpness:
        eigenvalues = sharpness(loss, params, tasks[0])
        outcome["sharpness"] = [float(np.round(np.median(eigenvalues))),  # nan if training blew up
                                float(np.round(np.percentile(eigenvalues, 99)))]
    return outcome


@functools.lru_cache(maxsize=None)
def _training(method, comparison):
    """``(loss, jitted training run)``, compiled once per process for each method and config; the
    loss is shared, so the evaluation compiles once per process too."""
    loss = _loss(comparison.meta.features)
    return loss, jax.jit(methods.training_run(method, loss, comparison.protocol(method).meta_steps,
                                              comparison))


@functools.lru_cache(maxsize=None)
def _loss(features):
    return methods.square_error_loss(methods.MLP(features))


def run_all(runs, jobs=None, on_done=lambda run_, outcome: None):
    """``[outcome of train_and_evaluate(run) for run in runs]``, on ``jobs`` worker processes
    (default: one per core), each pinned to one core: XLA's own threads slow these small steps
    down (one pinned process is 1.1x to 1.4x faster than an unpinned one, BENCHMARKS.md)."""
    jobs = jobs or len(_cores())
    order = sorted(range(len(runs)), key=lambda i: -COST[runs[i].method]
                   * runs[i].comparison.protocol(runs[i].method).meta_steps)
    outcomes = [None] * len(runs)
    context = multiprocessing.get_context("spawn")
    cores = context.Queue()
    for i in range(jobs):
        cores.put(_cores()[i % len(_cores())])
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_pin,
                                                initargs=(cores,)) as pool:
        futures = {pool.submit(train_and_evaluate, runs[i]): i for i in order}
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            outcomes[i] = future.result()
            on_done(runs[i], outcomes[i])
    return outcomes


def _cores():
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(
        range(os.cpu_count() or 1))


def _pin(cores):
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cores.get()})


def run(comparison, names=METHODS, init="paper", jobs=None, sharpness=False, log=print):
    """Trains every method from every seed of ``comparison.seeds`` and evaluates each run; returns
    the ``table2.json`` dictionary."""
    start = time.perf_counter()
    seeds = list(comparison.seeds)
    runs = [Run(method, seed, comparison, init, sharpness) for method in names for seed in seeds]

    def report(run_, outcome):
        log(f"{run_.method:<12} seed {run_.seed}  {outcome['seconds']:6.1f} s  " + "  ".join(
            f"{s} steps " + _seed_cell(outcome["errors"][s]) for s in outcome["errors"]))

    outcomes = dict(zip(((r.method, r.seed) for r in runs), run_all(runs, jobs, report)))
    steps = [str(s) for s in comparison.eval_steps]
    results = {method: {} for method in names}
    results.update(ci95={}, seconds={}, diverged_tasks={}, per_seed={}, per_seed_diverged_tasks={})
    for method in names:
        errors = {s: np.stack([outcomes[method, seed]["errors"][s] for seed in seeds]) for s in steps}
        results["per_seed"][method] = {s: [None if evaluation.diverged(e) else _rounded(
            float(np.mean(e))) for e in errors[s]] for s in steps}
        summary = {s: (None, None) if evaluation.diverged(errors[s]) else seed_interval(errors[s])
                   for s in steps}
        results[method] = {s: _rounded(mean) for s, (mean, _) in summary.items()}
        results["ci95"][method] = {s: _rounded(ci) for s, (_, ci) in summary.items()}
        results["diverged_tasks"][method] = {s: evaluation.diverged_count(errors[s]) for s in steps}
        results["per_seed_diverged_tasks"][method] = {
            s: [evaluation.diverged_count(e) for e in errors[s]] for s in steps}
        results["seconds"][method] = round(sum(outcomes[method, seed]["seconds"] for seed in seeds), 1)
        results.setdefault("test_lr", {})[method] = [outcomes[method, seed]["test_lr"] for seed in seeds]
        if "validation" in outcomes[method, seeds[0]]:
            results.setdefault("validation", {})[method] = [
                {str(rate): means for rate, means in outcomes[method, seed]["validation"].items()}
                for seed in seeds]
        if sharpness:
            results.setdefault("sharpness", {})[method] = [outcomes[method, seed]["sharpness"]
                                                           for seed in seeds]
    results["protocol"] = protocol(comparison, init)
    results["seconds"]["total"] = round(time.perf_counter() - start, 1)
    return results


def protocol(comparison, init="paper"):
    """What the table was computed under, declared in `ComparisonConfig` before running: the
    shared evaluation and each method's own `MethodProtocol`."""
    methods_ = {method: dataclasses.asdict(comparison.protocol(method)) for method in METHODS}
    methods_["reptile"]["minibatch"] = comparison.reptile_minibatch
    methods_["imaml"].update(lam=comparison.imaml_lam, cg_steps=comparison.imaml_cg_steps)
    return {"seeds": list(comparison.seeds), "features": list(comparison.meta.features),
            "eval_k_shot": comparison.eval_k_shot, "eval_tasks": comparison.eval_tasks,
            "eval_query_points": comparison.eval_query_points,
            "eval_steps": list(comparison.eval_steps), "init": init,
            "test_lr_grid": list(comparison.test_lr_grid),
            "validation_tasks": comparison.validation_tasks, "methods": methods_}


def protocol_text(comparison, method):
    """The protocol column: inner loop, outer update, length and batch, test-time rate."""
    p = comparison.protocol(method)
    if method == "pretrained":
        inner = "no inner loop"
    elif method == "reptile":
        inner = (f"{p.inner_steps} SGD steps of {p.inner_lr:g} (minibatches of "
                 f"{comparison.reptile_minibatch} of {p.points_per_task} points)")
    elif method == "imaml":
        inner = (f"lam {comparison.imaml_lam:g}, {p.inner_steps} steps of {p.inner_lr:g}, "
                 f"{comparison.imaml_cg_steps} CG")
    else:
        inner = f"{p.inner_steps} step of {p.inner_lr:g}" + (", first order" if method == "first_order" else "")
    outer = (f"Adam {p.outer_lr:g}" if p.outer == "adam"
             else f"outer step {p.outer_lr:g} annealed linearly to 0")
    test = f"test rate {p.test_lr:g}" if p.test_lr is not None else "test rate tuned on validation"
    return (f"{p.source}: {inner}; {outer}; {p.meta_steps:,} × {_count(p.tasks_per_step, 'task')}"
            f"; {test}")


def seed_interval(errors):
    r"""The mean over seeds of each seed's mean over tasks, and the half-width of its 95% interval.

    ``errors`` has shape ``(seeds, tasks)``: every seed is scored on the same tasks. Two sources of
    variation add up: training (a t-interval over the seeds' means, ``S - 1`` degrees of freedom)
    and the sample of tasks (a normal interval over the tasks' errors averaged over seeds):

    .. math:: h = \sqrt{\big(t_{0.975,\,S-1}\, s_{seeds} / \sqrt{S}\big)^2
       + \big(1.96\, s_{tasks} / \sqrt{T}\big)^2}

    With one seed only the second term remains.
    """
    errors = np.asarray(errors, dtype=np.float64)
    seeds, tasks = errors.shape
    seed_means = errors.mean(axis=1)
    _, task_term = evaluation.mean_and_ci95(errors.mean(axis=0))
    seed_term = 0.0
    if seeds > 1:
        seed_term = scipy.stats.t.ppf(0.975, seeds - 1) * seed_means.std(ddof=1) / np.sqrt(seeds)
    return float(seed_means.mean()), float(np.hypot(seed_term, task_term))


def _rounded(value):
    return None if value is None else round(value, 4)


def _count(number, noun):
    return f"{number} {noun}" + ("" if int(number) == 1 else "s")


def _cell(results, method, steps):
    mean, ci = results[method][steps], results["ci95"][method][steps]
    if mean is None:
        failed = sum(count > 0 for count in results["per_seed_diverged_tasks"][method][steps])
        return (f"diverged ({_count(results['diverged_tasks'][method][steps], 'task')} in "
                f"{failed} of {len(results['protocol']['seeds'])} seeds)")
    return f"{mean:.3f} ± {ci:.3f}{_inside(method, steps, mean, ci)}"


def _inside(method, steps, mean, ci):
    paper = PAPER.get(method, {}).get(steps)
    return "" if paper is None else " ✓" if abs(mean - paper) <= ci else " ✗"


def _seed_cell(errors):
    return (f"diverged ({_count(evaluation.diverged_count(errors), 'task')})"
            if evaluation.diverged(errors) else f"{np.mean(errors):.3f}")


def markdown(results, comparison):
    """The table (mean over seeds ± the 95% interval's half-width, and the seeds' range), then
    one row per training run."""
    steps = [str(s) for s in comparison.eval_steps]
    names = [m for m in METHODS if m in results]
    seeds = results["protocol"]["seeds"]
    header = "| " + " | ".join(_count(s, "step") for s in steps) + " |"
    lines = [f"Post-adaptation MSE on {comparison.eval_tasks:,} unseen sinusoid tasks, K = "
             f"{comparison.eval_k_shot} support points, each method trained and adapted by its own "
             f"protocol (the last column), training seeds {_seed_text(seeds)}. Each cell: the mean "
             "over seeds of each seed's mean over tasks, ± the half-width of its 95% interval "
             "(seeds and tasks; `seed_interval`), then the seeds' range; ✓ or ✗: the paper's "
             "figure inside the interval or not; diverged: tasks where gradient descent blew up.",
             "",
             "| method " + header + " paper (1/5/10) | training core-s | protocol |",
             "|---|" + "---|" * len(steps) + "---|---|---|"]
    for method in names:
        cells = []
        for s in steps:
            cell, values = _cell(results, method, s), results["per_seed"][method][s]
            if results[method][s] is not None and len(values) > 1:
                cell += f" ({min(values):.2f}–{max(values):.2f})"
            cells.append(cell)
        paper = " / ".join(f"{PAPER[method][s]:.2f}" for s in steps) if method in PAPER else "-"
        rates = sorted(set(results.get("test_lr", {}).get(method, [])))
        tuned = (f" (chosen: {', '.join(f'{r:g}' for r in rates)})"
                 if comparison.protocol(method).test_lr is None and rates else "")
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells)
                     + f" | {paper} | {results['seconds'][method]:.0f} | "
                     + protocol_text(comparison, method) + tuned + " |")
    lines += ["", f"The whole command took {results['seconds']['total'] / 60:.1f} min.", "",
              "Each training run (the mean over tasks):", ""]
    sharp = "sharpness" in results
    lines += ["| method | seed | test rate " + header
              + (" sharpness: median, 99th percentile |" if sharp else ""),
              "|---|---|---|" + "---|" * (len(steps) + sharp)]
    for method in names:
        for i, seed in enumerate(seeds):
            cells = [f"{value:.3f}" if value is not None else "diverged ({})".format(_count(
                results["per_seed_diverged_tasks"][method][s][i], "task"))
                for s, value in ((s, results["per_seed"][method][s][i]) for s in steps)]
            extra = " {:.0f}, {:.0f} |".format(*results["sharpness"][method][i]) if sharp else ""
            rate = results.get("test_lr", {}).get(method, [None] * len(seeds))[i]
            lines.append(f"| {LABELS[method]} | {seed} | {'-' if rate is None else f'{rate:g}'} | "
                         + " | ".join(cells) + " |" + extra)
    return "\n".join(lines) + "\n"


def _seed_text(seeds):
    return f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(
        seeds) > 1 else ", ".join(map(str, seeds))


def plot(results, comparison, path):
    """Each method's mean and interval over steps, each seed's mean as a faint dot beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from maml_helpers.plots import plot_adaptation_curves

    names = [m for m in METHODS if m in results]
    curves = {LABELS[m]: {s: (results[m][str(s)], results["ci95"][m][str(s)])
                          for s in comparison.eval_steps if results[m][str(s)] is not None}
              for m in names}
    curves = {label: curve for label, curve in curves.items() if curve}  # diverged everywhere
    paper = {LABELS[m]: {int(s): v for s, v in PAPER[m].items()} for m in PAPER if m in names}
    figure = plt.figure(figsize=(8, 4))
    ax = plot_adaptation_curves(curves, reference=paper, title=(
        f"Sinusoid regression, K = {comparison.eval_k_shot}, each method by its own protocol, "
        f"{len(results['protocol']['seeds'])} seeds (dots: each seed)"))
    colours = {bars.get_label(): bars.lines[0].get_color() for bars in ax.containers}
    for i, m in enumerate(names):
        for s in comparison.eval_steps:
            values = [v for v in results["per_seed"][m][str(s)] if v is not None]
            ax.scatter([s + 0.12 * (i - 2)] * len(values), values, s=9, alpha=0.5, zorder=3,
                       color=colours.get(LABELS[m], "grey"))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="meta-steps of every method (default: each protocol's)")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="where to write (default: results/, for the declared protocol only)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--seeds", type=_seed_range, default=None,
                        help="training seeds, e.g. 0-9 (default: the config's, 0-4)")
    parser.add_argument("--init", choices=["paper", "flax"], default="paper",
                        help="the paper code's initialisation (default) or Flax's")
    parser.add_argument("--inner-lr", type=float, default=None,
                        help="MAML's and first-order MAML's alpha, in training and at test time "
                             "(default: their protocol's, 0.001)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes, one core each (default: one per core)")
    parser.add_argument("--sharpness", action="store_true",
                        help="also measure each trained network's support-loss sharpness")
    args = parser.parse_args(argv)
    declared = ComparisonConfig()
    comparison = overridden(declared, args.steps, args.inner_lr, args.seeds)
    results = run(comparison, args.methods, args.init, args.jobs, args.sharpness)
    table = markdown(results, comparison)
    print(table)
    out = args.out
    if out is None and comparison == declared and args.methods == METHODS and args.init == "paper":
        out = course_root.find() / "results"  # only the declared protocol replaces the committed table
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "table2.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "table2.md").write_text(table)
    plot(results, comparison, out / "table2.png")
    print(f"wrote {out}/table2.json, table2.md, table2.png in {results['seconds']['total']:.0f} s")


def overridden(comparison, steps=None, inner_lr=None, seeds=None):
    """``comparison`` with every method's meta-steps, MAML's and first-order MAML's alpha (in
    training and at test time) or the seeds replaced where given."""
    changes = {}
    for method in METHODS:
        protocol_ = comparison.protocol(method)
        if steps is not None:
            protocol_ = dataclasses.replace(protocol_, meta_steps=steps)
        if inner_lr is not None and method in ("maml", "first_order"):
            protocol_ = dataclasses.replace(protocol_, inner_lr=inner_lr, test_lr=inner_lr)
        changes[method] = protocol_
    return dataclasses.replace(comparison, **changes, seeds=tuple(seeds or comparison.seeds))


def _seed_range(text):
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


if __name__ == "__main__":
    main()
