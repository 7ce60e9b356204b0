"""Meta-steps per second of each method's training loop: one `jax.jit` over `lax.scan` (what
`experiments.table2` runs) against a Python loop over one jitted step.

Usage: python benchmarks/meta_training_speed.py [--steps N] [--repeats R]
Compilation is excluded from both (ahead-of-time for the scan; a warm-up call for the loop); the
two loops alternate, R times each, and the medians and their ratio are printed.
"""

import argparse
import os
import pathlib
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
from maml_helpers.config import ComparisonConfig
from maml_helpers.tasks import sample_meta_batch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/: the checkout's

from experiments import methods  # noqa: E402
from experiments.table2 import METHODS  # noqa: E402


def loops(method, steps, comparison):
    """``(scan, python_loop)``: two callables running ``steps`` meta-steps from the same start."""
    model = methods.MLP(comparison.meta.features)
    loss = methods.square_error_loss(model)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 1)))
    key = jax.random.PRNGKey(1)
    step, optimizer = methods.make_step(method, loss, comparison)
    state = optimizer.init(params)
    sampling = comparison.protocol(method).training_config(comparison.meta)

    def batch(index):
        return sample_meta_batch(jax.random.fold_in(key, index), sampling)

    def scanned(params, state):
        def body(carry, index):
            return step(*carry, batch(index)), None

        return jax.lax.scan(body, (params, state), jnp.arange(steps))[0]

    compiled_scan = jax.jit(scanned).lower(params, state).compile()
    jitted_step = jax.jit(lambda params, state, index: step(params, state, batch(index)))
    jax.block_until_ready(jitted_step(params, state, 0))

    def python_loop():
        p, s = params, state
        for index in range(steps):
            p, s = jitted_step(p, s, index)
        return jax.block_until_ready(p)

    return (lambda: jax.block_until_ready(compiled_scan(params, state))), python_loop


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, JAX {jax.__version__} "
          f"on {jax.devices()[0].platform}; {args.steps} meta-steps, each method's own batch "
          f"(25 tasks; Reptile 1), median of {args.repeats}")
    print(f"{'method':<12}{'scan steps/s':>14}{'loop steps/s':>14}{'loop/scan time':>16}")
    comparison = ComparisonConfig()
    for method in METHODS:
        scan, loop = loops(method, args.steps, comparison)
        times = {"scan": [], "loop": []}
        for _ in range(args.repeats):
            times["scan"].append(seconds(scan))
            times["loop"].append(seconds(loop))
        scan_s, loop_s = (statistics.median(times[k]) for k in ("scan", "loop"))
        print(f"{method:<12}{args.steps / scan_s:>14.0f}{args.steps / loop_s:>14.0f}"
              f"{loop_s / scan_s:>15.2f}x", flush=True)


if __name__ == "__main__":
    main()
