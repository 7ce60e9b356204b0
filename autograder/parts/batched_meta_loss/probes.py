"""Probes of `batched_meta_loss` (run in the sandboxed child; see `inside_sandbox.probing`)."""

import jax

from inside_sandbox.probing import (build_tree, fixture_layers, fixture_mse, float64, floats, probe,
                                    quadratic_loss, student, substitute, trusted,
                                    value_and_meta_grad)


def _value_and_grad(namespace, loss, params, batch, alpha, steps, first_order, jit=False,
                    tree_spec=None):
    with trusted(namespace, adapt=substitute("trusted_adapt"),
                 adaptation_loss=substitute("trusted_adaptation_loss")):
        fn = student(namespace, "batched_meta_loss")(loss, alpha, steps, first_order)
        fn = jax.jit(fn) if jit else fn
        return value_and_meta_grad(fn, params, [floats(a) for a in batch], tree_spec)


@probe
def batched_meta_loss_quadratic(namespace, problem, v0, batch, alpha, steps, first_order, jit=False):
    return _value_and_grad(namespace, quadratic_loss(problem), build_tree(problem["tree"], v0),
                           batch, alpha, steps, first_order, jit, problem["tree"])


@probe
@float64
def batched_meta_loss_reference(namespace, layers, batch, alpha, steps, first_order):
    return _value_and_grad(namespace, fixture_mse, fixture_layers(layers), batch, alpha, steps,
                           first_order)
