"""The measurements behind part 2's reading of its comparison, at the notebook's scale.

Usage: python -m experiments.notebook_evidence

The notebook trains from Flax's initialisation (seed ``config.seed``) for its own meta-steps; this
script repeats two of its runs with the instructor's implementations and measures, on the
validation tasks:

- Reptile as its authors' demo trains it (one epoch of SGD in minibatches of 10) against
  `reptile_update`'s full-batch steps on all 50 points: the trained network's sharpness (the
  largest eigenvalue of each task's support-loss Hessian; steps of rate r are stable below
  2 / r) and the query error after 1, 5 and 10 steps of its test-time rate;
- the pretrained baseline: its sharpness, its validation error at every rate of
  ``test_lr_grid`` (how the notebook tunes it), and, at the tuned rate, how many tasks get worse
  from 5 to 10 steps while their support loss keeps falling (fitting the 5 points, not the sine).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from maml_helpers import evaluation
from maml_helpers.config import ComparisonConfig
from maml_helpers.training import meta_train

from experiments import methods, table2


def reptile_step(loss, comparison, minibatches):
    """One Reptile iteration on one task's pooled points: the demo's epoch of SGD in minibatches
    (`methods.reptile_epoch_update`) or, with ``minibatches=False``, `reptile_update`'s rule, every
    inner step on all the points."""
    protocol = comparison.reptile
    schedule = methods.linearly_annealed(protocol.outer_lr, protocol.notebook_meta_steps)

    def step(params, iteration, batch):
        x = jnp.concatenate([batch[0], batch[2]], axis=1)[0]
        y = jnp.concatenate([batch[1], batch[3]], axis=1)[0]
        if minibatches:
            return methods.reptile_epoch_update(loss, params, x, y, protocol.inner_lr,
                                                comparison.reptile_minibatch,
                                                schedule(iteration)), iteration + 1, 0.0
        phi = methods.adapt(loss, params, x, y, protocol.inner_lr, protocol.inner_steps)
        outer = schedule(iteration)
        return jax.tree_util.tree_map(lambda p, q: p + outer * (q - p), params, phi), iteration + 1, 0.0

    return step


def pretrained_step(loss, comparison):
    adam = optax.adam(comparison.pretrained.outer_lr)
    objective = methods.pooled_loss(loss)

    def step(params, opt_state, batch):
        updates, opt_state = adam.update(jax.grad(objective)(params, *batch), opt_state, params)
        return optax.apply_updates(params, updates), opt_state, 0.0

    return step, adam.init


def train(step, state, method, comparison, config, initial):
    training = comparison.protocol(method).training_config(config, notebook=True)
    params, _, _ = meta_train(step, initial, state, jax.random.PRNGKey(config.seed + 1),
                              training.meta_steps, training,
                              chunk_size=min(5000, training.meta_steps), log=lambda line: None)
    return params


def errors_text(loss, params, tasks, rate, steps):
    errors = evaluation.adaptation_errors(loss, params, methods.adapt, *tasks, rate, steps)
    return " / ".join(f"diverged ({table2._count(evaluation.diverged_count(e), 'task')})"
                      if evaluation.diverged(e)
                      else f"{np.mean(e):.3f}" for e in errors.values())


def sharpness_text(loss, params, tasks):
    eigenvalues = table2.sharpness(loss, params, tasks[0])
    return f"{np.median(eigenvalues):.0f}, {np.percentile(eigenvalues, 99):.0f}"


def main():
    comparison = ComparisonConfig()
    config = dataclasses.replace(comparison.meta, meta_steps=comparison.notebook_meta_steps)
    model = methods.MLP(config.features)
    loss = methods.square_error_loss(model)
    initial = model.init(jax.random.PRNGKey(config.seed), jnp.zeros((1, 1)))  # the notebook's
    tasks = table2.validation_tasks(comparison)
    steps = comparison.eval_steps
    print(f"On {comparison.validation_tasks:,} validation tasks, K = {comparison.eval_k_shot}.\n")
    print("Reptile, the notebook's 30,000 iterations: sharpness (median, 99th percentile) and query "
          f"MSE after {' / '.join(map(str, steps))} steps of {comparison.reptile.test_lr}")
    for name, minibatches in (("minibatch epoch (the demo)", True),
                              ("full-batch steps (reptile_update)", False)):
        params = train(reptile_step(loss, comparison, minibatches), jnp.zeros((), jnp.int32),
                       "reptile", comparison, config, initial)
        print(f"  {name}: {sharpness_text(loss, params, tasks)}; "
              f"{errors_text(loss, params, tasks, comparison.reptile.test_lr, steps)}")
    step, init = pretrained_step(loss, comparison)
    params = train(step, init(initial), "pretrained", comparison, config, initial)
    print(f"\nPretrained, the notebook's {comparison.pretrained.notebook_meta_steps:,} steps: "
          f"sharpness {sharpness_text(loss, params, tasks)}")
    for rate in comparison.test_lr_grid:
        print(f"  rate {rate:g}: {errors_text(loss, params, tasks, rate, steps)}")
    rate, _ = evaluation.tuned_rate(loss, params, methods.adapt, *tasks, comparison.test_lr_grid,
                                    steps)
    query = evaluation.adaptation_errors(loss, params, methods.adapt, *tasks, rate, (5, 10))
    support = evaluation.adaptation_errors(loss, params, methods.adapt, tasks[0], tasks[0], rate,
                                           (5, 10))
    worse = query[10] > query[5]
    fitting = worse & (support[10] < support[5])
    print(f"  tuned rate {rate:g}: from 5 to 10 steps the query error rises on {worse.mean():.0%} of "
          f"the tasks, and on {fitting.sum() / max(worse.sum(), 1):.0%} of those the support loss "
          f"falls; median query error {np.median(query[5]):.2f} -> {np.median(query[10]):.2f}, "
          f"mean {np.mean(query[5]):.3f} -> {np.mean(query[10]):.3f}")


if __name__ == "__main__":
    main()
