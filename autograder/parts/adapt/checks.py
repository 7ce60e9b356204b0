"""`adapt(loss, params, x, y, alpha, steps, first_order)`: gradient descent on any pytree."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case, fitted_step
from autograder.parts.closed_forms import (ARRAY_TREE, FLAT_TREE, NESTED_TREE, flatten_task,
                                           quadratic_problem, random_task, random_vector)

K = 4
# float32 iterations of a 7x7 affine map with contraction <= 1: error below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.011 of this tolerance; the nearest wrong implementation is at
# 67 (adapt_gradient_computed_once).
RTOL, ATOL = 1e-4, 1e-5


def adapt_mistakes(problem, v0, z, alpha, steps, got):
    """What known wrong versions of `adapt` return on the quadratic (None: same as correct); a
    single step of another size is fitted to ``got``."""

    def descend(step):
        v = v0
        for _ in range(steps):
            v = step(v, problem.grad(v, z))
        return v

    return {
        "the parameters before adapting: no step was taken" + (
            ", or steps - 1 steps" if steps == 1 else ""): v0,
        "adapting for steps - 1 steps": problem.adapt(v0, z, alpha, steps - 1) if steps > 1 else None,
        "adapting for steps + 1 steps": problem.adapt(v0, z, alpha, steps + 1),
        "reusing the first gradient on every step: it must be computed again at the current "
        "parameters": v0 - steps * alpha * problem.grad(v0, z) if steps > 1 else None,
        "gradient ascent, params + alpha * grad": descend(lambda v, g: v + alpha * g),
        "every step taken from the starting parameters, params - alpha * grad(current), not "
        "from the current ones": descend(lambda v, g: v0 - alpha * g) if steps > 1 else None,
        "grad - alpha * params: tree_map's arguments in the wrong order":
            descend(lambda v, g: g - alpha * v),
        "steps along the gradient's sign, params - alpha * sign(grad)":
            descend(lambda v, g: v - alpha * np.sign(g)),
        **{f"adapting for {k} steps instead of steps = {steps}": problem.adapt(v0, z, alpha, k)
           for k in range(2, 11) if abs(k - steps) > 1},
        "gradient descent with momentum 0.9, as optax.sgd(alpha, momentum=0.9) takes it; adapt "
        "takes plain gradient steps": with_momentum(problem, v0, z, alpha, steps, 0.9)
        if steps > 1 else None,
        **one_step_of_another_size(problem, v0, z, alpha, steps, got),
    }


def with_momentum(problem, v0, z, alpha, steps, momentum):
    """Heavy-ball steps as `optax.sgd` takes them: ``m <- momentum m + g``, ``v <- v - alpha m``."""
    v, m = v0, np.zeros_like(v0)
    for _ in range(steps):
        m = momentum * m + problem.grad(v, z)
        v = v - alpha * m
    return v


def one_step_of_another_size(problem, v0, z, alpha, steps, got):
    rate = fitted_step(got, v0, -problem.grad(v0, z)) if steps == 1 else None
    if rate is None or abs(rate - alpha) <= 1e-3 * alpha:
        return {}
    return {f"one step of size {rate:.3g} instead of alpha = {alpha:g}":
            v0 - rate * problem.grad(v0, z)}


def adapt_case(student, compare, tree, seed, alpha, steps):
    problem = quadratic_problem(seed, tree, K)
    v0 = random_vector(seed + 100, problem.size)
    x, y, _, _ = (a[0] for a in random_task(seed + 200, K))
    got = student.probe("adapt_quadratic", problem=problem.spec(), v0=v0.tolist(), x=x.tolist(),
                        y=y.tolist(), alpha=alpha, steps=steps)
    z = flatten_task(x, y)
    compare(got, problem.adapt(v0, z, alpha, steps), RTOL, ATOL, what="the adapted parameters",
            case=f"alpha = {alpha:g}, steps = {steps}", layout=problem.tree,
            mistakes=adapt_mistakes(problem, v0, z, alpha, steps, got))


def outer_gradient_case(student, compare, first_order, steps=2, alpha=0.25, seed=7):
    problem = quadratic_problem(seed, NESTED_TREE, K)
    v0 = random_vector(seed + 100, problem.size)
    x_train, y_train, x_test, y_test = (a[0] for a in random_task(seed + 200, K))
    got = student.probe("adapt_outer_gradient", problem=problem.spec(), v0=v0.tolist(),
                        x_train=x_train.tolist(), y_train=y_train.tolist(),
                        x_test=x_test.tolist(), y_test=y_test.tolist(), alpha=alpha, steps=steps,
                        first_order=first_order)
    z_train, z_test = flatten_task(x_train, y_train), flatten_task(x_test, y_test)
    gradient = {order: problem.adaptation_loss(v0, z_train, z_test, alpha, steps, order)[1]
                for order in (False, True)}
    compare(got, gradient[first_order], RTOL, ATOL, what="the gradient through adapt",
            case=f"alpha = {alpha:g}, steps = {steps}, first_order = {first_order}",
            layout=problem.tree, mistakes={
                "the second-order gradient: first_order=True was not applied": gradient[False],
                "the first-order gradient: every inner gradient was treated as a constant "
                "(stop_gradient) although first_order=False": gradient[True],
                "the test gradient at the parameters before adapting: no step was taken":
                    problem.grad(v0, z_test),
                "zero: the adapted parameters themselves were held constant (stop_gradient on "
                "the result), so no gradient reaches params; hold only the inner gradients "
                "constant": np.zeros_like(v0)})


@case(points=0.5, feedback="One step of adapt must give params - alpha * grad(loss)(params), "
      "leaf by leaf.")
def test_one_step_on_quadratic(student, compare):
    """One step on a quadratic over a nested pytree equals p - alpha * grad(p)."""
    adapt_case(student, compare, NESTED_TREE, seed=1, alpha=0.1, steps=1)


@case(points=1.0, feedback="adapt must repeat p <- p - alpha * grad(loss)(p, x, y) exactly "
      "`steps` times.")
def test_several_steps_recompute_gradient(student, compare):
    """Three steps equal three gradient-descent steps, each with a fresh gradient."""
    adapt_case(student, compare, NESTED_TREE, seed=2, alpha=0.2, steps=3)


@case(points=0.25, feedback="adapt must follow the same rule for other learning rates, step "
      "counts and parameter pytrees.")
def test_other_alphas_and_trees(student, compare):
    """Other alphas, step counts and pytrees agree."""
    adapt_case(student, compare, FLAT_TREE, seed=3, alpha=0.05, steps=2)
    adapt_case(student, compare, NESTED_TREE, seed=4, alpha=0.3, steps=5)


@case(points=0.25, feedback="params may be any pytree, a single array too: adapt must step it "
      "leaf by leaf with jax.tree_util.tree_map, not walk it as a dict.")
def test_params_as_a_single_array(student, compare):
    """With params one bare array (a pytree of one leaf), two steps are gradient descent."""
    adapt_case(student, compare, ARRAY_TREE, seed=5, alpha=0.1, steps=2)


@case(points=1.0, feedback="With first_order=False the gradient through several steps of adapt "
      "must be the exact MAML gradient, with the second-order terms of every step.")
def test_second_order_by_default(student, compare):
    """The gradient of a test loss through two steps is (I - alpha A)^2 times the outer gradient."""
    outer_gradient_case(student, compare, first_order=False)


@case(points=0.5, feedback="With first_order=True the gradient through adapt must be the outer "
      "gradient at the adapted parameters, every inner gradient treated as a constant.")
def test_first_order_flag(student, compare):
    """With first_order=True the gradient through adapt equals the test gradient at the result."""
    outer_gradient_case(student, compare, first_order=True)


@case(points=0.5, feedback="Adapting the sinusoid network on a stored task gives losses that "
                           "differ from the reference.")
def test_reference_network_adaptation(student, reference_values):
    """Losses after 1 and 5 steps on the reference network match the stored values."""
    x, y, _, _ = (np.asarray(a)[0].tolist() for a in reference_runs.sinusoid_batch(reference_runs.CONFIG.seed))
    got = student.probe("adapt_reference", layers=reference_runs.initial_layers(), x=x, y=y,
                        alpha=reference_runs.CONFIG.inner_lr, steps_list=[1, 5])
    reference_values.check(got)
