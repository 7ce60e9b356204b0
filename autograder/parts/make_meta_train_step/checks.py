"""`make_meta_train_step(meta_loss, optimizer)`: one optax meta-update that works under jit."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import (NESTED_TREE, flatten_task, quadratic_problem,
                                     random_task, random_vector)
from autograder.parts.make_meta_train_step.optimizers import Adam, Momentum

K, TASKS = 2, 2
# float32 quadratics over 7 parameters for <= 4 steps; Adam divides by sqrt(v) + 1e-8 with
# gradients of size ~1, so float32 rounding stays below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.071 of this tolerance; the nearest wrong implementation is at
# 1.1e3 (step_returns_loss_after_update).
RTOL, ATOL = 1e-4, 1e-5


PARAMS = {"params": NESTED_TREE}  # the steps' final parameters, flattened from this pytree


def run_case(student, seed, optimizer, steps):
    problem = quadratic_problem(seed, NESTED_TREE, K, extra_data=2 * TASKS)
    v0 = random_vector(seed + 100, problem.size)
    batches = [random_task(seed + 200 + i, K, TASKS) for i in range(steps)]
    got = student.probe("meta_train_step_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        batches=[[a.tolist() for a in b] for b in batches], optimizer=optimizer)
    rule = (Adam(optimizer["lr"]) if optimizer["name"] == "adam"
            else Momentum(optimizer["lr"], optimizer.get("momentum") or 0.0))
    v, losses = v0, []
    for batch in batches:
        z = flatten_task(*batch)
        losses.append(problem.loss(v, z))
        v = rule.step(v, problem.grad(v, z))
    return got, {"losses": np.asarray(losses), "params": v}


@case(points=1.0, feedback="One jitted step with optax.sgd should return the parameters after "
      "the update and the meta-loss at the parameters before it.")
def test_sgd_step_returns_loss_before_update(student, compare):
    """One SGD step: params - lr * grad, and the loss at the old params."""
    got, want = run_case(student, 31, {"name": "sgd", "lr": 0.1}, steps=1)
    compare(got, want, RTOL, ATOL, what="the step's result", layout=PARAMS)


@case(points=1.0, feedback="Over several steps with optax.adam the results are wrong: use "
      "optimizer.update(grads, opt_state, params), return the new opt_state, and apply the updates "
      "with optax.apply_updates.")
def test_adam_state_is_carried(student, compare):
    """Four Adam steps match optax.adam's update rule, so the optimizer state is carried."""
    got, want = run_case(student, 32, {"name": "adam", "lr": 0.05}, steps=4)
    compare(got, want, RTOL, ATOL, what="the Adam trajectory", layout=PARAMS)


@case(points=0.5, feedback="Over several steps with momentum SGD the results are wrong: the "
      "optimizer state must be updated and returned on every step.")
def test_momentum_state_is_carried(student, compare):
    """Three momentum-SGD steps match p <- p - lr (g + 0.9 trace)."""
    got, want = run_case(student, 33, {"name": "sgd", "lr": 0.05, "momentum": 0.9}, steps=3)
    compare(got, want, RTOL, ATOL, what="the momentum trajectory", layout=PARAMS)


@case(points=0.5, feedback="Meta-training the sinusoid network for a few steps from a stored "
                           "initialisation gives losses that differ from the reference.")
def test_reference_meta_training_trajectory(student, reference_values):
    """Ten Adam meta-steps on stored meta-batches reproduce the stored losses and parameters."""
    reference_runs.check_trajectory(student, reference_values, "meta_train_step_reference",
                                    alpha=reference_runs.CONFIG.inner_lr,
                                    lr=reference_runs.CONFIG.meta_lr)
