"""`batched_meta_loss(loss, alpha, steps, first_order)`: the mean MAML objective over tasks."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.reference_runs import CONFIG
from autograder.parts.checking import case
from autograder.parts.closed_forms import (ARRAY_TREE, NESTED_TREE, flatten_task, quadratic_problem,
                                           random_task, random_vector)

K = 3
# float32 iterations of a 7x7 affine map, averaged over <= 4 tasks: error below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.0039 of this tolerance; the nearest wrong implementation is at
# 284 (batched_splits_shifted_by_one_task).
RTOL, ATOL = 1e-4, 1e-5


def batch_case(student, seed, tasks, alpha, steps, first_order, jit=False, tree=NESTED_TREE):
    """The student's meta-loss and meta-gradient, the closed forms, and what the known wrong
    versions give (``{mistake: {"value", "grad"}}``)."""
    problem = quadratic_problem(seed, tree, K)
    v0 = random_vector(seed + 100, problem.size)
    batch = random_task(seed + 200, K, tasks)
    got = student.probe("batched_meta_loss_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        batch=[a.tolist() for a in batch], alpha=alpha, steps=steps,
                        first_order=first_order, jit=jit)
    train = [flatten_task(*[a[t] for a in batch[:2]]) for t in range(tasks)]
    test = [flatten_task(*[a[t] for a in batch[2:]]) for t in range(tasks)]

    def per_task(pairs, k=steps, order=first_order, rate=alpha):
        return [problem.adaptation_loss(v0, z_train, z_test, rate, k, order)
                for z_train, z_test in pairs]

    def mean(results, reduce=np.mean):
        return {"value": reduce([v for v, _ in results]), "grad": reduce([g for _, g in results], 0)}

    correct = per_task(zip(train, test))
    mean_adapted = np.mean([problem.adapt(v0, z, alpha, steps) for z in train], axis=0)
    mistakes = {
        "the sum over tasks, not the mean": mean(correct, np.sum) if tasks > 1 else None,
        "the first task's adaptation loss alone": mean(correct[:1]) if tasks > 1 else None,
        "each task's training split paired with the next task's test split (the splits shifted "
        "by one task)": mean(per_task(zip(train, test[1:] + test[:1]))) if tasks > 1 else None,
        "adapting on the test splits and scoring on the training splits (the splits swapped)":
            mean(per_task(zip(test, train))),
        "the data passed on in the order (X_train, X_test, Y_train, Y_test): the adaptation "
        "loss takes (x_train, y_train, x_test, y_test)": mean(per_task(zip(
            [flatten_task(batch[0][t], batch[2][t]) for t in range(tasks)],
            [flatten_task(batch[1][t], batch[3][t]) for t in range(tasks)]))),
        "the last task's adaptation loss divided by T: a loop that overwrites its total instead "
        "of adding to it": {"value": correct[-1][0] / tasks, "grad": correct[-1][1] / tasks}
        if tasks > 1 else None,
        "the mean of the adapted parameters scored on every task: each task's own adapted "
        "parameters must be scored on its test split": {"value": np.mean(
            [problem.loss(mean_adapted, z) for z in test])} if tasks > 1 else None,
        "the mean after one inner step: steps was not passed on":
            mean(per_task(zip(train, test), k=1)) if steps > 1 else None,
        "the second-order meta-gradient: first_order was not passed on":
            mean(per_task(zip(train, test), order=False)) if first_order else None,
        "the first-order meta-gradient although first_order=False":
            None if first_order else mean(per_task(zip(train, test), order=True)),
        **{f"adapting for {k} steps instead of steps = {steps}": mean(per_task(zip(train, test), k=k))
           for k in range(2, 6) if k != steps},
        f"adapting with alpha = {CONFIG.inner_lr:g} (config.inner_lr), not the alpha given":
            mean(per_task(zip(train, test), rate=CONFIG.inner_lr)),
    }
    return got, mean(correct), mistakes


def only(key, mistakes):
    return {m: None if v is None else v.get(key) for m, v in mistakes.items()}


@case(points=0.75, feedback="The value must be the mean over tasks of each task's adaptation "
      "loss: task t adapted on its training split and scored on its test split.")
def test_value_is_mean_over_tasks(student, compare):
    """For 4 tasks the value is the mean of the per-task adaptation losses."""
    got, want, mistakes = batch_case(student, 21, tasks=4, alpha=0.2, steps=2, first_order=False)
    compare(got["value"], want["value"], RTOL, ATOL, what="the meta-loss",
            case="T = 4 tasks, alpha = 0.2, steps = 2", mistakes=only("value", mistakes))


@case(points=1.0, feedback="The meta-gradient must be the mean over tasks of each task's full "
      "MAML meta-gradient, with the parameters shared across tasks.")
def test_meta_gradient_is_mean_over_tasks(student, compare):
    """For 4 tasks and 2 steps the gradient is the mean of the per-task meta-gradients."""
    got, want, mistakes = batch_case(student, 21, tasks=4, alpha=0.2, steps=2, first_order=False)
    compare(got["grad"], want["grad"], RTOL, ATOL, what="the meta-gradient", layout=NESTED_TREE,
            case="T = 4 tasks, alpha = 0.2, steps = 2", mistakes=only("grad", mistakes))


@case(points=0.5, feedback="A batch of one task with first_order=True must give first-order "
      "MAML's loss and gradient, also under jax.jit.")
def test_first_order_single_task_under_jit(student, compare):
    """A one-task batch with first_order=True under jax.jit matches first-order MAML."""
    got, want, mistakes = batch_case(student, 23, tasks=1, alpha=0.3, steps=2, first_order=True,
                                     jit=True)
    compare(got, want, RTOL, ATOL, what="the first-order meta-loss", layout={"grad": NESTED_TREE},
            mistakes=mistakes)


@case(points=0.25, feedback="params may be any pytree, a single array too: share it across "
      "tasks with in_axes=None, whatever its structure.")
def test_params_as_a_single_array(student, compare):
    """With params one bare array, the mean over 3 tasks and its gradient agree."""
    got, want, mistakes = batch_case(student, 24, tasks=3, alpha=0.2, steps=2, first_order=False,
                                     tree=ARRAY_TREE)
    compare(got, want, RTOL, ATOL, what="the meta-loss", layout={"grad": ARRAY_TREE},
            case="T = 3 tasks, alpha = 0.2, steps = 2", mistakes=mistakes)


@case(points=0.5, feedback="The meta-loss of the sinusoid network on a stored meta-batch of 25 "
                           "tasks, or its gradient, differs from the reference.")
def test_reference_network_meta_batch(student, reference_values):
    """Value and meta-gradient on 25 stored tasks match the stored values."""
    got = student.probe("batched_meta_loss_reference", layers=reference_runs.initial_layers(),
                        batch=reference_runs.sinusoid_batch(reference_runs.CONFIG.seed),
                        alpha=reference_runs.CONFIG.inner_lr, steps=1, first_order=False)
    reference_values.check(got, layout={"grad": reference_runs.params_layout()})
