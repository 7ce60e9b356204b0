"""The meta-training loop: chunks of `lax.scan` under `jax.jit`, with progress between chunks."""

import functools
import os
import time

import jax
import jax.numpy as jnp

from maml_helpers.config import MAMLConfig
from maml_helpers.tasks import sample_meta_batch


def meta_train_budget(config=MAMLConfig()):
    """The number of meta-steps to run: small while nbgrader autogrades, full otherwise."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return config.autograde_meta_steps
    return config.meta_steps


def meta_train(step, params, opt_state, key, num_steps, config=MAMLConfig(), chunk_size=1000,
               log=print):
    """Runs ``num_steps`` meta-updates ``step(params, opt_state, batch)`` on fresh meta-batches.

    Each chunk of ``chunk_size`` steps is one `jax.jit` over `jax.lax.scan`, with the batches
    sampled on the device, which is several times faster than a Python loop over jitted steps.
    Progress is logged between chunks.

    Returns:
      ``(params, opt_state, losses)`` with ``losses`` the meta-loss of every step, shape
      ``(num_steps,)``.
    """

    @functools.partial(jax.jit, static_argnums=3)
    def run_chunk(params, opt_state, first_step, length):
        def body(carry, step_index):
            params, opt_state = carry
            batch = sample_meta_batch(jax.random.fold_in(key, step_index), config)
            params, opt_state, loss = step(params, opt_state, batch)
            return (params, opt_state), loss

        (params, opt_state), losses = jax.lax.scan(
            body, (params, opt_state), first_step + jnp.arange(length)
        )
        return params, opt_state, losses

    all_losses = []
    start = time.perf_counter()
    for first_step in range(0, num_steps, chunk_size):
        length = min(chunk_size, num_steps - first_step)
        params, opt_state, losses = run_chunk(params, opt_state, first_step, length)
        all_losses.append(losses)
        done = first_step + length
        log(f"meta-step {done:>6}/{num_steps}  meta-loss {float(losses.mean()):.3f}  "
            f"({time.perf_counter() - start:.0f} s)")
    return params, opt_state, jnp.concatenate(all_losses)
