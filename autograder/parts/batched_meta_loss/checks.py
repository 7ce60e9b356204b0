"""`batched_meta_loss(loss, alpha, steps, first_order)`: the mean MAML objective over tasks."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import NESTED_TREE, flatten_task, quadratic_problem, random_task, random_vector

K = 3
# float32 iterations of a 7x7 affine map, averaged over <= 4 tasks: error below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.0039 of this tolerance; the nearest wrong implementation is at
# 437 (batched_first_task_only).
RTOL, ATOL = 1e-4, 1e-5


def batch_case(student, seed, tasks, alpha, steps, first_order, jit=False):
    problem = quadratic_problem(seed, NESTED_TREE, K)
    v0 = random_vector(seed + 100, problem.size)
    batch = random_task(seed + 200, K, tasks)
    got = student.probe("batched_meta_loss_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        batch=[a.tolist() for a in batch], alpha=alpha, steps=steps,
                        first_order=first_order, jit=jit)
    per_task = [problem.adaptation_loss(v0, flatten_task(*[a[t] for a in batch[:2]]),
                                        flatten_task(*[a[t] for a in batch[2:]]), alpha, steps,
                                        first_order) for t in range(tasks)]
    want = {"value": np.mean([v for v, _ in per_task]), "grad": np.mean([g for _, g in per_task], 0)}
    return got, want


@case(points=1.0, feedback="The value should be the mean over tasks (not the sum) of each task's "
      "adaptation loss, with every task adapted on its own training split.")
def test_value_is_mean_over_tasks(student, compare):
    """For 4 tasks the value is the mean of the per-task adaptation losses."""
    got, want = batch_case(student, 21, tasks=4, alpha=0.2, steps=2, first_order=False)
    compare(got["value"], want["value"], RTOL, ATOL, what="the meta-loss")


@case(points=1.0, feedback="The meta-gradient should be the mean over tasks of each task's full "
      "MAML meta-gradient (parameters shared across tasks, second-order terms included).")
def test_meta_gradient_is_mean_over_tasks(student, compare):
    """For 4 tasks and 2 steps the gradient is the mean of the per-task meta-gradients."""
    got, want = batch_case(student, 21, tasks=4, alpha=0.2, steps=2, first_order=False)
    compare(got["grad"], want["grad"], RTOL, ATOL, what="the meta-gradient", layout=NESTED_TREE)


@case(points=0.5, feedback="first_order, a single task, or jax.jit is not handled: pass "
      "first_order and steps on, and keep a task axis of length 1 working.")
def test_first_order_single_task_under_jit(student, compare):
    """A one-task batch with first_order=True under jax.jit matches first-order MAML."""
    got, want = batch_case(student, 23, tasks=1, alpha=0.3, steps=2, first_order=True, jit=True)
    compare(got, want, RTOL, ATOL, what="the first-order meta-loss", layout={"grad": NESTED_TREE})


@case(points=0.5, feedback="The meta-loss of the sinusoid network on a stored meta-batch of 25 "
                           "tasks, or its gradient, differs from the reference.")
def test_reference_network_meta_batch(student, reference_values):
    """Value and meta-gradient on 25 stored tasks match the stored values."""
    got = student.probe("batched_meta_loss_reference", layers=reference_runs.initial_layers(),
                        batch=reference_runs.sinusoid_batch(reference_runs.CONFIG.seed),
                        alpha=reference_runs.CONFIG.inner_lr, steps=1, first_order=False)
    reference_values.check(got, layout={"grad": reference_runs.params_layout()})
