"""Probes of `square_error_loss` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
from flax import linen as nn

from inside_sandbox.probing import FixtureMLP, fixture_layers, float64, floats, probe, scalar, student


@probe
def square_error_loss_linear(namespace, kernel, bias, x, y):
    loss = student(namespace, "square_error_loss")(nn.Dense(1))
    params = {"params": {"kernel": floats(kernel), "bias": floats(bias)}}
    value, grads = jax.jit(jax.value_and_grad(lambda p: scalar(loss(p, floats(x), floats(y)))))(params)
    jitted = jax.jit(loss)(params, floats(x), floats(y))
    return {"value": value, "jit_value": jitted,
            "grad_kernel": grads["params"]["kernel"], "grad_bias": grads["params"]["bias"]}


@probe
@float64
def square_error_loss_reference(namespace, layers, xs, ys):
    loss = jax.jit(student(namespace, "square_error_loss")(FixtureMLP()))
    params = fixture_layers(layers)
    return [scalar(loss(params, floats(x), floats(y))) for x, y in zip(xs, ys)]
