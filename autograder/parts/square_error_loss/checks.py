"""`square_error_loss(model)`: the mean over K points of the squared error."""

import numpy as np

from autograder.parts import reference_runs
from autograder.parts.checking import case
from autograder.parts.closed_forms import as_float32

# float32 sums of <= 10 squared errors of size ~10: relative error below 1e-6.
# Measured (benchmarks/tolerance_margins.py): correct code on AVX-512, AVX2, SSE4.2 and one
# thread is within 0.00069 of this tolerance; the nearest wrong implementation is at
# 406 (loss_broadcasts_k_by_k).
RTOL, ATOL = 1e-4, 1e-5


def linear_case(student, k, seed):
    rng = np.random.default_rng(seed)
    kernel, bias = as_float32(rng.normal(size=(1, 1))), as_float32(rng.normal(size=(1,)))
    x, y = as_float32(rng.uniform(-5, 5, (k, 1))), as_float32(rng.normal(size=(k, 1)))
    got = student.probe("square_error_loss_linear", kernel=kernel.tolist(), bias=bias.tolist(),
                        x=x.tolist(), y=y.tolist())
    residual = x @ kernel + bias - y
    want = {"value": np.mean(residual ** 2), "jit_value": np.mean(residual ** 2),
            "grad_kernel": [[2 * np.mean(residual * x)]], "grad_bias": [2 * np.mean(residual)]}
    return got, want


@case(points=0.75, feedback="The loss of a linear model is not mean((model.apply(params, x) - y) ** 2) "
      "over the K points: check that you average (not sum), square the error, use the model "
      "you are given, and keep the shapes (K, 1) aligned.")
def test_value_on_linear_model(student, compare):
    """On y_hat = w x + b the loss equals the mean squared residual, for K = 10 and K = 3."""
    for k, seed in ((10, 0), (3, 1)):
        got, want = linear_case(student, k, seed)
        for key in ("value", "jit_value"):
            compare(got[key], want[key], RTOL, ATOL, what=key)


@case(points=0.75, feedback="The gradient of your loss is wrong for a linear model "
      "(it should be 2/K * sum of residual * x for the weight).")
def test_gradient_on_linear_model(student, compare):
    """jax.grad of the loss matches 2/K X^T r, for K = 10."""
    got, want = linear_case(student, 10, 0)
    for key in ("grad_kernel", "grad_bias"):
        compare(got[key], want[key], RTOL, ATOL, what=key)


@case(points=0.5, feedback="The loss of the sinusoid network on stored tasks differs from the "
                           "reference values.")
def test_reference_network_losses(student, reference_values):
    """On the reference network and 25 stored tasks, the losses match the stored values."""
    x_train, y_train, _, _ = reference_runs.sinusoid_batch(reference_runs.CONFIG.seed)
    got = student.probe("square_error_loss_reference", layers=reference_runs.initial_layers(),
                        xs=x_train, ys=y_train)
    reference_values.check(got)
