"""`reptile_update(loss, params, X, Y, inner_lr, inner_steps, outer_lr)`: one Reptile step over a
batch of tasks (graded with the grader's own `adapt`)."""

import numpy as np

from autograder.parts import closed_forms, reference_runs
from autograder.parts.checking import case, fitted_step
from autograder.parts.closed_forms import FLAT_TREE, NESTED_TREE, flatten_task, quadratic_problem
from autograder.parts.reptile_update.closed_form import reptile_update

K = 3
# float32 gradient descent on a 7x7 quadratic (contraction <= 1) averaged over tasks: < 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.00079 of this tolerance; the nearest wrong implementation is at
# 994 (reptile_mean_without_task_axis).
RTOL, ATOL = 1e-4, 1e-5
# Reference run: SGD steps of 0.01 on support and query points together, then half a step.
REFERENCE = dict(inner_lr=reference_runs.CONFIG.inner_lr, inner_steps=3, outer_lr=0.5)


def reptile_mistakes(problem, v0, tasks, inner_lr, inner_steps, outer_lr, got):
    """What known wrong versions of `reptile_update` return (None: same as correct); a step of
    another size along the mean difference is fitted to ``got``."""
    adapted = [problem.adapt(v0, z, inner_lr, inner_steps) for z in tasks]
    step = np.mean(adapted, axis=0) - v0
    several = len(tasks) > 1
    sequential = v0
    for z in tasks:
        sequential = sequential + outer_lr * (problem.adapt(sequential, z, inner_lr, inner_steps)
                                              - sequential)
    leaves, start, scalar_means = problem.tree, 0, v0.copy()
    for _, shape in leaves:  # jnp.mean(phi - params) over tasks and the whole leaf
        size = int(np.prod(shape))
        scalar_means[start:start + size] += outer_lr * np.mean(step[start:start + size])
        start += size
    return {
        "outer_lr * params + (1 - outer_lr) * mean phi: the interpolation weights swapped":
            outer_lr * v0 + (1 - outer_lr) * np.mean(adapted, axis=0) if outer_lr != 0.5 else None,
        "params + outer_lr * mean phi - params = outer_lr * mean phi: parentheses missing around "
        "(phi - params)": outer_lr * np.mean(adapted, axis=0),
        "adapting with x and y swapped (the targets as inputs)": np.mean(
            [problem.adapt(v0, swapped_xy(z), inner_lr, inner_steps) for z in tasks], axis=0) * outer_lr
            + (1 - outer_lr) * v0,
        "inner_lr and outer_lr swapped": reptile_update(problem, v0, tasks, outer_lr, inner_steps,
                                                        inner_lr) if inner_lr != outer_lr else None,
        "one task after another, each adapted from the parameters the previous one moved "
        "(they must all start from the same params and be averaged)":
            sequential if several else None,
        "one mean per leaf: jnp.mean(phi - params) without axis=0 also averages over the "
        "leaf's entries": scalar_means,
        "params - outer_lr * (phi - params): a step away from the adapted parameters":
            v0 - outer_lr * step,
        "the mean adapted parameters: outer_lr was not used": v0 + step if outer_lr != 1 else None,
        "the update from the first task alone": v0 + outer_lr * (adapted[0] - v0) if several else None,
        "the sum over tasks of phi_i - params, not the mean":
            v0 + outer_lr * len(tasks) * step if several else None,
        "adapting each task with one inner step whatever inner_steps is":
            reptile_update(problem, v0, tasks, inner_lr, 1, outer_lr) if inner_steps > 1 else None,
        "the parameters unchanged": v0,
        **step_of_another_size(v0, step, outer_lr, got),
    }


def step_of_another_size(v0, step, outer_lr, got):
    rate = fitted_step(got, v0, step)
    if rate is None or abs(rate - outer_lr) <= 1e-3 * outer_lr:
        return {}
    return {f"a step of {rate:.3g} times the mean difference instead of outer_lr = {outer_lr:g}":
            v0 + rate * step}


def swapped_xy(z):
    """A task's flattened (x, y) with x and y exchanged."""
    x, y = np.split(z, 2)
    return np.concatenate([y, x])


def reptile_case(student, compare, tree, seed, tasks, inner_lr, inner_steps, outer_lr):
    problem = quadratic_problem(seed, tree, K)
    v0 = closed_forms.random_vector(seed + 100, problem.size)
    X, Y, _, _ = closed_forms.random_task(seed + 200, K, tasks)
    got = student.probe("reptile_update_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        X=X.tolist(), Y=Y.tolist(), inner_lr=inner_lr, inner_steps=inner_steps,
                        outer_lr=outer_lr)
    zs = [flatten_task(x, y) for x, y in zip(X, Y)]
    compare(got, reptile_update(problem, v0, zs, inner_lr, inner_steps, outer_lr), RTOL, ATOL,
            what="the Reptile update", layout=problem.tree,
            case=f"T = {tasks} task{'s' if tasks > 1 else ''}, inner_lr = {inner_lr:g}, inner_steps = {inner_steps}, "
                 f"outer_lr = {outer_lr:g}",
            mistakes=reptile_mistakes(problem, v0, zs, inner_lr, inner_steps, outer_lr, got))


@case(points=1.0, feedback="One Reptile update on one task must move the parameters towards "
      "the adapted ones: params + outer_lr * (phi - params).")
def test_one_task_moves_towards_adapted_parameters(student, compare):
    """With one task and one inner step the update is params + outer_lr * (phi - params)."""
    reptile_case(student, compare, NESTED_TREE, seed=21, tasks=1, inner_lr=0.1, inner_steps=1, outer_lr=0.3)


@case(points=1.0, feedback="The Reptile update must use the mean of phi_i - params over every "
      "task in the batch, each task adapted with inner_steps steps from the same params.")
def test_mean_over_tasks_with_several_steps(student, compare):
    """With four tasks and three inner steps the update uses the mean of phi_i - params."""
    reptile_case(student, compare, NESTED_TREE, seed=22, tasks=4, inner_lr=0.2, inner_steps=3, outer_lr=0.5)


@case(points=0.5, feedback="reptile_update must follow the same rule for other outer learning "
      "rates and parameter pytrees: a step of outer_lr times the mean difference.")
def test_other_rates_and_trees(student, compare):
    """Another pytree, with outer_lr = 1 (the mean adapted parameters) and outer_lr = 0.1."""
    reptile_case(student, compare, FLAT_TREE, seed=23, tasks=3, inner_lr=0.05, inner_steps=2, outer_lr=1.0)
    reptile_case(student, compare, FLAT_TREE, seed=24, tasks=2, inner_lr=0.3, inner_steps=2, outer_lr=0.1)


@case(points=1.5, feedback="Five Reptile updates of the sinusoid network from the reference "
      "initialisation give losses or parameters that differ from the reference run.")
def test_reference_training_trajectory(student, reference_values):
    """Five jitted updates on stored meta-batches match the stored losses and parameters."""
    got = reference_runs.check_trajectory(student, reference_values, "reptile_reference", steps=5,
                                          **REFERENCE)
    assert np.isfinite(got["losses"]).all()
