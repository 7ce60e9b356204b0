"""`square_error_loss(model)`: the mean over K points of the squared error."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import as_float32

# float32 sums of <= 10 squared errors of size ~10: relative error below 1e-6.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.00069 of this tolerance; the nearest wrong implementation is at
# 271 (loss_variance_of_the_errors).
RTOL, ATOL = 1e-4, 1e-5


def linear_case(student, k, seed):
    """The student's loss of ``y_hat = x w + b`` and its gradient, the closed forms, and what the
    known wrong versions give (``{key: {mistake: value}}``)."""
    rng = np.random.default_rng(seed)
    kernel, bias = as_float32(rng.normal(size=(1, 1))), as_float32(rng.normal(size=(1,)))
    x, y = as_float32(rng.uniform(-5, 5, (k, 1))), as_float32(rng.normal(size=(k, 1)))
    got = student.probe("square_error_loss_linear", kernel=kernel.tolist(), bias=bias.tolist(),
                        x=x.tolist(), y=y.tolist())
    residual = x @ kernel + bias - y
    want = {"value": np.mean(residual ** 2), "jit_value": np.mean(residual ** 2),
            "grad_kernel": [[2 * np.mean(residual * x)]], "grad_bias": [2 * np.mean(residual)]}
    pairs = (x @ kernel + bias).reshape(k) - y  # (K,) minus (K, 1): every prediction-target pair
    value_mistakes = {
        "the sum over the K points, not the mean": np.sum(residual ** 2),
        "the mean over all K x K pairs of prediction and target: a (K,) prediction minus a (K, 1) "
        "target broadcasts to (K, K)": np.mean(pairs ** 2),
        "the square of the mean error, mean(e) ** 2, not the mean of the squares":
            np.mean(residual) ** 2,
        "half the mean squared error (optax.l2_loss has a factor of 1/2)":
            0.5 * np.mean(residual ** 2),
        "the root of the mean squared error, not the mean squared error":
            np.sqrt(np.mean(residual ** 2)),
        "the mean absolute error, mean(|e|), not the mean of the squared errors":
            np.mean(np.abs(residual)),
        "the variance of the errors (jnp.var subtracts their mean), not the mean of their squares":
            np.var(residual),
        **{f"the sum of squared errors divided by {n} instead of the number of points K = {k}":
           np.sum(residual ** 2) / n for n in (1, 5, 10, 20, 25, 40, 50, 100) if n not in (1, k)},
    }
    grad_mistakes = {
        "the gradient of the sum over the K points, not of the mean": (
            [[2 * np.sum(residual * x)]], [2 * np.sum(residual)]),
        "the gradient of half the mean squared error (optax.l2_loss has a factor of 1/2)": (
            [[np.mean(residual * x)]], [np.mean(residual)]),
        "the gradient of the mean absolute error, not of the mean squared error": (
            [[np.mean(np.sign(residual) * x)]], [np.mean(np.sign(residual))]),
    }
    mistakes = {"value": value_mistakes, "jit_value": value_mistakes,
                "grad_kernel": {m: v[0] for m, v in grad_mistakes.items()},
                "grad_bias": {m: v[1] for m, v in grad_mistakes.items()}}
    return got, want, mistakes


@case(points=0.75, feedback="The loss must be mean((model.apply(params, x) - y) ** 2) over the K "
      "points, for the model it is given, with predictions and targets both of shape (K, 1).")
def test_value_on_linear_model(student, compare):
    """On y_hat = w x + b the loss equals the mean squared residual, for K = 10 and K = 3."""
    for k, seed in ((10, 0), (3, 1)):
        got, want, mistakes = linear_case(student, k, seed)
        for key in ("value", "jit_value"):
            compare(got[key], want[key], RTOL, ATOL, what=key, mistakes=mistakes[key])


@case(points=0.75, feedback="The gradient of the loss of a linear model must be 2/K * sum of "
      "residual * x for the weight, and 2/K * sum of residuals for the bias.")
def test_gradient_on_linear_model(student, compare):
    """jax.grad of the loss matches 2/K X^T r, for K = 10."""
    got, want, mistakes = linear_case(student, 10, 0)
    for key in ("grad_kernel", "grad_bias"):
        compare(got[key], want[key], RTOL, ATOL, what=key, mistakes=mistakes[key])


@case(points=0.5, feedback="The loss of the sinusoid network on stored tasks differs from the "
                           "reference values.")
def test_reference_network_losses(student, reference_values):
    """On the reference network and 25 stored tasks, the losses match the stored values."""
    x_train, y_train, _, _ = reference_runs.sinusoid_batch(reference_runs.CONFIG.seed)
    got = student.probe("square_error_loss_reference", layers=reference_runs.initial_layers(),
                        xs=x_train, ys=y_train)
    reference_values.check(got)
