"""`adaptation_loss(loss, alpha, steps, first_order)`: one task's MAML objective."""

from autograder.parts import reference_runs
from autograder.parts.reference_runs import CONFIG
from autograder.parts.checking import case
from autograder.parts.closed_forms import (ARRAY_TREE, NESTED_TREE, flatten_task, quadratic_problem,
                                           random_task, random_vector)

K = 4
# float32 iterations of a 7x7 affine map with contraction <= 1: error below 1e-5.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.019 of this tolerance; the nearest wrong implementation is at
# 61 (adaptation_loss_steps_not_passed_on).
RTOL, ATOL = 1e-4, 1e-5


def meta_case(student, compare, seed, alpha, steps, first_order, check, tree=NESTED_TREE):
    problem = quadratic_problem(seed, tree, K)
    v0 = random_vector(seed + 100, problem.size)
    task = [a[0] for a in random_task(seed + 200, K)]
    got = student.probe("adaptation_loss_quadratic", problem=problem.spec(), v0=v0.tolist(),
                        task=[a.tolist() for a in task], alpha=alpha, steps=steps,
                        first_order=first_order)
    z_train, z_test = flatten_task(*task[:2]), flatten_task(*task[2:])

    def objective(z_adapt=z_train, z_score=z_test, order=first_order, k=steps, rate=alpha):
        value, grad = problem.adaptation_loss(v0, z_adapt, z_score, rate, k, order)
        return {"value": value, "grad": grad}

    before = {"value": problem.loss(v0, z_test), "grad": problem.grad(v0, z_test)}
    mistakes = {
        "the test loss before adapting: the parameters were not adapted": before,
        "adapting on the test split and scoring on the training split (the splits swapped)":
            objective(z_test, z_train),
        "adapting on the test split (and scoring on it): adapt on (x_train, y_train)":
            objective(z_adapt=z_test),
        "the training loss after adapting: the adapted parameters must be scored on the test "
        "split": objective(z_score=z_train),
        "scoring x_train against y_test: inputs and targets from different splits":
            objective(z_score=flatten_task(task[0], task[3])),
        "scoring x_test against y_train: inputs and targets from different splits":
            objective(z_score=flatten_task(task[2], task[1])),
        "adapting on x_train with y_test: inputs and targets from different splits":
            objective(z_adapt=flatten_task(task[0], task[3])),
        "adapting for one step whatever steps is": objective(k=1) if steps > 1 else None,
        "the second-order meta-gradient: first_order was not passed on to adapt":
            objective(order=False) if first_order else None,
        "the first-order meta-gradient although first_order=False": (
            None if first_order else objective(order=True)),
        **{f"adapting for {k} steps instead of steps = {steps}": objective(k=k)
           for k in range(2, 6) if k != steps},
        f"adapting with alpha = {CONFIG.inner_lr:g} (config.inner_lr), not the alpha given":
            objective(rate=CONFIG.inner_lr),
    }
    compare(got[check], objective()[check], RTOL, ATOL, what=f"the meta-{check}",
            case=f"alpha = {alpha:g}, steps = {steps}, first_order = {first_order}",
            layout=problem.tree, mistakes={m: None if v is None else v[check]
                                           for m, v in mistakes.items()})


@case(points=0.75, feedback="The value must be the loss on the test split after adapting on "
      "the training split (x_train, y_train), with the given alpha and number of steps.")
def test_value_adapts_on_train_scores_on_test(student, compare):
    """The value is L_test(adapt(params, train split)) for 1 and 3 steps."""
    meta_case(student, compare, 11, alpha=0.25, steps=1, first_order=False, check="value")
    meta_case(student, compare, 12, alpha=0.15, steps=3, first_order=False, check="value")


@case(points=1.0, feedback="With first_order=False, jax.grad of the adaptation loss must be the "
      "full MAML meta-gradient, through every inner step.")
def test_second_order_meta_gradient(student, compare):
    """The meta-gradient is ((I - alpha A)^k)^T grad L_test(v_k) for k = 1 and 3."""
    meta_case(student, compare, 11, alpha=0.25, steps=1, first_order=False, check="grad")
    meta_case(student, compare, 12, alpha=0.15, steps=3, first_order=False, check="grad")


@case(points=0.5, feedback="With first_order=True the meta-gradient must be grad L_test at the "
      "adapted parameters (first-order MAML).")
def test_first_order_meta_gradient(student, compare):
    """With first_order=True the meta-gradient is grad L_test(v_k), for k = 2."""
    meta_case(student, compare, 15, alpha=0.25, steps=2, first_order=True, check="grad")


@case(points=0.25, feedback="params may be any pytree, a single array too: the adaptation loss "
      "and its gradient must not treat params as a dict.")
def test_params_as_a_single_array(student, compare):
    """With params one bare array, the value and the meta-gradient through 2 steps agree."""
    for check in ("value", "grad"):
        meta_case(student, compare, 16, alpha=0.2, steps=2, first_order=False, check=check,
                  tree=ARRAY_TREE)


@case(points=0.5, feedback="The MAML objective of the sinusoid network on a stored task, or its "
                           "gradient, differs from the reference.")
def test_reference_network_meta_gradient(student, reference_values):
    """Value and meta-gradient on the reference network match the stored values."""
    batch = reference_runs.sinusoid_batch(reference_runs.CONFIG.seed)
    got = student.probe("adaptation_loss_reference", layers=reference_runs.initial_layers(),
                        task=[a[0] for a in batch], alpha=reference_runs.CONFIG.inner_lr, steps=2,
                        first_order=False)
    reference_values.check(got, layout={"grad": reference_runs.params_layout()})
