"""Probes of `inner_step_objective` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax
import jax.numpy as jnp

from inside_sandbox.probing import floats, probe, scalar, student


def _scalar_function(spec):
    if "poly" in spec:
        coeffs = floats(spec["poly"])
        return lambda x: jnp.polyval(coeffs, x)
    amplitude, frequency = spec["sin"]
    return lambda x: amplitude * jnp.sin(frequency * x)


@probe
def inner_step_objective(namespace, g, alpha, xs):
    h = student(namespace, "inner_step_objective")(_scalar_function(g), alpha)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(lambda x: scalar(h(x)))))(floats(xs))
    return {"values": values, "grads": grads}
