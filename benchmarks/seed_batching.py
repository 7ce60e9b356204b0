"""Training several seeds at once: milliseconds per meta-step per seed for each Table 2 method.

Usage: python benchmarks/seed_batching.py [--steps N] [--seeds S] [--methods ...]

Four ways, measured in the same run, each in a fresh process, compilation excluded:
  unpinned       one seed, XLA free to use every core (its default);
  pinned         one seed in a process pinned to one core;
  vmap S seeds   S seeds side by side, `jax.vmap` inside the one jitted `lax.scan`, pinned;
  2 processes    two pinned processes, one per core, at once (what `table2` runs): the cost per
                 seed-step of the machine, i.e. each process's time divided by two.
"""

import argparse
import concurrent.futures
import dataclasses
import multiprocessing
import os
import pathlib
import platform
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/: the checkout's

METHODS = ["maml", "first_order", "reptile", "imaml", "pretrained"]


def milliseconds_per_seed_step(method, steps, seeds, core):
    """Runs in a fresh process: pins it to ``core`` (None: no pinning), trains ``seeds`` seeds
    for ``steps`` meta-steps and returns the milliseconds per step per seed."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    import jax
    import jax.numpy as jnp
    from maml_helpers.config import ComparisonConfig

    from experiments import methods, table2

    comparison = ComparisonConfig()
    model = methods.MLP(comparison.meta.features)
    loss = methods.square_error_loss(model)

    def start(seed):
        init_key, train_key = jax.random.split(jax.random.PRNGKey(seed))
        params = table2.paper_initialisation(model.init(init_key, jnp.zeros((1, 1))), init_key)
        return params, train_key

    run = methods.training_run(method, loss, steps, comparison)
    if seeds == 1:
        args = start(0)
    else:
        starts = [start(seed) for seed in range(seeds)]
        args = (jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[p for p, _ in starts]),
                jnp.stack([k for _, k in starts]))
        run = jax.vmap(run)
    compiled = jax.jit(run).lower(*args).compile()
    begin = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    return 1e3 * (time.perf_counter() - begin) / steps / seeds


def in_processes(calls):
    """Each ``(method, steps, seeds, core)`` in its own fresh process, all at once."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(len(calls), mp_context=context) as pool:
        return [f.result() for f in [pool.submit(milliseconds_per_seed_step, *c) for c in calls]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    print(f"{platform.processor() or platform.machine()}, {len(cores)} cores, {args.steps} steps\n")
    print(f"| method | unpinned | pinned | vmap {args.seeds} seeds | 2 processes (per core) | "
          "unpinned / 2 processes |")
    print("|---|---|---|---|---|---|")
    for method in args.methods:
        [unpinned] = in_processes([(method, args.steps, 1, None)])
        [pinned] = in_processes([(method, args.steps, 1, cores[0])])
        [batched] = in_processes([(method, args.steps, args.seeds, cores[0])])
        pair = in_processes([(method, args.steps, 1, core) for core in cores[:2]])
        machine = sum(pair) / len(pair) / len(pair)
        print(f"| {method} | {unpinned:.3f} | {pinned:.3f} | {batched:.3f} | {machine:.3f} | "
              f"{unpinned / machine:.1f}x |", flush=True)
    print("\nmilliseconds per meta-step per seed (lower is better)")


if __name__ == "__main__":
    main()
